// The options toolkit every operator checks its options with (src/internal/options.ts):
// one wording, and one rule for TypeError (wrong type) versus RangeError (out of range).
import { expect } from 'chai';
import { describeValue, optionChecks } from '../src/internal/options.js';

describe('optionChecks', function () {
  const check = optionChecks('someOperator');

  it('words every refusal as "<operator>: <option> must be <what>, got <value>"', function () {
    expect(() => check.oneOf('qos', 3, [0, 1, 2])).to.throw(RangeError, /^someOperator: qos must be 0, 1 or 2, got 3$/);
    expect(() => check.integer('pin', 54, { min: 0, max: 53, noun: 'a BCM GPIO number' })).to.throw(
      RangeError,
      /^someOperator: pin must be a BCM GPIO number from 0 to 53, got 54$/,
    );
    expect(() => check.integer('filter', 7, { max: 5, note: 'a limit' })).to.throw(
      /^someOperator: filter must be an integer ≤ 5 \(a limit\), got 7$/,
    );
    expect(() => check.number('rate', -1, { min: 0, max: 20 })).to.throw(
      /^someOperator: rate must be a number from 0 to 20, got -1$/,
    );
    expect(() => check.func('key', undefined, '(event) => key')).to.throw(
      TypeError,
      /^someOperator: key must be a function \(event\) => key, got undefined$/,
    );
    expect(() => check.boolean('loop', 'yes')).to.throw(
      TypeError,
      /^someOperator: loop must be true or false, got "yes"$/,
    );
    expect(() => check.string('path', '', 'a file path')).to.throw(
      TypeError,
      /^someOperator: path must be a file path, got ""$/,
    );
    expect(check.required('watermarkDelay', "e.g. '2 minutes'").message).to.equal(
      "someOperator: watermarkDelay is required (e.g. '2 minutes')",
    );
  });

  it('throws a TypeError for a value of the wrong type and a RangeError for one out of range', function () {
    expect(() => check.integer('n', '5', { min: 0 })).to.throw(
      TypeError,
      /^someOperator: n must be an integer ≥ 0, got "5"$/,
    );
    expect(() => check.integer('n', -1, { min: 0 })).to.throw(RangeError, /got -1$/);
    expect(() => check.integer('n', 1.5, { min: 0 })).to.throw(RangeError, /got 1.5$/);
    expect(() => check.integer('n', Number.NaN, { min: 0 })).to.throw(RangeError, /got NaN$/);
    expect(() => check.oneOf('ack', 'never', ['auto', 'manual'])).to.throw(
      RangeError,
      /^someOperator: ack must be 'auto' or 'manual', got "never"$/,
    );
    expect(() => check.oneOf('ack', 1, ['auto', 'manual'])).to.throw(TypeError, /got 1$/);
    expect(() => check.duration('after', 'soon')).to.throw(
      TypeError,
      /^someOperator: after must be milliseconds or text/,
    );
    expect(() => check.duration('after', -5, { min: 0 })).to.throw(
      RangeError,
      /^someOperator: after must be a duration ≥ 0, got -5$/,
    );
    expect(() => check.func('f', 5)).to.throw(TypeError);
  });

  it('takes Infinity only where the range allows it', function () {
    expect(check.positiveInteger('concurrency', Infinity, { infinity: true })).to.equal(Infinity);
    expect(() => check.positiveInteger('concurrency', Infinity)).to.throw(
      RangeError,
      /^someOperator: concurrency must be an integer ≥ 1, got Infinity$/,
    );
    expect(() => check.positiveInteger('concurrency', 0, { infinity: true })).to.throw(
      /must be an integer ≥ 1 or Infinity, got 0$/,
    );
    expect(check.duration('ahead', Infinity, { min: 0, infinity: true })).to.equal(Infinity);
    expect(() => check.duration('delay', Infinity, { min: 0 })).to.throw(
      RangeError,
      /must be a duration ≥ 0, got Infinity$/,
    );
  });

  it('gives back the value checked, durations in milliseconds', function () {
    expect(check.integer('n', 0, { min: 0 })).to.equal(0);
    expect(check.duration('window', '1 minute', { positive: true })).to.equal(60_000);
    expect(check.duration('delay', '100 ms', { min: 0, integer: true })).to.equal(100);
    expect(() => check.duration('delay', 0.5, { min: 0, integer: true })).to.throw(
      RangeError,
      /must be a duration ≥ 0 in integer milliseconds, got 0.5$/,
    );
    expect(() => check.duration('window', 0, { positive: true })).to.throw(/must be a positive duration, got 0$/);
    expect(check.oneOf('backend', 'gpiod', ['pigpio', 'gpiod'], 'a GpioBackend')).to.equal('gpiod');
    expect(() => check.oneOf('backend', 'x', ['pigpio', 'gpiod'], 'a GpioBackend')).to.throw(
      /must be 'pigpio', 'gpiod' or a GpioBackend, got "x"$/,
    );
    expect(check.optionalFunc('f', undefined)).to.equal(undefined);
    expect(check.optionalBoolean('b', undefined)).to.equal(undefined);
  });

  it('shows any value in one short line', function () {
    expect(describeValue('x'.repeat(100))).to.equal(JSON.stringify(`${'x'.repeat(60)}…`));
    expect(describeValue(null)).to.equal('null');
    expect(describeValue(() => 1)).to.equal('a function');
    expect(describeValue([1, 2])).to.equal('[1,2]');
    expect(describeValue(new Array(100).fill(1))).to.equal('an array of 100');
    expect(describeValue(new Map())).to.equal('a Map');
    expect(describeValue({ a: 1 })).to.equal('{"a":1}');
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).to.equal('an object');
    expect(describeValue(Symbol('s'))).to.equal('Symbol(s)');
    expect(describeValue(10n)).to.equal('10');
  });
});
