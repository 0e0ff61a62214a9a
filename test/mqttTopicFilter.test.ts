// Topic filter matching, used to route a shared client's messages to the right fromMqtt.
import { expect } from 'chai';
import { topicMatches } from '../src/index.js';

describe('topicMatches', function () {
  const cases: [string, string, boolean][] = [
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a/', true],
    ['+/+', '/x', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'anything/at/all', true],
    ['#', '$SYS/broker/uptime', false],
    ['+/broker/uptime', '$SYS/broker/uptime', false],
    ['$SYS/#', '$SYS/broker/uptime', true],
    ['$share/group/a/+', 'a/b', true],
    ['$share/group/a/+', 'group/a/b', false],
    ['a/b/c', 'a/b', false],
  ];
  for (const [filter, topic, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'} "${topic}" with "${filter}"`, function () {
      expect(topicMatches(filter, topic)).to.equal(expected);
    });
  }
});
