import { expect } from 'chai';
import { PacketIdentifierSet } from '../src/mqtt/packetIdentifierSet.js';

describe('PacketIdentifierSet', () => {
  it('counts each identifier once, forgets only what it holds, and empties on clear', () => {
    const set = new PacketIdentifierSet();
    for (const id of [1, 65_535, 1, 300, 300]) set.add(id);
    expect(set.size).to.equal(3);
    set.delete(2);
    set.delete(1);
    set.delete(1);
    expect(set.size).to.equal(2);
    set.clear();
    expect(set.size).to.equal(0);
    set.delete(300);
    expect(set.size).to.equal(0);
    set.add(300);
    expect(set.size).to.equal(1);
  });
});
