import { expect } from 'chai';
import { OutstandingAcks } from '../src/mqtt/outstandingAcks.js';

describe('OutstandingAcks', () => {
  it('releases each ack once, the first time it is called, in any order', () => {
    const acks = new OutstandingAcks();
    const released: number[] = [];
    const handed = [0, 1, 2, 3, 4].map((i) => acks.add(() => released.push(i)));
    expect(acks.size).to.equal(5);
    for (const i of [2, 0, 4, 2, 0]) handed[i]!();
    expect(released).to.deep.equal([2, 0, 4]);
    expect(acks.size).to.equal(2);
  });

  it('settles what is outstanding, oldest first, and nothing twice', () => {
    const acks = new OutstandingAcks();
    const released: number[] = [];
    const handed = [0, 1, 2, 3, 4, 5].map((i) => acks.add(() => released.push(i)));
    handed[3]!();
    handed[5]!();
    acks.settleAll();
    handed[1]!();
    expect(released).to.deep.equal([3, 5, 0, 1, 2, 4]);
    expect(acks.size).to.equal(0);
    // Empty, it takes more, and they are released as ever.
    acks.add(() => released.push(6))();
    expect(released.at(-1)).to.equal(6);
    expect(acks.size).to.equal(0);
  });

  it('keeps every outstanding ack after the newest is called and more are added', () => {
    const acks = new OutstandingAcks();
    const released: number[] = [];
    const handed = [0, 1, 2].map((i) => acks.add(() => released.push(i)));
    handed[2]!();
    acks.add(() => released.push(3));
    handed[0]!();
    acks.add(() => released.push(4));
    acks.settleAll();
    expect(released).to.deep.equal([2, 0, 1, 3, 4]);
    expect(acks.size).to.equal(0);
  });
});
