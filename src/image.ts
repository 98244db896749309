// The toyrun image extension ("org.toyrun.image" in config.json): layers stacked
// with overlayfs under a throw-away upper layer (see issue: images and volumes).
import type { ContainerRecord } from './state';
import type { ImageRoot } from './spec/types';

export function mountImage(_root: string, _dir: string, _bundle: string, _target: string, _image: ImageRoot): NonNullable<ContainerRecord['imageMount']> {
  throw new Error('org.toyrun.image is not supported by this build of toyrun yet');
}

export function unmountImage(_m: NonNullable<ContainerRecord['imageMount']>, _failedCreate: boolean): void {}
