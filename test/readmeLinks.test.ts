// The README's links, followed from the package as npm ships it. The package has no
// public repository or homepage to point them at, so every file the README and the
// shipped guides link to must be in the tarball itself, and every #anchor must name a
// heading of the file it points into.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { headings, links, pathMentions } from './support/markdown.js';
import { packedPackage, type PackedPackage } from './support/packedPackage.js';

/** A link that leaves the package: a URL with a scheme, or a protocol-relative one. */
const external = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

describe('the README links, followed inside the packed package', function () {
  this.timeout(300_000);
  let packed: PackedPackage;
  let shipped: Set<string>;
  let markdownFiles: string[];
  const read = (file: string) => readFileSync(join(packed.clone, file), 'utf8');

  before(() => {
    packed = packedPackage();
    shipped = new Set(packed.files);
    markdownFiles = packed.files.filter((file) => file.endsWith('.md')).sort();
  });

  it('ships the guides the README points to', () => {
    expect(markdownFiles).to.include.members([
      'README.md',
      'docs/durability.md',
      'docs/gpio.md',
      'docs/benchmarks.md',
      'docs/observability.md',
    ]);
    expect(
      packed.files.some((file) => file.startsWith('docs/api/')),
      'the generated API site',
    ).to.equal(false);
  });

  it('finds every file a shipped Markdown file links to inside the package', () => {
    const broken: string[] = [];
    let followed = 0;
    for (const file of markdownFiles) {
      for (const link of links(read(file))) {
        const path = link.target.split('#')[0]!;
        if (external(link.target) || path === '') continue;
        followed++;
        const target = posix.normalize(posix.join(posix.dirname(file), decodeURI(path)));
        if (target.startsWith('../')) broken.push(`${file} line ${link.line}: ${link.target} leads out of the package`);
        else if (!shipped.has(target) && !packed.files.some((shippedFile) => shippedFile.startsWith(`${target}/`)))
          broken.push(`${file} line ${link.line}: ${link.target} (${target}) is not in the package`);
      }
    }
    // Paths named in the README's text, such as "(docs/durability.md)", are looked for too.
    for (const mention of pathMentions(read('README.md'), /\bdocs\/[\w./-]+\.(?:md|png)\b/g)) {
      followed++;
      if (!shipped.has(mention.target))
        broken.push(`README.md line ${mention.line}: mentions ${mention.target}, which is not in the package`);
    }
    expect(broken, broken.join('\n')).to.deep.equal([]);
    expect(followed, 'links followed').to.be.at.least(6);
  });

  it('points every #anchor at a heading of the file it names', () => {
    const anchors = new Map(markdownFiles.map((file) => [file, new Set(headings(read(file)).map((h) => h.anchor))]));
    const broken: string[] = [];
    let followed = 0;
    for (const file of markdownFiles) {
      for (const link of links(read(file))) {
        if (external(link.target) || !link.target.includes('#')) continue;
        followed++;
        const [path, anchor] = link.target.split('#') as [string, string];
        const target = path === '' ? file : posix.normalize(posix.join(posix.dirname(file), decodeURI(path)));
        const known = anchors.get(target);
        if (known === undefined)
          broken.push(`${file} line ${link.line}: ${link.target}: ${target} is not a shipped guide`);
        else if (!known.has(decodeURIComponent(anchor)))
          broken.push(`${file} line ${link.line}: ${link.target}: ${target} has no heading with the anchor #${anchor}`);
      }
    }
    expect(broken, broken.join('\n')).to.deep.equal([]);
    expect(followed, 'anchors followed').to.be.at.least(2);
  });

  it('makes the anchors GitHub and npm make', () => {
    const sample = [
      '# mqtt-iot-stream',
      '## Stopping a pipeline',
      "### Spark 3.4 and later: `lateRule: 'spark-3.4'`",
      '## Scale-out',
      '## Scale-out',
      '```sh',
      '# not a heading',
      '```',
    ].join('\n');
    expect(headings(sample).map((heading) => heading.anchor)).to.deep.equal([
      'mqtt-iot-stream',
      'stopping-a-pipeline',
      'spark-34-and-later-laterule-spark-34',
      'scale-out',
      'scale-out-1',
    ]);
  });
});
