// The layer store: each image layer archive (tar, plain or gzip) is unpacked
// once, into a directory named by the sha256 of the archive's bytes, and that
// directory is shared read-only by every container stacked on it (overlayfs
// never writes to a lower layer). Layout, under the runtime root:
//
//   <root>/.layers/sha256/<hex>/   unpacked layers (overlayfs lower directories)
//   <root>/.layers/tmp/            unpacks in progress; renamed into sha256/ when complete
//   <root>/.layers/locks/<hex>     flock: one unpack of a digest at a time
//   <root>/.layers/digests/<key>   archive (dev, inode, size, mtime, ctime) -> digest
//   <root>/.layers/store.lock      flock: shared by creates, exclusive for prune
//
// An archive is untrusted input: an entry that would land outside the layer
// (absolute path, "..", a symlink or hardlink leading out, a write through a
// symlink) or create a device node fails the whole layer, and the half-unpacked
// directory is removed: only complete, checked layers ever appear in sha256/.
import type * as Crypto from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join, posix } from 'node:path';
import type * as Zlib from 'node:zlib';
import type * as Tar from 'tar';
import * as libc from '../linux/libc';
import { AT_FDCWD, LOCK_EX, LOCK_SH, O } from '../linux/libc';
import { makeWhiteout, markOpaque, overlayMounts } from '../linux/overlay';
import { listIds, loadRecord } from '../container/store';
import { logDebug } from '../log';
import { normalJitPolicy } from '../linux/engine';

/** The image code's one error: a layer archive or image archive refused, or not
 * unpacked (import too). `detail` is the message without the "layer ARCHIVE: "
 * context, for a caller that names the archive its own way. */
export class LayerError extends Error {
  readonly detail: string;
  constructor(message: string, options?: ErrorOptions & { detail?: string }) {
    super(message, options);
    this.detail = options?.detail ?? message;
  }
}

/** node-tar, loaded on first use: in bin/toyrun it is precompiled with the rest
 * and evaluated only here; the Node bundles leave it in node_modules. */
export function tarLib(): typeof Tar {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('tar') as typeof Tar;
}

export function layerStoreDir(root: string): string {
  return join(root, '.layers');
}

export interface LayerStore {
  dir: string;
}

