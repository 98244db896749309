// Container ids: every command checks one, so this stays apart from validate.ts
// (whose schema validators are ~250 KB of code only create, run, exec and update need).

/** Container IDs name a directory under the state root and appear in cgroup
 * paths: refuse anything that could walk out of it or confuse a parser. */
export function validateContainerId(id: string | undefined): string {
  if (id === undefined || id === '') throw new Error('container id cannot be empty');
  // it names a directory (state dir, cgroup): NAME_MAX is 255
  if (id.length > 255) throw new Error(`invalid container id: longer than 255 characters`);
  if (id === '.' || id === '..' || !/^[A-Za-z0-9][A-Za-z0-9_+.-]*$/.test(id)) {
    throw new Error(`invalid container id ${JSON.stringify(id)}: use letters, digits and _ + - . (not starting with . or -)`);
  }
  return id;
}
