// The batching of journal writes and PUBACKs, alone: every PUBACK leaves after the write
// that saved its message, a batch is saved early once it holds maxHeld messages, and
// lingering goes by the messages of the whole event-loop turn. The real broker and the
// real journal are in durableWindowedCount's tests and the fault suite.
import { expect } from 'chai';
import { setImmediate as turn } from 'node:timers/promises';
import { AcknowledgementBatch } from '../src/durable/acknowledgementBatch.js';
import type { MqttMessage } from '../src/mqtt/message.js';

describe('AcknowledgementBatch', () => {
  /** What happened, in order: `write n` (n messages saved), `puback i`, `linger ms`. */
  let log: string[];
  let heldPubacks: number[];
  let holds: number;

  /** Message `i`: its PUBACK leaves at ack() unless a hold is out, then when the last hold goes. */
  const message = (i: number): MqttMessage =>
    ({
      topic: 't',
      payload: Buffer.alloc(0),
      qos: 1,
      retain: false,
      dup: false,
      messageId: i,
      properties: {},
      ack: () => {
        if (holds > 0) heldPubacks.push(i);
        else log.push(`puback ${i}`);
      },
      holdAcknowledgements: () => {
        holds++;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          if (--holds === 0) for (const id of heldPubacks.splice(0)) log.push(`puback ${id}`);
        };
      },
      lingerIntake: (ms: number) => log.push(`linger ${ms}`),
    }) as MqttMessage;

  beforeEach(() => {
    log = [];
    heldPubacks = [];
    holds = 0;
  });

  const batch = (maxHeld?: number) =>
    new AcknowledgementBatch(
      (messages) => log.push(`write ${messages}`),
      (error) => {
        throw error;
      },
      maxHeld,
    );

  /** Each PUBACK comes after a write, and the writes saved every message before it. */
  function expectEveryPubackAfterItsWrite(messages: number): void {
    let saved = 0;
    let acknowledged = 0;
    for (const entry of log) {
      const [what, n] = entry.split(' ') as [string, string];
      if (what === 'write') saved += Number(n);
      if (what === 'puback') {
        acknowledged++;
        expect(acknowledged, `${entry} before its write: ${log.join(', ')}`).to.be.at.most(saved);
      }
    }
    expect(acknowledged, 'every PUBACK left').to.equal(messages);
  }

  it('saves a turn of 150 messages in batches of at most 64, the first two before the turn ends, and does not linger', async () => {
    const acknowledgements = batch(64);
    for (let i = 1; i <= 150; i++) acknowledgements.acknowledge(message(i), true);
    expect(log.filter((entry) => entry.startsWith('write'))).to.deep.equal(['write 64', 'write 64']);
    await turn();
    expect(log.filter((entry) => entry.startsWith('write'))).to.deep.equal(['write 64', 'write 64', 'write 22']);
    expect(log.filter((entry) => entry.startsWith('linger'))).to.deep.equal([]);
    expectEveryPubackAfterItsWrite(150);
  });

  it('lingers 10 ms after a turn of fewer than 32 messages, and not after one of 32 saved in two batches of 20 and 12', async () => {
    const acknowledgements = batch(20);
    for (let i = 1; i <= 10; i++) acknowledgements.acknowledge(message(i), true);
    await turn();
    expect(log.filter((entry) => !entry.startsWith('puback'))).to.deep.equal(['write 10', 'linger 10']);
    log.length = 0;
    for (let i = 11; i <= 42; i++) acknowledgements.acknowledge(message(i), true);
    await turn();
    expect(log.filter((entry) => !entry.startsWith('puback'))).to.deep.equal(['write 20', 'write 12']);
    expectEveryPubackAfterItsWrite(32);
  });

  it('without maxHeld, holds a whole turn for one write (durability power: one fsync a turn)', async () => {
    const acknowledgements = batch();
    for (let i = 1; i <= 1000; i++) acknowledgements.acknowledge(message(i), true);
    expect(log, 'nothing saved nor acknowledged before the turn ends').to.deep.equal([]);
    await turn();
    expect(log.filter((entry) => entry.startsWith('write'))).to.deep.equal(['write 1000']);
    expectEveryPubackAfterItsWrite(1000);
  });

  it('keeps the PUBACKs held when an early save fails, and lets them go with the next save that works', async () => {
    let failing = true;
    const acknowledgements = new AcknowledgementBatch(
      (messages) => {
        if (failing) throw new Error('no space left');
        log.push(`write ${messages}`);
      },
      () => undefined,
      4,
    );
    for (let i = 1; i <= 3; i++) acknowledgements.acknowledge(message(i), true);
    expect(() => acknowledgements.acknowledge(message(4), true)).to.throw('no space left');
    expect(log, 'no PUBACK left').to.deep.equal([]);
    failing = false;
    acknowledgements.release();
    expect(log[0]).to.equal('write 4');
    expectEveryPubackAfterItsWrite(4);
    await turn();
  });
});
