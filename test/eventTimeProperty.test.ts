// decodeIotPayload's eventTimeProperty: the event time from an MQTT 5 user property, in
// the forms it takes, falling back on the payload's time when the property is missing,
// refusing an unreadable or ambiguous one with a readable reason (and acknowledging the
// message), and its option refused when the operator is made. No broker: hand-made
// messages (mqttInterop.test.ts and cliEventTime.test.ts run it on a real Mosquitto).
import { expect } from 'chai';
import { from, lastValueFrom, toArray } from 'rxjs';
import { FlagValueProblem, userPropertyName } from '../src/cli/flagValues.js';
import {
  RejectionError,
  decodeIotPayload,
  encodeIotPayload,
  makeIotPayload,
  type DecodedMqttMessage,
  type DecodeIotPayloadOptions,
  type MqttMessage,
  type Rejection,
} from '../src/index.js';

/** The payload's own time, a day away from every property time below. */
const PAYLOAD_TIME = new Date(Date.UTC(2020, 6, 1, 12, 0, 0));
const PROPERTY_TIME = Date.UTC(2020, 6, 2, 8, 30, 15, 250);
const LINE = '127.0.0.1 - - [01/Jul/2020:12:00:00 +0000] "GET / HTTP/1.1" 200 5';

interface Sent {
  readonly message: MqttMessage;
  readonly acked: () => boolean;
}

/** A message with the reference payload (stamped PAYLOAD_TIME) and these MQTT 5 properties. */
function sent(
  properties: MqttMessage['properties'] = {},
  payload = encodeIotPayload(makeIotPayload(LINE, PAYLOAD_TIME)),
): Sent {
  let acked = false;
  const message: MqttMessage = {
    topic: 'sensors/t',
    payload: Buffer.from(payload),
    qos: 1,
    retain: false,
    dup: false,
    messageId: 1,
    properties,
    ack: () => {
      acked = true;
    },
    holdAcknowledgements: () => () => undefined,
  };
  return { message, acked: () => acked };
}

const withEventTime = (value: string | string[]): Sent => sent({ userProperties: { 'event-time': value } });

/** Runs the messages through decodeIotPayload; what came out and what was rejected. */
async function decode(
  messages: readonly Sent[],
  options: DecodeIotPayloadOptions = { eventTimeProperty: 'event-time' },
): Promise<{ decoded: DecodedMqttMessage[]; rejections: Rejection<MqttMessage>[] }> {
  const rejections: Rejection<MqttMessage>[] = [];
  const decoded = await lastValueFrom(
    from(messages.map((each) => each.message)).pipe(
      decodeIotPayload({ ...options, onReject: (rejection) => rejections.push(rejection) }),
      toArray(),
    ),
  );
  return { decoded, rejections };
}

const times = (decoded: readonly DecodedMqttMessage[]) => decoded.map(({ payload }) => payload.iottimestamp.getTime());

