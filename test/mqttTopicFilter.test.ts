// Topic filter matching, used to route a shared client's messages to the right fromMqtt,
// and the one set of rules for topic names and filters (toMqtt, fromMqtt, the command line).
import { expect } from 'chai';
import { topicMatches } from '../src/index.js';
import { topicFilterProblem, topicNameProblem } from '../src/mqtt/topicFilter.js';

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

describe('the topic rules', function () {
  it('takes a topic name without wildcards, and says what one must be otherwise', function () {
    for (const topic of ['rupesh/gpiotopic', '/', '$SYS/x', 'é/ü', 'a'.repeat(65_535)])
      expect(topicNameProblem(topic), topic.slice(0, 20)).to.equal(undefined);
    expect(topicNameProblem('')).to.equal('a non-empty topic');
    expect(topicNameProblem('a/+/b')).to.match(/^a topic to publish to, without the wildcards \+ and #/);
    expect(topicNameProblem('a/#')).to.match(/without the wildcards/);
    expect(topicNameProblem('a\u0000b')).to.equal('a topic without NUL characters');
    expect(topicNameProblem('é'.repeat(40_000))).to.equal('a topic of at most 65535 bytes'); // 80,000 bytes of UTF-8
  });

  it('takes a filter with + as a whole level and # as the whole last level, and nothing else', function () {
    for (const filter of ['a/+/b', '#', 'a/#', '+', '$share/group/a/#', 'a//b'])
      expect(topicFilterProblem(filter), filter).to.equal(undefined);
    for (const filter of ['a/#/b', 'a+/b', 'a/b#', '#/a'])
      expect(topicFilterProblem(filter), filter).to.match(/^a topic filter: \+ stands for a whole level/);
    expect(topicFilterProblem('')).to.equal('a non-empty topic');
    expect(topicFilterProblem('a\u0000')).to.equal('a topic without NUL characters');
  });
});
