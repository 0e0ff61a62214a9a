// Generates the demo's bundled access log (examples/data/access.log): synthetic
// Combined Log Format lines (and ~1% junk lines) from a fixed seed, so the file is reproducible and
// carries no one's real traffic. Run: npx tsx scripts/generate-demo-log.ts [lines]
import { writeFileSync } from 'node:fs';

const lineCount = Number(process.argv[2] ?? 2000);

// Mulberry32: a tiny seeded PRNG, enough for reproducible fake traffic.
let seed = 0x5eed_1e55;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
function weighted<T>(table: ReadonlyArray<readonly [T, number]>): T {
  let roll = random() * table.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [value, weight] of table) if ((roll -= weight) < 0) return value;
  return table[table.length - 1]![0];
}

const pages = [
  '/',
  '/index.html',
  '/about',
  '/blog/2020/06/sensor-network',
  '/blog/2020/07/mqtt-at-home',
  '/images/pi-breadboard.jpg',
  '/css/site.css',
  '/js/app.js',
  '/api/readings?since=3600',
  '/favicon.ico',
  '/robots.txt',
];
const missing = ['/wp-login.php', '/.env', '/admin/config.php', '/old-page', '/images/missing.png'];
const agents = [
  'Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0.4147.105 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:78.0) Gecko/20100101 Firefox/78.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 13_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Mobile/15E148 Safari/604.1',
  'curl/7.68.0',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

let time = Date.UTC(2020, 6, 1, 12, 0, 0);
const lines: string[] = [];
for (let i = 0; i < lineCount; i++) {
  time += Math.floor(random() * 4000);
  const at = new Date(time);
  const stamp = `${two(at.getUTCDate())}/${months[at.getUTCMonth()]}/${at.getUTCFullYear()}:${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000`;
  const status = weighted([
    [200, 70],
    [304, 10],
    [404, 8],
    [301, 4],
    [302, 3],
    [500, 2],
    [403, 2],
    [503, 1],
  ] as const);
  const path = status === 404 ? pick(missing) : pick(pages);
  const method = status === 404 || random() < 0.9 ? 'GET' : 'POST';
  const bytes = status === 304 ? '-' : String(200 + Math.floor(random() * 40_000));
  const client =
    random() < 0.1
      ? `2001:db8::${Math.floor(random() * 0xffff).toString(16)}`
      : `192.0.2.${1 + Math.floor(random() * 254)}`;
  const referer = random() < 0.5 ? '-' : `https://example.org${pick(pages)}`;
  // About one line in a hundred is junk, so the demo shows rejects being counted, not fatal.
  if (random() < 0.01) {
    lines.push(`-- log rotated by logrotate at ${stamp} --`);
    continue;
  }
  lines.push(`${client} - - [${stamp}] "${method} ${path} HTTP/1.1" ${status} ${bytes} "${referer}" "${pick(agents)}"`);
}
writeFileSync(new URL('../examples/data/access.log', import.meta.url), lines.join('\n') + '\n');
console.log(`wrote ${lines.length} lines to examples/data/access.log`);
