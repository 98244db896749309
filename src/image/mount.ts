// The toyrun image extension ("org.toyrun.image" in config.json): the root
// filesystem is an overlayfs stack of image layers (tar archives unpacked once
// into the layer store, or plain directories) under a writable upper layer.
// The upper layer lives in the state dir and goes with the container, unless
// the bundle asks for a persistent one. The overlay is mounted on the host at
// <state>/rootfs before the init is spawned, so every container of a bundle
// gets its own merged root; the init then treats it as any other rootfs.
import { existsSync, mkdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ImageMount, ImagePort } from '../container/image-port';
import type { ImageRoot } from '../spec/types';
import { ensureLayer, LayerError, layerStoreDir, lockStore, openStore } from './layers';
import { badOverlayPath, mountOverlay, overlayMounts, unmountOverlay } from '../linux/overlay';

export type { ImageMount };

function upperPaths(bundle: string, image: ImageRoot): { upper: string; work: string } {
  const upper = resolve(bundle, image.upperDir ?? 'upper');
  // overlayfs needs workdir on upperdir's filesystem: a sibling is
  return { upper, work: `${upper}.work` };
}

/** What create can check before claiming anything (JSON paths as in config.json). */
export function imageProblems(root: string, bundle: string, image: ImageRoot | undefined): string[] {
  if (!image) return [];
  const problems: string[] = [];
  if (badOverlayPath(layerStoreDir(root))) problems.push(`/org.toyrun.image: the runtime root ${root} contains one of , : \\ (overlayfs option separators)`);
  image.layers.forEach((layer, i) => {
    const abs = resolve(bundle, layer);
    let st;
    try {
      st = statSync(abs);
    } catch {
      problems.push(`/org.toyrun.image/layers/${i}: ${abs} does not exist`);
      return;
    }
    if (st.isDirectory()) {
      if (badOverlayPath(abs)) problems.push(`/org.toyrun.image/layers/${i}: ${abs} contains one of , : \\ (overlayfs option separators)`);
    } else if (!st.isFile()) {
      problems.push(`/org.toyrun.image/layers/${i}: ${abs} is neither a directory nor a tar archive`);
    }
  });
  if (image.upperDir !== undefined && image.persistent !== true) {
    problems.push('/org.toyrun.image/upperDir: only meaningful with "persistent": true');
  }
  if (image.persistent) {
    const { upper } = upperPaths(bundle, image);
    if (badOverlayPath(upper)) problems.push(`/org.toyrun.image/upperDir: ${upper} contains one of , : \\ (overlayfs option separators)`);
    // Two overlays writing one upper dir corrupt each other (the kernel only warns).
    const user = overlayMounts().find((m) => m.upper === upper);
    if (user) problems.push(`/org.toyrun.image/upperDir: ${upper} is already the upper layer of the mount ${user.target}`);
  }
  return problems;
}

/** overlayfs refuses a directory twice in lowerdir (ELOOP), and images repeat
 * layers (docker's empty layers). Only the topmost copy of a layer can matter:
 * whatever the lower copy adds, removes or makes opaque, the upper one redoes
 * on top of everything in between. */
export function topmostOnly(bottomFirst: string[]): string[] {
  return bottomFirst.filter((dir, i) => bottomFirst.indexOf(dir, i + 1) < 0);
}

/** Resolve (unpacking if needed) every layer and mount the overlay at <dir>/rootfs. */
export function mountImage(root: string, dir: string, bundle: string, _target: string, image: ImageRoot): ImageMount {
  const store = openStore(root);
  // Shared store lock until the overlay is mounted: prune can't remove a layer
  // between our check and the mount that makes it visibly used.
  const unlockStore = lockStore(store, false);
  const undo: (() => void)[] = [];
  try {
    const lowers: string[] = [];
    const digests: string[] = [];
    image.layers.forEach((layer, i) => {
      const abs = resolve(bundle, layer);
      if (statSync(abs).isDirectory()) {
        lowers.push(abs);
        return;
      }
      try {
        const l = ensureLayer(store, abs);
        lowers.push(l.dir);
        digests.push(l.digest);
      } catch (e) {
        if (e instanceof LayerError) throw new LayerError(`/org.toyrun.image/layers/${i}: ${e.message}`, { cause: e });
        throw e;
      }
    });
    const persistent = image.persistent === true;
    const { upper, work } = persistent ? upperPaths(bundle, image) : { upper: join(dir, 'upper'), work: join(dir, 'work') };
    if (!existsSync(upper)) {
      mkdirSync(upper, { recursive: true, mode: 0o755 });
      undo.push(() => rmSync(upper, { recursive: true, force: true }));
    }
    // workdir must be empty at mount time; it holds nothing of value between mounts
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { mode: 0o700 });
    undo.push(() => rmSync(work, { recursive: true, force: true }));
    const target = join(dir, 'rootfs');
    mkdirSync(target, { mode: 0o755 });
    undo.push(() => rmSync(target, { recursive: true, force: true }));
    mountOverlay(target, topmostOnly(lowers), upper, work);
    return { target, upper, work, persistent, layers: [...new Set(digests)] };
  } catch (e) {
    for (const step of undo.reverse()) step();
    throw e;
  } finally {
    unlockStore();
  }
}

/** The part of a recorded image mount that delete may act on: the overlay at
 * <dir>/rootfs, throw-away layers inside <dir>, and a persistent upper's work dir
 * only if the kernel's own mount table names it as that overlay's workdir. A
 * forged state.json must not make delete unmount or remove anything else. */
export function provenImageMount(dir: string, m: ImageMount): { mount: ImageMount; doubts: string[] } {
  const doubts: string[] = [];
  const target = join(dir, 'rootfs');
  if (m.target !== target) doubts.push(`image root ${String(m.target)} is not ${target}`);
  const mounted = overlayMounts().find((o) => o.target === target);
  const proven: ImageMount = { target, upper: join(dir, 'upper'), work: join(dir, 'work'), persistent: m.persistent === true, layers: m.layers };
  if (proven.persistent) {
    // kept: never removed anyway; its work dir only when the mount says so
    proven.upper = String(m.upper);
    if (mounted && mounted.upper === m.upper && mounted.work === m.work && m.work === `${String(m.upper)}.work`) proven.work = m.work;
    else if (m.work !== proven.work) doubts.push(`work dir ${String(m.work)} is not the mounted overlay's`);
  } else {
    if (m.upper !== proven.upper) doubts.push(`upper dir ${String(m.upper)} is not ${proven.upper}`);
    if (m.work !== proven.work) doubts.push(`work dir ${String(m.work)} is not ${proven.work}`);
  }
  return { mount: proven, doubts };
}

/** Unmount the root and drop the throw-away layers (a persistent upper stays).
 * Called by delete, and by create when it fails after mounting. */
export function unmountImage(m: ImageMount, _failedCreate: boolean): void {
  unmountOverlay(m.target);
  // rmdir, never a recursive rm: if the unmount somehow didn't happen, the merged
  // tree (and through it the upper layer) must not be deleted file by file.
  try {
    rmdirSync(m.target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  rmSync(m.work, { recursive: true, force: true });
  if (!m.persistent) rmSync(m.upper, { recursive: true, force: true });
}

/** The image store as create and delete use it (src/container/image-port.ts). */
export const imagePort: ImagePort = { problems: imageProblems, mount: mountImage, proven: provenImageMount, unmount: unmountImage };
