// `toyrun import ARCHIVE DIR`: turn a saved image into a runnable bundle.
// Understood formats: docker-archive (`podman save`, `docker save`: manifest.json
// naming a config and layer tars) and the OCI image layout (index.json, blobs/),
// as a directory or as a tar (oci-archive). The bundle gets:
//   DIR/layers/<sha256>.tar[.gz]  each layer blob once, moved or hardlinked (never copied twice)
//   DIR/config.json               a spec from the image config, with "org.toyrun.image"
// Layers are unpacked into the layer store by the first `create`, not here.
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { isGzip, LayerError, sha256File, tarLib, unpackLayer } from './layers';
import { defaultSpec } from '../spec/default';
import type { Spec, User } from '../spec/types';

/** The parts of an image config (OCI image-spec "config" object) that make a bundle. */
export interface ImageConfig {
  config?: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
    StopSignal?: string;
  };
}

interface SavedImage {
  config: ImageConfig;
  /** Layer blobs, bottom first, as files in the unpacked archive or layout. */
  layers: { file: string; digest?: string }[];
  name?: string;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new LayerError(`${what} ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** A path named by the archive itself must stay inside it. */
function inside(base: string, rel: string, what: string): string {
  const p = resolve(base, rel);
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    throw new LayerError(`${what} ${rel}: not found in the archive`);
  }
  const r = relative(realpathSync(base), real);
  if (r === '..' || r.startsWith('../') || isAbsolute(r)) throw new LayerError(`${what} ${rel}: points outside the archive`);
  return real;
}

// ---- docker-archive ------------------------------------------------------------------------

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function readDockerArchive(dir: string, ref: string | undefined): SavedImage {
  const manifest = readJson<DockerManifestEntry[]>(join(dir, 'manifest.json'), 'docker-archive manifest');
  if (!Array.isArray(manifest) || manifest.length === 0) throw new LayerError('docker-archive manifest.json lists no image');
  const entry = ref ? manifest.find((m) => (m.RepoTags ?? []).includes(ref)) : manifest[0];
  if (!entry) throw new LayerError(`no image tagged ${ref} in the archive (tags: ${manifest.flatMap((m) => m.RepoTags ?? []).join(', ')})`);
  if (!ref && manifest.length > 1) throw new LayerError(`the archive holds ${manifest.length} images: choose one with --image TAG`);
  return {
    config: readJson<ImageConfig>(inside(dir, entry.Config, 'image config'), 'image config'),
    layers: entry.Layers.map((l) => ({ file: inside(dir, l, 'layer') })),
    name: entry.RepoTags?.[0],
  };
}

// ---- OCI image layout --------------------------------------------------------------------------

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
}
interface OciIndex {
  manifests?: Descriptor[];
}
interface OciManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  manifests?: Descriptor[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';

function blobPath(dir: string, digest: string): string {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m) throw new LayerError(`unsupported digest ${JSON.stringify(digest)}`);
  return inside(dir, join('blobs', m[1] as string, m[2] as string), 'blob');
}

/** A blob whose bytes don't match its digest is corrupt (or tampered with). */
function verifiedBlob(dir: string, digest: string): string {
  const file = blobPath(dir, digest);
  if (digest.startsWith('sha256:') && sha256File(file) !== digest.slice(7)) throw new LayerError(`blob ${digest}: content does not match its digest`);
  return file;
}

function isIndex(d: Descriptor | OciManifest): boolean {
  return d.mediaType === 'application/vnd.oci.image.index.v1+json' || d.mediaType === 'application/vnd.docker.distribution.manifest.list.v2+json';
}

function pickManifest(dir: string, index: OciIndex, ref: string | undefined): Descriptor {
  const all = index.manifests ?? [];
  if (all.length === 0) throw new LayerError('index.json lists no manifest');
  if (ref) {
    const hit = all.find((d) => d.annotations?.[REF_NAME] === ref || d.annotations?.['io.containerd.image.name'] === ref);
    if (!hit) throw new LayerError(`no image named ${ref} in the layout`);
    return hit;
  }
  const here = all.filter((d) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === 'amd64'));
  if (here.length === 0) throw new LayerError('no linux/amd64 image in the layout');
  if (here.length > 1 && !here.every((d) => d.digest === here[0]?.digest)) {
    throw new LayerError(`the layout holds ${here.length} images: choose one with --image NAME`);
  }
  const d = here[0] as Descriptor;
  return isIndex(d) ? pickManifest(dir, readJson<OciIndex>(verifiedBlob(dir, d.digest), 'image index'), undefined) : d;
}

function readOciLayout(dir: string, ref: string | undefined): SavedImage {
  const desc = pickManifest(dir, readJson<OciIndex>(join(dir, 'index.json'), 'OCI index'), ref);
  const manifest = readJson<OciManifest>(verifiedBlob(dir, desc.digest), 'image manifest');
  if (isIndex(manifest)) return readOciLayout(dir, undefined);
  for (const l of manifest.layers) {
    if (/zstd/.test(l.mediaType ?? '')) throw new LayerError(`layer ${l.digest}: zstd layers are not supported (gzip or plain tar only)`);
  }
  return {
    config: readJson<ImageConfig>(verifiedBlob(dir, manifest.config.digest), 'image config'),
    layers: manifest.layers.map((l) => ({ file: verifiedBlob(dir, l.digest), digest: l.digest })),
    name: desc.annotations?.[REF_NAME],
  };
}

function readSavedImage(dir: string, ref: string | undefined): SavedImage {
  if (existsSync(join(dir, 'index.json')) && existsSync(join(dir, 'oci-layout'))) return readOciLayout(dir, ref);
  if (existsSync(join(dir, 'manifest.json'))) return readDockerArchive(dir, ref);
  throw new LayerError('not an image archive: neither an OCI layout (oci-layout, index.json) nor a docker-archive (manifest.json)');
}

// ---- image config -> spec ----------------------------------------------------------------------

/** The last version of a file across layers (top layer wins), read without unpacking. */
export function fileFromLayers(layers: string[], path: string): string | undefined {
  for (const layer of [...layers].reverse()) {
    let found: string | undefined;
    tarLib().t({
      file: layer,
      sync: true,
      filter: (p) => p.replace(/^(\.\/)+/, '') === path,
      onReadEntry: (e) => {
        const chunks: Buffer[] = [];
        e.on('data', (c: Buffer) => chunks.push(c));
        e.on('end', () => {
          found = Buffer.concat(chunks).toString('utf8');
        });
      },
    });
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The fields of the line of an /etc/passwd or /etc/group naming `key` (name, or numeric id). */
function dbEntry(db: string | undefined, key: string): string[] | undefined {
  const numeric = /^\d+$/.test(key);
  return (db ?? '').split('\n').map((l) => l.split(':')).find((f) => (numeric ? f[2] === key : f[0] === key) && /^\d+$/.test(f[2] ?? ''));
}

/** Image User ("", "uid", "uid:gid", "name", "name:group") to uid/gid; names are
 * looked up in the image's own /etc/passwd and /etc/group, as docker does. */
export function resolveUser(user: string | undefined, layers: string[]): User {
  if (!user) return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':');
  const pw = dbEntry(fileFromLayers(layers, 'etc/passwd'), u);
  if (!pw && !/^\d+$/.test(u)) throw new LayerError(`image User ${JSON.stringify(user)}: no user ${u} in the image's /etc/passwd`);
  const uid = pw ? Number(pw[2]) : Number(u);
  let gid = pw && /^\d+$/.test(pw[3] ?? '') ? Number(pw[3]) : 0;
  if (g !== undefined) {
    const gr = /^\d+$/.test(g) ? undefined : dbEntry(fileFromLayers(layers, 'etc/group'), g);
    if (!gr && !/^\d+$/.test(g)) throw new LayerError(`image User ${JSON.stringify(user)}: no group ${g} in the image's /etc/group`);
    gid = gr ? Number(gr[2]) : Number(g);
  }
  return { uid, gid };
}

/** config.json for an image: Entrypoint+Cmd, Env, WorkingDir, User, Labels
 * (as annotations). ExposedPorts has no meaning to a runtime and is ignored. */
export function specFromImage(image: ImageConfig, layerPaths: string[], user: User): Spec {
  const c = image.config ?? {};
  const args = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  const spec = defaultSpec(args.length > 0 ? args : ['sh']);
  const env = [...(c.Env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  const proc = spec.process as NonNullable<Spec['process']>;
  proc.env = env;
  proc.cwd = c.WorkingDir || '/';
  proc.user = user;
  spec.root = { path: 'rootfs', readonly: false };
  if (c.Labels && Object.keys(c.Labels).length > 0) spec.annotations = { ...c.Labels };
  const { ociVersion, ...restOfSpec } = spec;
  return { ociVersion, 'org.toyrun.image': { layers: layerPaths }, ...restOfSpec };
}

// ---- the command ------------------------------------------------------------------------------

/** Move (or hardlink) a layer blob into DIR/layers, named by its digest. */
function placeLayer(file: string, dir: string, owned: boolean): string {
  const hex = sha256File(file);
  const rel = join('layers', `${hex}${isGzip(file) ? '.tar.gz' : '.tar'}`);
  const dest = join(dir, rel);
  if (existsSync(dest)) return rel; // a layer shared by two images of the bundle dir
  if (owned) {
    renameSync(file, dest);
  } else {
    try {
      linkSync(file, dest);
    } catch {
      copyFileSync(file, dest); // another filesystem: the one copy there is
    }
  }
  return rel;
}

export function importImage(archive: string, dir: string, ref?: string): Spec {
  if (!existsSync(archive)) throw new LayerError(`${archive}: no such file or directory`);
  const createdDir = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  if (existsSync(join(dir, 'config.json'))) throw new LayerError(`${join(dir, 'config.json')} exists: import into a new directory`);
  const layersDir = join(dir, 'layers');
  const createdLayersDir = !existsSync(layersDir);
  const placed: string[] = [];
  let staging: string | undefined;
  try {
    let source = archive;
    if (!statSync(archive).isDirectory()) {
      // Unpacked inside DIR, so that layer blobs move into place by rename.
      staging = mkdtempSync(join(dir, '.import-'));
      try {
        unpackLayer(archive, staging);
      } catch (e) {
        if (e instanceof LayerError) throw new LayerError(`${archive}: ${e.detail}`, { cause: e });
        throw e;
      }
      source = staging;
    }
    const image = readSavedImage(source, ref);
    mkdirSync(layersDir, { recursive: true });
    const files = image.layers.map((l) => l.file);
    // the user lookup reads the blobs where they are, before they move
    const user = resolveUser(image.config.config?.User, files);
    const done = new Map<string, string>(); // one blob may be listed several times (empty layers)
    const paths = image.layers.map((l) => {
      let rel = done.get(l.file);
      if (rel === undefined) {
        rel = placeLayer(l.file, dir, staging !== undefined);
        placed.push(join(dir, rel));
        done.set(l.file, rel);
      }
      return rel;
    });
    const spec = specFromImage(image.config, paths, user);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2) + '\n');
    return spec;
  } catch (e) {
    for (const p of placed) rmSync(p, { force: true });
    if (createdLayersDir) rmSync(layersDir, { recursive: true, force: true });
    if (createdDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    if (staging) rmSync(staging, { recursive: true, force: true });
  }
}