export function openStore(root: string): LayerStore {
  const dir = layerStoreDir(root);
  for (const sub of ['sha256', 'tmp', 'locks', 'digests']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  return { dir };
}

export function layerDir(store: LayerStore, hex: string): string {
  return join(store.dir, 'sha256', hex);
}

/** flock a file under the store; the returned function releases it. */
function lockFile(path: string, op: number): (() => void) | undefined {
  const fd = libc.openat(AT_FDCWD, path, O.RDWR | O.CREAT | O.CLOEXEC, 0o600);
  if (!libc.flock(fd, op)) {
    libc.close(fd);
    return undefined;
  }
  return () => libc.close(fd);
}

/** Shared by creates (layers in use must stay), exclusive for prune. */
export function lockStore(store: LayerStore, exclusive: boolean): () => void {
  return lockFile(join(store.dir, 'store.lock'), exclusive ? LOCK_EX : LOCK_SH) as () => void;
}

// ---- what an archive may contain ---------------------------------------------------

/** An entry path as a clean relative path ('' for the layer root), or a reason to refuse it. */
export function entryPath(raw: string): { path: string } | { problem: string } {
  if (raw.includes('\0')) return { problem: 'NUL byte in path' };
  if (raw.startsWith('/')) return { problem: 'absolute path' };
  const parts = raw.split('/');
  if (parts.includes('..')) return { problem: 'path contains ".."' };
  return { path: parts.filter((p) => p !== '' && p !== '.').join('/') };
}

/** Does a symlink at `path` (relative to the layer root) pointing at `target`
 * lead out of the layer? Absolute targets are resolved against the container's
 * root by the kernel at run time, so only relative ones can climb out. */
export function symlinkEscapes(path: string, target: string): boolean {
  if (target.startsWith('/')) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  return resolved === '..' || resolved.startsWith('../');
}

/** OCI whiteout names: `.wh..wh..opq` makes its directory opaque, `.wh.NAME` deletes NAME. */
export type Whiteout = { kind: 'opaque'; dir: string } | { kind: 'whiteout'; path: string } | { kind: 'meta' };

export function whiteoutOf(path: string): Whiteout | undefined {
  const base = posix.basename(path);
  if (!base.startsWith('.wh.')) return undefined;
  const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
  if (base === '.wh..wh..opq') return { kind: 'opaque', dir };
  if (base.startsWith('.wh..wh.')) return { kind: 'meta' }; // aufs bookkeeping (.wh..wh.plnk, ...): no meaning here
  const name = base.slice(4);
  if (name === '' || name === '.' || name === '..') return undefined;
  return { kind: 'whiteout', path: dir ? `${dir}/${name}` : name };
}

type Entry = Pick<Tar.ReadEntry, 'path' | 'type' | 'linkpath' | 'mode'> & { size?: number; header: { devmaj?: number; devmin?: number } };

/** Default bound on what one layer may unpack to (tar headers and data). A small
 * gzip can inflate a thousandfold: without a bound one archive fills the store's disk. */
export const DEFAULT_MAX_LAYER_BYTES = 16 * 1024 ** 3;
export const MAX_LAYER_ENV = 'TOYRUN_MAX_LAYER_SIZE';

/** The uncompressed-size bound: $TOYRUN_MAX_LAYER_SIZE (bytes, or with a K/M/G/T
 * suffix, powers of 1024), else the default. */
export function maxLayerBytes(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[MAX_LAYER_ENV];
  if (text === undefined || text === '') return DEFAULT_MAX_LAYER_BYTES;
  const m = /^(\d+)([kmgt]?)i?b?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new LayerError(`${MAX_LAYER_ENV}=${JSON.stringify(text)}: expected a size in bytes such as 17179869184 or 16G`);
  return n;
}

/** Checks each entry before node-tar writes it, and collects what node-tar can't
 * create itself (whiteouts, opaque dirs, FIFOs) or gets wrong (directory modes). */
export class LayerPlan {
  private readonly symlinks = new Set<string>();
  readonly whiteouts: string[] = [];
  readonly opaques: string[] = [];
  readonly fifos: { path: string; mode: number }[] = [];
  readonly dirModes = new Map<string, number>();
  /** Bytes of the uncompressed archive seen so far (512-byte headers and padded data). */
  private unpackedBytes = 0;

  constructor(private readonly maxBytes = DEFAULT_MAX_LAYER_BYTES) {}

  private refuse(raw: string, why: string): never {
    throw new LayerError(`entry ${JSON.stringify(raw)}: ${why}`);
  }

  /** Refuse a path one of whose parents is a symlink of this archive: writing
   * there would follow it, possibly out of the layer. */
  private throughSymlink(raw: string, path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.symlinks.has(prefix)) this.refuse(raw, `would be written through the symlink ${prefix}`);
    }
  }

  /** true: let node-tar write the entry; false: handled here. Throws to refuse the layer. */
  accept(entry: Entry): boolean {
    const raw = entry.path;
    // checked at the header, before the data is written: nothing over the bound reaches the disk
    this.unpackedBytes += 512 + Math.ceil(Math.max(0, entry.size ?? 0) / 512) * 512;
    if (this.unpackedBytes > this.maxBytes) {
      this.refuse(raw, `the layer unpacks to more than ${this.maxBytes} bytes (the limit; set ${MAX_LAYER_ENV} to change it)`);
    }
    const p = entryPath(raw);
    if ('problem' in p) this.refuse(raw, p.problem);
    const path = p.path;
    this.throughSymlink(raw, path);
    const wh = whiteoutOf(path);
    if (wh) {
      if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') this.refuse(raw, 'a whiteout must be a regular file');
      if (wh.kind === 'opaque') this.opaques.push(wh.dir);
      else if (wh.kind === 'whiteout') this.whiteouts.push(wh.path);
      return false;
    }
    switch (entry.type) {
      case 'Directory':
      case 'GNUDumpDir':
        this.symlinks.delete(path);
        this.dirModes.set(path, (entry.mode ?? 0o755) & 0o7777);
        return true;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        if (path === '') this.refuse(raw, 'the layer root must be a directory');
        this.symlinks.delete(path);
        return true;
      case 'SymbolicLink': {
        const target = entry.linkpath ?? '';
        if (path === '') this.refuse(raw, 'the layer root must be a directory');
        if (target.includes('\0')) this.refuse(raw, 'NUL byte in symlink target');
        if (symlinkEscapes(path, target)) this.refuse(raw, `symlink to ${JSON.stringify(target)} leads out of the layer`);
        this.symlinks.add(path);
        return true;
      }
      case 'Link': {
        const target = entryPath(entry.linkpath ?? '');
        if ('problem' in target || target.path === '') {
          this.refuse(raw, `hardlink to ${JSON.stringify(entry.linkpath)} leads out of the layer`);
        }
        this.throughSymlink(raw, target.path);
        if (this.symlinks.has(target.path)) this.symlinks.add(path); // link(2) copies the symlink itself
        else this.symlinks.delete(path);
        return true;
      }
      case 'CharacterDevice':
        // overlayfs' own whiteout format, as some tools write it
        if (entry.header.devmaj === 0 && entry.header.devmin === 0 && path !== '') {
          this.whiteouts.push(path);
          return false;
        }
        return this.refuse(raw, `device node ${entry.header.devmaj}:${entry.header.devmin} (only 0:0 whiteouts are allowed)`);
      case 'BlockDevice':
        return this.refuse(raw, `block device ${entry.header.devmaj}:${entry.header.devmin}`);
      case 'FIFO':
        this.fifos.push({ path, mode: (entry.mode ?? 0o644) & 0o7777 });
        return false;
      default:
        return this.refuse(raw, `unsupported entry type ${entry.type}`);
    }
  }

  /** Create what node-tar skipped. Every path is checked again for symlinked
   * parents: a later entry may have turned a directory into a symlink. */
  finish(dest: string): void {
    for (const path of this.whiteouts) {
      const host = hostPath(dest, path, true);
      // A whiteout hides lower layers only: an entry of the same name in this
      // very layer stays, and hides the lower one by itself.
      if (lexists(host)) continue;
      makeWhiteout(host);
    }
    for (const dir of this.opaques) {
      const host = hostPath(dest, dir, true);
      if (!existsSync(host)) mkdirSync(host, { mode: 0o755 });
      if (!lstatSync(host).isDirectory()) throw new LayerError(`entry ${JSON.stringify(`${dir}/.wh..wh..opq`)}: ${dir} is not a directory`);
      markOpaque(host);
    }
    for (const { path, mode } of this.fifos) {
      const host = hostPath(dest, path, true);
      rmSync(host, { recursive: true, force: true });
      libc.mkfifo(host, mode);
      chmodSync(host, mode);
    }
    // node-tar adds u+rwx to every directory; put the archive's modes back.
    for (const [path, mode] of this.dirModes) {
      const host = hostPath(dest, path, false);
      if (lstatSync(host).isDirectory() && (lstatSync(host).mode & 0o7777) !== mode) chmodSync(host, mode);
    }
  }
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** dest/path with no symlink among its parents (parents created if asked). */
function hostPath(dest: string, path: string, createParents: boolean): string {
  const parts = path === '' ? [] : path.split('/');
  let cur = dest;
  for (let i = 0; i < parts.length - 1; i++) {
    cur = join(cur, parts[i] as string);
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      if (!createParents) throw new LayerError(`${path}: parent ${cur} is missing`);
      mkdirSync(cur, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory()) throw new LayerError(`entry ${JSON.stringify(path)}: parent ${parts.slice(0, i + 1).join('/')} is not a directory`);
  }
  return parts.length === 0 ? dest : join(cur, parts[parts.length - 1] as string);
}