describe("decodeIotPayload's eventTimeProperty", () => {
  it("takes the event time from the property in iottimestamp's form, ISO 8601 with or without a zone, and epoch milliseconds", async () => {
    const forms = [
      '2020-07-02 08:30:15.250000',
      '2020-07-02 08:30:15.25',
      '2020-07-02T08:30:15.250Z',
      '2020-07-02T10:30:15.250+02:00',
      '2020-07-02T03:30:15.250-0500',
      '2020-07-02T08:30:15.250',
      String(PROPERTY_TIME),
    ];
    const { decoded, rejections } = await decode(forms.map((form) => withEventTime(form)));
    expect(rejections).to.deep.equal([]);
    expect(times(decoded)).to.deep.equal(forms.map(() => PROPERTY_TIME));
    // Only the time changes: the line and the message are the ones sent.
    for (const [i, { payload, message }] of decoded.entries()) {
      expect(payload.accesslogs).to.equal(LINE);
      expect(message.properties.userProperties?.['event-time']).to.equal(forms[i]);
    }
  });

  it("keeps the payload's iottimestamp for a message without the property, and ignores the property when the option is off", async () => {
    const { decoded, rejections } = await decode([
      sent(),
      sent({ userProperties: { publisher: 'pi-1', seq: '7' } }),
      sent({ contentType: 'application/json' }),
      // Another name than the one asked for.
      sent({ userProperties: { 'Event-Time': '2020-07-02T08:30:15.250Z' } }),
    ]);
    expect(rejections).to.deep.equal([]);
    expect(times(decoded)).to.deep.equal([1, 2, 3, 4].map(() => PAYLOAD_TIME.getTime()));

    const off = await decode([withEventTime('2020-07-02T08:30:15.250Z'), withEventTime('not a time')], {});
    expect(off.rejections).to.deep.equal([]);
    expect(times(off.decoded)).to.deep.equal([PAYLOAD_TIME.getTime(), PAYLOAD_TIME.getTime()]);
  });

  it("reads a property a hand-made message's plain object would inherit (constructor, __proto__) as missing", async () => {
    for (const name of ['constructor', 'toString', '__proto__']) {
      const { decoded, rejections } = await decode([sent({ userProperties: {} })], { eventTimeProperty: name });
      expect(rejections, name).to.deep.equal([]);
      expect(times(decoded), name).to.deep.equal([PAYLOAD_TIME.getTime()]);
    }
  });

  it('reads a name given several times when all its values are the same instant, and rejects it when they differ', async () => {
    const agreeing = withEventTime(['2020-07-02T08:30:15.250Z', '2020-07-02 08:30:15.250000', String(PROPERTY_TIME)]);
    const differing = withEventTime(['2020-07-02T08:30:15.250Z', '2020-07-02T08:30:15.250Z', '2020-07-02T08:31:00Z']);
    const oneUnreadable = withEventTime(['2020-07-02T08:30:15.250Z', 'soon']);
    const { decoded, rejections } = await decode([agreeing, differing, oneUnreadable]);
    expect(times(decoded)).to.deep.equal([PROPERTY_TIME]);
    expect(rejections.map(({ kind, reason }) => [kind, reason])).to.deep.equal([
      [
        'timestamp',
        'message on "sensors/t": user property "event-time" is given 3 times, with different times: "2020-07-02T08:30:15.250Z" and "2020-07-02T08:31:00Z"',
      ],
      [
        'timestamp',
        'message on "sensors/t": user property "event-time" (value 2 of 2) is "soon", not a time like "2020-07-01 12:34:56.789012" (UTC), ISO 8601 ("2020-07-01T12:34:56.789Z") or epoch milliseconds',
      ],
    ]);
    expect([agreeing, differing, oneUnreadable].map((each) => each.acked())).to.deep.equal([false, true, true]);
  });

  it('rejects an unreadable value with kind timestamp, naming the property and the value cut short, acknowledges the message and goes on', async () => {
    const long = `2020-07-02T08:30:15Z${'x'.repeat(100_000)}`;
    const messages = [
      withEventTime('yesterday'),
      withEventTime(''),
      withEventTime('2020-02-30 00:00:00'),
      withEventTime('1593606896'),
      withEventTime('15936068967891234567'),
      withEventTime('2020-07-02T08:30:15Z\n'),
      withEventTime(long),
      withEventTime('2020-07-02T08:30:15.250Z'),
    ];
    const { decoded, rejections } = await decode(messages);
    expect(times(decoded), 'the stream goes on').to.deep.equal([PROPERTY_TIME]);
    expect(rejections.map((r) => r.kind)).to.deep.equal(Array(7).fill('timestamp'));
    expect(rejections.every((r) => r.operator === 'decodeIotPayload')).to.equal(true);
    expect(rejections.map((r) => r.input)).to.deep.equal(messages.slice(0, 7).map((each) => each.message));
    expect(messages.map((each) => each.acked())).to.deep.equal([true, true, true, true, true, true, true, false]);
    const reasons = rejections.map((r) =>
      r.reason.replace(/^message on "sensors\/t": user property "event-time" is /, ''),
    );
    const forms =
      ', not a time like "2020-07-01 12:34:56.789012" (UTC), ISO 8601 ("2020-07-01T12:34:56.789Z") or epoch milliseconds';
    expect(reasons.slice(0, 6)).to.deep.equal([
      `"yesterday"${forms}`,
      `""${forms}`,
      `"2020-02-30 00:00:00"${forms}`,
      `"1593606896"${forms} (epoch seconds? milliseconds before 1973 are refused)`,
      `"15936068967891234567"${forms}`,
      // A control character is shown as its symbol: the reason stays one line.
      `"2020-07-02T08:30:15Z␊"${forms}`,
    ]);
    expect(reasons[6]).to.equal(`"2020-07-02T08:30:15Z${'x'.repeat(40)}"… (a string of 100020 characters)${forms}`);
  });

  it('rejects with kind payload, as before, a message whose payload does not decode, whatever its property', async () => {
    const junk = sent({ userProperties: { 'event-time': '2020-07-02T08:30:15.250Z' } }, 'not json');
    const { decoded, rejections } = await decode([junk]);
    expect(decoded).to.deep.equal([]);
    expect(rejections.map((r) => r.kind)).to.deep.equal(['payload']);
    expect(junk.acked()).to.equal(true);
  });

  it('rejects a value that is not text (a hand-made message) instead of throwing', async () => {
    const odd = sent({ userProperties: { 'event-time': 1593606896789 as unknown as string } });
    const { rejections } = await decode([odd]);
    expect(rejections.map((r) => r.reason)).to.deep.equal([
      'message on "sensors/t": user property "event-time" is 1593606896789, not a time like "2020-07-01 12:34:56.789012" (UTC), ISO 8601 ("2020-07-01T12:34:56.789Z") or epoch milliseconds',
    ]);
  });

  it('with strict, errors the stream on an unreadable property, the message unacknowledged', async () => {
    const bad = withEventTime('later');
    const error: unknown = await lastValueFrom(
      from([bad.message]).pipe(decodeIotPayload({ eventTimeProperty: 'event-time', strict: true })),
    ).catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(RejectionError);
    expect((error as RejectionError).rejection.kind).to.equal('timestamp');
    expect(bad.acked()).to.equal(false);
  });

  it('refuses a bad eventTimeProperty when the operator is made: TypeError for no name, RangeError for one MQTT cannot carry', () => {
    for (const value of [42, '', true, ['event-time']])
      expect(() => decodeIotPayload({ eventTimeProperty: value as string }), String(value)).to.throw(
        TypeError,
        /^decodeIotPayload: eventTimeProperty must be the name of a user property \(a non-empty string\), got /,
      );
    expect(() => decodeIotPayload({ eventTimeProperty: 'event\u0000time' })).to.throw(
      RangeError,
      /^decodeIotPayload: eventTimeProperty must be a user property name without U\+0000 .*, got "event\\u0000time"$/,
    );
    expect(() => decodeIotPayload({ eventTimeProperty: 'é'.repeat(40_000) })).to.throw(
      RangeError,
      /^decodeIotPayload: eventTimeProperty must be a user property name of at most 65,535 UTF-8 bytes/,
    );
    expect(() => decodeIotPayload({ eventTimeProperty: 'é'.repeat(30_000) })).not.to.throw();
    expect(() => decodeIotPayload({ eventTimeProperty: undefined })).not.to.throw();
  });

  it("reads --event-time-property's value by the library's rule", () => {
    expect(userPropertyName('event-time')).to.equal('event-time');
    const problem = (text: string) => {
      try {
        userPropertyName(text);
      } catch (error) {
        if (error instanceof FlagValueProblem) return error.message;
        throw error;
      }
      return undefined;
    };
    expect(problem('')).to.equal('must be the name of a user property, got ""');
    expect(problem('a\u0000b')).to.match(/^must be a user property name without U\+0000/);
  });
});
