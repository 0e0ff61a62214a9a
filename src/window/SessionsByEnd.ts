/**
 * The open sessions of every key by end, for {@link SessionWindows}: which one the
 * watermark closes next.
 * @module
 */

/** What {@link SessionsByEnd} orders: a session's end, and its place in the heap. @internal */
export interface EndOrdered {
  readonly end: number;
  /** Where the heap holds it; the heap's to set. */
  heapIndex: number;
}

/**
 * A binary min-heap by `end` that knows where each entry is, so a session that an event
 * extends or merges away moves or leaves in O(log n): the heap holds exactly the open
 * sessions, never stale copies, and memory stays bounded by them.
 * @internal
 */
export class SessionsByEnd<S extends EndOrdered> {
  private readonly heap: S[] = [];

  /** How many sessions it holds. */
  get size(): number {
    return this.heap.length;
  }

  /** The session that ends first, or `undefined` when none is held. */
  peek(): S | undefined {
    return this.heap[0];
  }

  /** Adds a session. */
  add(session: S): void {
    session.heapIndex = this.heap.length;
    this.heap.push(session);
    this.up(session.heapIndex);
  }

  /** Takes out the session that ends first. */
  pop(): S | undefined {
    const first = this.heap[0];
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Takes out a session it holds. */
  remove(session: S): void {
    const at = session.heapIndex;
    const last = this.heap.pop() as S;
    if (last !== session) {
      this.heap[at] = last;
      last.heapIndex = at;
      this.moved(at);
    }
    session.heapIndex = -1;
  }

  /** Puts back in order a session whose end changed. */
  moved(at: number): void {
    if (at > 0 && this.heap[at]!.end < this.heap[(at - 1) >> 1]!.end) this.up(at);
    else this.down(at);
  }

  private up(at: number): void {
    const heap = this.heap;
    const session = heap[at]!;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      const above = heap[parent]!;
      if (above.end <= session.end) break;
      heap[at] = above;
      above.heapIndex = at;
      at = parent;
    }
    heap[at] = session;
    session.heapIndex = at;
  }

  private down(at: number): void {
    const heap = this.heap;
    const session = heap[at]!;
    const size = heap.length;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && heap[child + 1]!.end < heap[child]!.end) child++;
      const below = heap[child]!;
      if (below.end >= session.end) break;
      heap[at] = below;
      below.heapIndex = at;
      at = child;
    }
    heap[at] = session;
    session.heapIndex = at;
  }
}
