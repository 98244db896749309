// What create and delete need of the image store (src/image/mount.ts): handed in
// by the commands, so that container/ never loads image/ (test/unit/imports.test.ts)
// and the image code (layers, tar, crypto, zlib) loads only for specs that use it.
import type { ImageRoot } from '../spec/types';
import type { ContainerRecord } from './store';

export type ImageMount = NonNullable<ContainerRecord['imageMount']>;

export interface ImagePort {
  /** What is wrong with the spec's image, before anything is made. */
  problems(root: string, bundle: string, image: ImageRoot | undefined): string[];
  /** The overlay rootfs, under the state dir. */
  mount(root: string, stateDir: string, bundle: string, rootfs: string, image: ImageRoot): ImageMount;
  /** The part of a recorded mount the kernel confirms (state.json is not trusted). */
  proven(stateDir: string, m: ImageMount): { mount: ImageMount; doubts: string[] };
  unmount(m: ImageMount, failedCreate: boolean): void;
}
