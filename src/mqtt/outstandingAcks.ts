/**
 * The acknowledgements a subscription handed out and that were not called yet.
 * @module
 */

interface Outstanding {
  release: (() => void) | undefined;
  previous: Outstanding | undefined;
  next: Outstanding | undefined;
}

/**
 * Acks handed out and not yet called, in a list linked through them. A `Set` of them
 * gains and loses one per message, and rebuilt its hash table every few messages:
 * draining a backlog, those tables outlived the young generation's collections and
 * filled the old one (issue 24). A node dies with its message.
 * @internal
 */
export class OutstandingAcks {
  private first: Outstanding | undefined;
  private last: Outstanding | undefined;
  private count = 0;

  /** How many are outstanding. */
  get size(): number {
    return this.count;
  }

  /** Hands out an ack that calls `release` once, the first time it is called. */
  add(release: () => void): () => void {
    const node: Outstanding = { release, previous: this.last, next: undefined };
    if (this.last === undefined) this.first = node;
    else this.last.next = node;
    this.last = node;
    this.count++;
    return () => this.settle(node);
  }

  /** Calls every outstanding ack, oldest first. */
  settleAll(): void {
    while (this.first !== undefined) this.settle(this.first);
  }

  private settle(node: Outstanding): void {
    const release = node.release;
    if (release === undefined) return;
    node.release = undefined;
    if (node.previous === undefined) this.first = node.next;
    else node.previous.next = node.next;
    if (node.next === undefined) this.last = node.previous;
    else node.next.previous = node.previous;
    node.previous = node.next = undefined;
    this.count--;
    release();
  }
}
