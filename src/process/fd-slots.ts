/**
 * The fds a runtime process starts with — the one place they are numbered:
 * 0-2 and the --preserve-fds range at their own numbers (runc's rule: fds
 * 3..N+2 are the container's), the sync pipe right after them (the child
 * finds it in its last two arguments), then whatever the caller adds, in order.
 */
export class FdSlots {
  private readonly list: [number, number][];
  readonly syncW: number;
  readonly syncR: number;
  constructor(preserveFds: number, childWrite: number, childRead: number) {
    this.list = Array.from({ length: 3 + preserveFds }, (_, i): [number, number] => [i, i]);
    this.syncW = 3 + preserveFds;
    this.syncR = this.syncW + 1;
    this.list.push([childWrite, this.syncW], [childRead, this.syncR]);
  }
  /** Hand the parent's fd to the child at the next number; returns that number. */
  add(parentFd: number): number {
    const n = this.last + 1;
    this.list.push([parentFd, n]);
    return n;
  }
  /** The highest number handed out so far. */
  get last(): number {
    return (this.list[this.list.length - 1] as [number, number])[1];
  }
  /** [parent fd, child fd] pairs for posix_spawn. */
  pairs(): [number, number][] {
    return [...this.list];
  }
}
