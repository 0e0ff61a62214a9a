/**
 * A set of MQTT packet identifiers that allocates nothing as it changes.
 * @module
 */

/** Packet identifiers are 16 bits, 1 to 65,535. */
const IDENTIFIERS = 65_536;

/**
 * Packet identifiers, one byte each. A `Set<number>` that gains and loses an identifier
 * per message rebuilds its hash table every few messages; draining a backlog, those
 * tables outlived the young generation's collections and filled the old one (issue 24).
 * @internal
 */
export class PacketIdentifierSet {
  private readonly present = new Uint8Array(IDENTIFIERS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(identifier: number): void {
    if (this.present[identifier] !== 0) return;
    this.present[identifier] = 1;
    this.count++;
  }

  delete(identifier: number): void {
    if (this.present[identifier] !== 1) return;
    this.present[identifier] = 0;
    this.count--;
  }

  clear(): void {
    if (this.count === 0) return;
    this.present.fill(0);
    this.count = 0;
  }
}
