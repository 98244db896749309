// What an operation has acquired so far, released in reverse on failure (create:
// the state dir, the image mount, the init, the systemd scope, the cgroup, the
// Intel RDT group). Each entry is named, so that the order is visible in the code,
// in --debug logs and in test/unit/create-undo.test.ts.
export class UndoStack {
  private readonly entries: { name: string; release: () => void }[] = [];

  /** Record something acquired, and how to give it back. */
  push(name: string, release: () => void): void {
    this.entries.push({ name, release });
  }

  /** The names recorded so far, in the order acquired. */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  /** Release everything, last acquired first. A release that fails is reported
   * and the others still run: a failed create must leave as little as it can.
   * Returns the names in the order released. */
  unwind(report: (name: string, e: unknown) => void): string[] {
    const order: string[] = [];
    for (const { name, release } of this.entries.splice(0).reverse()) {
      order.push(name);
      try {
        release();
      } catch (e) {
        report(name, e);
      }
    }
    return order;
  }
}