/** Does the file start with gzip's magic bytes? */
export function isGzip(archive: string): boolean {
  const fd = openSync(archive, 'r');
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** An archive of nothing but end-of-archive blocks (docker's "empty layer", plain
 * or gzip): node-tar calls it unrecognised, but it is a valid, empty layer. */
function isEmptyArchive(archive: string): boolean {
  if (statSync(archive).size > 1 << 16) return false;
  let data = readFileSync(archive);
  if (data[0] === 0x1f && data[1] === 0x8b) {
    try {
      // loaded only to unpack; an empty layer inflates to a few blocks, never megabytes
      data = (require('node:zlib') as typeof Zlib).gunzipSync(data, { maxOutputLength: 1 << 20 });
    } catch {
      return false;
    }
  }
  return data.length % 512 === 0 && data.every((b) => b === 0);
}

/** Above this RSS, unpacking a gzip layer collects garbage as it goes (the bound is 200 MiB). */
const MEMORY_HIGH = 64 * 1024 * 1024;

function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(full: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

/** Unpack one layer archive into an empty directory, refusing hostile entries. */
export function unpackLayer(archive: string, dest: string, maxBytes = maxLayerBytes()): void {
  normalJitPolicy(); // megabytes through the tar parser: worth compiling
  const plan = new LayerPlan(maxBytes);
  const gzip = isGzip(archive);
  try {
    const unpack = new (tarLib().UnpackSync)({
      cwd: dest,
      strict: true,
      preserveOwner: true,
      // exact modes from the archive (setuid bits, 1777 dirs): no umask
      chmod: true,
      processUmask: 0,
      filter: (_path, entry) => plan.accept(entry as Tar.ReadEntry),
    });
    // Bounded memory: deflate reaches ~1000:1 and the parser inflates each write in
    // one go, so the archive goes in by 4 KiB (at most ~4 MiB out) for gzip; a whole
    // read of a gzip layer held the uncompressed layer in memory (1 GiB of zeros:
    // 1.1 GB RSS). What each write leaves behind is garbage the engine collects at
    // its leisure — too late on a busy host: past MEMORY_HIGH, collect now.
    const buf = Buffer.allocUnsafe(gzip ? 4096 : 1 << 20);
    const fd = openSync(archive, 'r');
    try {
      for (let n = 0; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
        unpack.write(buf.subarray(0, n));
        // 4 KiB of gzip inflates to up to ~4 MiB: looked at after every write
        if (gzip && process.memoryUsage.rss() > MEMORY_HIGH) collectGarbage();
      }
    } finally {
      closeSync(fd);
    }
    unpack.end();
  } catch (e) {
    if (e instanceof LayerError) throw new LayerError(`layer ${archive}: ${e.message}`, { cause: e, detail: e.message });
    if (!isEmptyArchive(archive)) throw new LayerError(`layer ${archive}: cannot unpack: ${(e as Error).message}`, { cause: e, detail: `cannot unpack: ${(e as Error).message}` });
  }
  try {
    plan.finish(dest);
  } catch (e) {
    throw new LayerError(`layer ${archive}: ${(e as Error).message}`, { cause: e, detail: (e as Error).message });
  }
}

// ---- digests ------------------------------------------------------------------------

export function sha256File(path: string): string {
  // loaded only to hash: a create from an already-unpacked layer never needs it
  const hash = (require('node:crypto') as typeof Crypto).createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The file's identity: any rewrite changes ctime, which no one can set back. */
function statKey(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.dev}-${st.ino}-${st.size}-${st.mtimeNs}-${st.ctimeNs}`;
}

/** sha256 of an archive; remembered per (dev, inode, size, times) so that a
 * container created from an already-unpacked layer doesn't hash it again. */
export function archiveDigest(store: LayerStore, archive: string): string {
  const key = statKey(archive);
  const cached = join(store.dir, 'digests', key);
  try {
    const hex = readFileSync(cached, 'utf8');
    if (/^[0-9a-f]{64}$/.test(hex)) return hex;
  } catch {
    // not hashed yet
  }
  const hex = sha256File(archive);
  if (statKey(archive) === key) writeFileSync(cached, hex);
  return hex;
}

export interface EnsuredLayer {
  digest: string;
  dir: string;
  /** This call did the unpacking. */
  unpacked: boolean;
}

/** The unpacked directory of an archive, unpacking it if needed. Concurrent
 * callers of the same digest serialise on its lock: one unpacks, the others
 * find the finished directory. Call with the store lock held (shared). */
export function ensureLayer(store: LayerStore, archive: string): EnsuredLayer {
  const hex = archiveDigest(store, archive);
  const dir = layerDir(store, hex);
  const result = { digest: `sha256:${hex}`, dir, unpacked: false };
  if (existsSync(dir)) return result;
  const unlock = lockFile(join(store.dir, 'locks', hex), LOCK_EX) as () => void;
  try {
    if (existsSync(dir)) return result;
    const before = statKey(archive);
    const tmp = join(store.dir, 'tmp', `${hex}.${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { mode: 0o755 });
    try {
      unpackLayer(archive, tmp);
      if (statKey(archive) !== before) throw new LayerError(`layer ${archive}: changed while it was unpacked`);
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    logDebug(`unpacked layer sha256:${hex} from ${archive}`);
    result.unpacked = true;
    return result;
  } finally {
    unlock();
  }
}

// ---- listing and pruning ------------------------------------------------------------------

export interface LayerInfo {
  digest: string;
  dir: string;
  users: string[];
}

/** Every stored layer and who uses it: containers whose state names it, and
 * overlay mounts stacked on it (a create between mount and state write). */
export function listLayers(root: string): LayerInfo[] {
  const store = openStore(root);
  const users = new Map<string, string[]>();
  const use = (hex: string, who: string): void => {
    users.set(hex, [...(users.get(hex) ?? []), who]);
  };
  for (const id of listIds(root)) {
    if (id.startsWith('.')) continue;
    try {
      for (const d of loadRecord(root, id).imageMount?.layers ?? []) use(d.replace(/^sha256:/, ''), `container ${id}`);
    } catch {
      // a container being deleted right now
    }
  }
  const prefix = join(store.dir, 'sha256') + '/';
  for (const m of overlayMounts()) {
    for (const lower of m.lowers) {
      if (lower.startsWith(prefix)) use(lower.slice(prefix.length), `mount ${m.target}`);
    }
  }
  return readdirSync(join(store.dir, 'sha256'))
    .sort()
    .map((hex) => ({ digest: `sha256:${hex}`, dir: layerDir(store, hex), users: [...new Set(users.get(hex) ?? [])] }));
}

/** Remove every layer no container uses, with leftovers of interrupted unpacks
 * and stale digest cache entries. Creates wait while this runs. */
export function pruneLayers(root: string): string[] {
  const store = openStore(root);
  const unlock = lockStore(store, true);
  const removed: string[] = [];
  try {
    for (const layer of listLayers(root)) {
      if (layer.users.length > 0) continue;
      const hex = layer.digest.slice('sha256:'.length);
      // rename first: a half-removed layer must never be visible under its digest
      const trash = join(store.dir, 'tmp', `prune-${hex}.${process.pid}`);
      renameSync(layer.dir, trash);
      rmSync(trash, { recursive: true, force: true });
      rmSync(join(store.dir, 'locks', hex), { force: true });
      removed.push(layer.digest);
    }
    // Nothing unpacks while we hold the store exclusively: tmp/ holds only leftovers.
    for (const name of readdirSync(join(store.dir, 'tmp'))) rmSync(join(store.dir, 'tmp', name), { recursive: true, force: true });
    const kept = new Set(readdirSync(join(store.dir, 'sha256')));
    for (const key of readdirSync(join(store.dir, 'digests'))) {
      let hex = '';
      try {
        hex = readFileSync(join(store.dir, 'digests', key), 'utf8');
      } catch {
        // raced away
      }
      if (!kept.has(hex)) rmSync(join(store.dir, 'digests', key), { force: true });
    }
  } finally {
    unlock();
  }
  return removed;
}
