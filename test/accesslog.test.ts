import { expect } from 'chai';
import { ACCESS_LOG_FIELDS } from '../src/accesslog/accessLogRecord.js';
import { Subject, from, lastValueFrom, toArray } from 'rxjs';
import {
  parseAccessLogLine,
  parseAccessLog,
  RejectionError,
  type AccessLogRecord,
  type Rejection,
} from '../src/index.js';

/** The record for a line that must parse; fails the test with the reason otherwise. */
function parsed(line: string): AccessLogRecord {
  const result = parseAccessLogLine(line);
  if (result._tag === 'Left') expect.fail(`expected a record for ${JSON.stringify(line)}, got: ${result.left}`);
  return result.right;
}

/** The reason for a line that must be rejected; fails the test if it parses. */
function rejected(line: string): string {
  const result = parseAccessLogLine(line);
  if (result._tag === 'Right')
    expect.fail(`expected ${JSON.stringify(line)} to be rejected, got ${JSON.stringify(result.right)}`);
  return result.left;
}

describe('parseAccessLogLine', () => {
  describe('formats', () => {
    it('reads the Common Log Format example of the Apache manual, applying the -0700 offset', () => {
      const line = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326';
      expect(parsed(line)).to.deep.equal({
        client: '127.0.0.1',
        ident: '-',
        user: 'frank',
        time: new Date('2000-10-10T20:55:36Z'),
        request: 'GET /apache_pb.gif HTTP/1.0',
        method: 'GET',
        path: '/apache_pb.gif',
        protocol: 'HTTP/1.0',
        status: 200,
        bytes: 2326,
        referer: null,
        userAgent: null,
        raw: line,
      });
    });

    it('reads the Combined example of the Apache manual, with [ ] and ; inside the user agent', () => {
      const line =
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';
      const record = parsed(line);
      expect(record.referer).to.equal('http://www.example.com/start.html');
      expect(record.userAgent).to.equal('Mozilla/4.08 [en] (Win98; I ;Nav)');
      expect(record.status).to.equal(200);
      expect(record.bytes).to.equal(2326);
      expect(record.raw).to.equal(line);
    });

    it("reads nginx's default combined, including a token in the user field (ployt0 corpus)", () => {
      const line =
        '45.148.120.0 - 0xd7950f0960741b8135566753fd3ee90d164792f3 [14/Sep/2022:21:17:30 +0000] "POST / HTTP/1.1" 405 31 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.61 Safari/537.36"';
      expect(parsed(line)).to.deep.equal({
        client: '45.148.120.0',
        ident: '-',
        user: '0xd7950f0960741b8135566753fd3ee90d164792f3',
        time: new Date('2022-09-14T21:17:30Z'),
        request: 'POST / HTTP/1.1',
        method: 'POST',
        path: '/',
        protocol: 'HTTP/1.1',
        status: 405,
        bytes: 31,
        referer: '-',
        userAgent:
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.61 Safari/537.36',
        raw: line,
      });
    });
  });

  describe('ident and user', () => {
    it('reads tokens that start with "-" or hold several words up to the date', () => {
      expect(parsed('h -x -y [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-x" "-"')).to.deep.include({
        ident: '-x',
        user: '-y',
        referer: '-x',
        userAgent: '-',
      });
      expect(parsed('h - - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 1')).to.deep.include({
        ident: '-',
        user: '- -',
      });
      expect(parsed('h ident alice [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 1')).to.deep.include({
        ident: 'ident',
        user: 'alice',
      });
    });
  });

  describe('clients', () => {
    it('keeps an IPv6 client whole, and applies a +0100 offset (logparser corpus)', () => {
      const record = parsed(
        '2001:41d0:8:f69::1 - - [29/Oct/2015:06:47:36 +0100] "GET / HTTP/1.1" 200 20526 "http://niels.basjes.nl/" "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Dragon/36.1.1.21 Chrome/36.0.1985.97 Safari/537.36"',
      );
      expect(record.client).to.equal('2001:41d0:8:f69::1');
      expect(record.time.toISOString()).to.equal('2015-10-29T05:47:36.000Z');
      expect(record.referer).to.equal('http://niels.basjes.nl/');
    });

    it('keeps a host name as the client (NASA corpus)', () => {
      const record = parsed(
        'pipe1.nyc.pipeline.com - - [01/Aug/1995:00:12:37 -0400] "GET /history/apollo/apollo-13/apollo-13-patch-small.gif" 200 12859',
      );
      expect(record.client).to.equal('pipe1.nyc.pipeline.com');
      expect(record.time.toISOString()).to.equal('1995-08-01T04:12:37.000Z');
    });
  });

  describe('bytes', () => {
    it('reads "-" as 0, as Apache %b writes "-" when no bytes were sent (NASA corpus)', () => {
      const record = parsed('cs1-06.leh.ptd.net - - [01/Aug/1995:01:17:38 -0400] "GET /sts-71/launch/" 404 -');
      expect(record.bytes).to.equal(0);
      expect(record.status).to.equal(404);
      expect(record.method).to.equal('GET');
      expect(record.path).to.equal('/sts-71/launch/');
      expect(record.protocol).to.equal(null);
    });

    it('reads "-" as 0 in a combined line too (elastic corpus)', () => {
      const record = parsed(
        '218.30.103.62 - - [17/May/2015:11:05:11 +0000] "GET /robots.txt HTTP/1.1" 200 - "-" "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)"',
      );
      expect(record.bytes).to.equal(0);
      expect(record.userAgent).to.equal('Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)');
    });

    it('reads large sizes exactly', () => {
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "GET /big HTTP/1.1" 200 123456789012345').bytes).to.equal(
        123456789012345,
      );
    });
  });

  describe('requests', () => {
    it('keeps escaped quotes as logged in the request, referer and user agent, ending each at the unescaped quote', () => {
      const line = String.raw`10.0.0.1 - - [01/Jan/2020:00:00:00 +0000] "GET /say?q=\"hi\" HTTP/1.1" 200 5 "http://x/?a=\"b\"" "Agent \"quoted\" \\"`;
      const record = parsed(line);
      expect(record.request).to.equal(String.raw`GET /say?q=\"hi\" HTTP/1.1`);
      expect(record.path).to.equal(String.raw`/say?q=\"hi\"`);
      expect(record.protocol).to.equal('HTTP/1.1');
      expect(record.referer).to.equal(String.raw`http://x/?a=\"b\"`);
      expect(record.userAgent).to.equal(String.raw`Agent \"quoted\" \\`);
    });

    it('gives an empty request "" no method, path or protocol (ployt0 corpus)', () => {
      expect(parsed('76.72.172.0 - - [03/Sep/2022:02:43:16 +0000] "" 400 0 "-" "-"')).to.deep.include({
        request: '',
        method: null,
        path: null,
        protocol: null,
        status: 400,
        bytes: 0,
        referer: '-',
        userAgent: '-',
      });
    });

    it('keeps a binary junk request written as \\xNN as text, with no method, path or protocol (ployt0 corpus)', () => {
      const line = String.raw`62.233.50.0 - - [02/Sep/2022:03:33:24 +0000] "\x03\x00\x00/*\xE0\x00\x00\x00\x00\x00Cookie: mstshash=Administr" 400 157 "-" "-"`;
      expect(parsed(line)).to.deep.include({
        request: String.raw`\x03\x00\x00/*\xE0\x00\x00\x00\x00\x00Cookie: mstshash=Administr`,
        method: null,
        path: null,
        protocol: null,
        status: 400,
        bytes: 157,
      });
    });

    it('gives one-word requests (HELP, SSH-2.0-Go) no method, since they are not request lines', () => {
      for (const request of ['HELP', 'SSH-2.0-Go', 'MGLNDD_107.175.245.18_443']) {
        expect(
          parsed(`1.2.3.4 - - [15/Sep/2022:15:27:55 +0000] "${request}" 400 157 "-" "-"`),
          request,
        ).to.deep.include({ request, method: null, path: null, protocol: null });
      }
    });

    it('reads a request without a protocol (HTTP/0.9 style) with protocol null', () => {
      expect(parsed('h - - [01/Aug/1995:00:12:37 -0400] "GET /x" 200 1')).to.deep.include({
        method: 'GET',
        path: '/x',
        protocol: null,
      });
    });

    it('keeps a malformed protocol as sent (NASA corpus HTTP/V1.0)', () => {
      expect(
        parsed('remote50.compusmart.ab.ca - - [01/Aug/1995:02:43:28 -0400] "GET / HTTP/V1.0" 200 7280'),
      ).to.deep.include({ method: 'GET', path: '/', protocol: 'HTTP/V1.0', status: 200, bytes: 7280 });
    });

    it('takes the protocol after the last space, so a target with spaces stays whole', () => {
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "GET /a b c HTTP/1.1" 400 0')).to.deep.include({
        method: 'GET',
        path: '/a b c',
        protocol: 'HTTP/1.1',
      });
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "GET /x " 400 0')).to.deep.include({
        method: 'GET',
        path: '/x',
        protocol: null,
      });
    });

    it('reads methods with _ and - (SSTP_DUPLEX_POST, VERSION-CONTROL) and CONNECT targets', () => {
      expect(
        parsed(
          'h - - [04/Sep/2022:09:03:37 +0000] "SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1" 400 157 "-" "-"',
        ),
      ).to.deep.include({
        method: 'SSTP_DUPLEX_POST',
        path: '/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/',
        protocol: 'HTTP/1.1',
      });
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "VERSION-CONTROL /r HTTP/1.1" 200 1').method).to.equal(
        'VERSION-CONTROL',
      );
      expect(
        parsed('h - - [19/Sep/2022:01:33:37 +0000] "CONNECT www.msftncsi.com:443 HTTP/1.1" 400 157 "-" "-"').path,
      ).to.equal('www.msftncsi.com:443');
    });

    it('gives a lower-case or JSON-looking first word no method', () => {
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "get / HTTP/1.1" 400 0').method).to.equal(null);
      expect(parsed(String.raw`h - - [01/Jan/2020:00:00:00 +0000] "{\x22id\x22:1} x" 400 0`).method).to.equal(null);
    });
  });

  describe('referer and user agent', () => {
    it('accepts the elastic corpus line 8899 whose user agent is cut off, keeping the text up to the end of the line', () => {
      const line =
        '46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html';
      expect(parsed(line)).to.deep.include({
        status: 200,
        bytes: 235,
        referer: '-',
        userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html',
      });
      expect(parsed(`${line}\r\n`).userAgent).to.equal(
        'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html',
      );
    });

    it('keeps a cut-off referer up to the end of the line, with no user agent', () => {
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "http://cut')).to.deep.include({
        referer: 'http://cut',
        userAgent: null,
      });
    });

    it('ignores trailing extra fields such as an X-Forwarded-For "-" or a response time', () => {
      const base =
        '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203023 "http://semicomplete.com/" "Mozilla/5.0"';
      const plain = parsed(base);
      for (const extra of [' "-"', ' "203.0.113.7, 10.0.0.1" 0.004', ' 1234 example.com']) {
        const record = parsed(base + extra);
        // Field by field, not by spreading: a record's fields are getters on its class
        // (made on first read), so `{ ...record }` copies none of them.
        for (const field of ACCESS_LOG_FIELDS.filter((name) => name !== 'raw')) {
          expect(record[field], `${extra}: ${field}`).to.deep.equal(plain[field]);
        }
        expect(record.raw).to.equal(base + extra);
      }
    });

    it('reads a line that has a referer but no user agent', () => {
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-"')).to.deep.include({
        referer: '-',
        userAgent: null,
      });
    });

    it('gives a CLF line with trailing unquoted fields no referer and no user agent', () => {
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 1 extra')).to.deep.include({
        referer: null,
        userAgent: null,
        bytes: 1,
      });
    });
  });

  describe('line endings', () => {
    const line = '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "curl"';

    it('gives the same record, raw without the ending, for LF, CRLF, CR and no ending', () => {
      const bare = parsed(line);
      for (const ending of ['\n', '\r\n', '\r'])
        expect(parsed(line + ending), JSON.stringify(ending)).to.deep.equal(bare);
      expect(bare.raw).to.equal(line);
    });

    it('keeps the user agent intact before a CRLF on a CLF and a combined line', () => {
      expect(parsed(`${line}\r\n`).userAgent).to.equal('curl');
      expect(parsed('h - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 -\r\n')).to.deep.include({
        bytes: 0,
        referer: null,
      });
    });
  });

  describe('time', () => {
    it('applies offsets across midnight and the year, including half-hour zones', () => {
      expect(parsed('h - - [31/Dec/1999:23:30:00 -0100] "GET / HTTP/1.1" 200 1').time.toISOString()).to.equal(
        '2000-01-01T00:30:00.000Z',
      );
      expect(parsed('h - - [01/Jan/2000:05:00:00 +0530] "GET / HTTP/1.1" 200 1').time.toISOString()).to.equal(
        '1999-12-31T23:30:00.000Z',
      );
    });

    it('reads every month name as Apache writes it, on its last day', () => {
      const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
      months.forEach((name, index) => {
        const lastDay = new Date(Date.UTC(2024, index + 1, 0)).getUTCDate();
        const record = parsed(`h - - [${lastDay}/${name}/2024:23:59:59 +0000] "GET / HTTP/1.1" 200 1`);
        expect(record.time.getTime(), name).to.equal(Date.UTC(2024, index, lastDay, 23, 59, 59));
      });
    });

    it('matches Date.UTC for leap days and century years', () => {
      expect(parsed('h - - [29/Feb/2000:12:00:00 +0000] "GET / HTTP/1.1" 200 1').time.getTime()).to.equal(
        Date.UTC(2000, 1, 29, 12),
      );
      expect(parsed('h - - [29/Feb/2020:12:00:00 +0000] "GET / HTTP/1.1" 200 1').time.getTime()).to.equal(
        Date.UTC(2020, 1, 29, 12),
      );
      expect(parsed('h - - [01/Mar/1900:00:00:00 +0000] "GET / HTTP/1.1" 200 1').time.getTime()).to.equal(
        Date.UTC(1900, 2, 1),
      );
      expect(parsed('h - - [01/Jan/1970:00:00:00 +0000] "GET / HTTP/1.1" 200 1').time.getTime()).to.equal(0);
    });
  });

  describe('rejections', () => {
    const good = '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326';

    it('rejects plain text and empty lines as not access-log lines', () => {
      expect(rejected('hello world')).to.match(/^not an access-log line/);
      expect(rejected('The quick brown fox jumps over the lazy dog')).to.match(/^not an access-log line .*" \[date\]"/);
      expect(rejected('')).to.equal('the line is empty');
      expect(rejected('\r\n')).to.equal('the line is empty');
      expect(rejected('   ')).to.match(/^not an access-log line/);
    });

    it('rejects impossible or foreign dates, quoting them', () => {
      expect(rejected(good.replace('10/Oct/2000', '32/Foo/2020'))).to.equal(
        'the date "32/Foo/2020:13:55:36 -0700" is not a valid [dd/Mon/yyyy:HH:MM:SS ±hhmm]',
      );
      for (const date of [
        '32/Oct/2000:13:55:36 -0700',
        '29/Feb/2019:13:55:36 -0700',
        '31/Apr/2000:13:55:36 -0700',
        '10/oct/2000:13:55:36 -0700',
        '10/Oct/2000:24:00:00 -0700',
        '10/Oct/2000:13:60:36 -0700',
        '10/Oct/2000:13:55:60 -0700',
        '10/Oct/2000:13:55:36 -2400',
        '10/Oct/2000:13:55:36 -0760',
        '10/Oct/2000:13:55:36 x0700',
        '10/Oct/2000 13:55:36 -0700',
        '00/Oct/2000:13:55:36 -0700',
      ]) {
        expect(rejected(good.replace('10/Oct/2000:13:55:36 -0700', date)), date).to.equal(
          `the date "${date}" is not a valid [dd/Mon/yyyy:HH:MM:SS ±hhmm]`,
        );
      }
      expect(rejected(good.replace('10/Oct/2000:13:55:36 -0700', '10/Oct/2000:13:55:36'))).to.equal(
        'the date "10/Oct/2000:13:55:36" is not a valid [dd/Mon/yyyy:HH:MM:SS ±hhmm]',
      );
      expect(rejected(good.replace('10/Oct/2000:13:55:36 -0700', '2000-10-10T13:55:36Z'))).to.match(
        /^the date "2000-10-10T13:55:36Z" is not/,
      );
    });

    it('rejects a status that is not exactly three digits', () => {
      expect(rejected(good.replace(' 200 ', ' 2000 '))).to.equal('the status "2000" is not a three-digit number');
      expect(rejected(good.replace(' 200 ', ' OK '))).to.equal('the status "OK" is not a three-digit number');
      expect(rejected(good.replace(' 200 ', ' 20 '))).to.equal('the status "20" is not a three-digit number');
      expect(rejected(good.replace(' 200 ', ' 2x0 '))).to.equal('the status "2x0" is not a three-digit number');
      expect(rejected(good.replace(' 200 ', ' - '))).to.equal('the status "-" is not a three-digit number');
    });

    it('rejects bytes that are not a number or "-", and a missing bytes field', () => {
      expect(rejected(good.replace(' 2326', ' abc'))).to.equal('the bytes "abc" are not a number or "-"');
      expect(rejected(good.replace(' 2326', ' 23x6'))).to.equal('the bytes "23x6" are not a number or "-"');
      expect(rejected(good.replace(' 2326', ' --'))).to.equal('the bytes "--" are not a number or "-"');
      expect(rejected(good.replace(' 2326', ' -1'))).to.equal('the bytes "-1" are not a number or "-"');
      expect(rejected(good.replace(' 2326', ''))).to.equal('no bytes field after the status');
      expect(rejected(good.replace(' 2326', ' '))).to.equal('the bytes "" are not a number or "-"');
    });

    it('rejects a request that is not quoted or never closed', () => {
      expect(rejected('h - - [10/Oct/2000:13:55:36 -0700] GET / HTTP/1.0 200 1')).to.equal(
        'no quoted request after the date: " GET / HTTP/1.0 200 1"',
      );
      expect(rejected(String.raw`h - - [10/Oct/2000:13:55:36 -0700] "GET /\" 200 1`)).to.match(
        /^the request has no closing quote: /,
      );
    });

    it('rejects text holding more than one line', () => {
      expect(rejected(`${good}\n${good}`)).to.match(/^the text holds more than one line/);
    });

    it('never invents a field: a rejection carries only a reason', () => {
      expect(parseAccessLogLine('hello world')).to.deep.equal({
        _tag: 'Left',
        left: 'not an access-log line (no ident field after the client): "hello world"',
      });
    });

    it('keeps reasons short for huge junk lines', () => {
      expect(rejected('x'.repeat(100_000)).length).to.be.below(200);
    });
  });
});

describe('parseAccessLog', () => {
  const good = '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326';

  it('emits a record per line and hands each bad line to onReject with kind "line", then completes', async () => {
    const rejections: Rejection[] = [];
    const lengths: number[] = [];
    const records = await lastValueFrom(
      from([good, 'hello world', `${good}\n`]).pipe(
        // rejection.input is typed string here: the overloads keep the source type.
        parseAccessLog({
          onReject: (rejection) => {
            rejections.push(rejection);
            lengths.push(rejection.input.length);
          },
        }),
        toArray(),
      ),
    );
    expect(records.map((record) => record.status)).to.deep.equal([200, 200]);
    expect(records[1]!.raw).to.equal(good);
    expect(lengths).to.deep.equal([11]);
    expect(rejections).to.deep.equal([
      {
        operator: 'parseAccessLog',
        kind: 'line',
        input: 'hello world',
        reason: 'not an access-log line (no ident field after the client): "hello world"',
      },
    ]);
  });

  it('with strict, errors the stream with a RejectionError at the first bad line', async () => {
    const error = await lastValueFrom(from([good, 'hello world', good]).pipe(parseAccessLog({ strict: true }))).then(
      () => expect.fail('the stream should have errored'),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RejectionError);
    expect((error as RejectionError).rejection).to.deep.include({ kind: 'line', input: 'hello world' });
  });

  it('with line, reads the line from each value and emits { record, input }; a rejection carries the value', async () => {
    interface Item {
      id: number;
      text?: string;
    }
    const rejections: Rejection<Item>[] = [];
    const values: Item[] = [{ id: 1, text: good }, { id: 2, text: '32/Foo/2020' }, { id: 3 }];
    const emitted = await lastValueFrom(
      from(values).pipe(
        parseAccessLog({ line: (value: Item) => value.text as string, onReject: (r) => rejections.push(r) }),
        toArray(),
      ),
    );
    expect(emitted).to.have.length(1);
    expect(emitted[0]!.input).to.equal(values[0]);
    expect(emitted[0]!.record.time.toISOString()).to.equal('2000-10-10T20:55:36.000Z');
    expect(rejections.map((r) => [r.kind, r.input.id, r.reason])).to.deep.equal([
      ['line', 2, 'not an access-log line (it does not start with a client followed by a space): "32/Foo/2020"'],
      ['line', 3, 'expected a line of text, got undefined'],
    ]);
  });

  it('rejects values that are not strings instead of throwing', async () => {
    const reasons: string[] = [];
    const records = await lastValueFrom(
      from([42, null, Buffer.from(good)] as unknown as string[]).pipe(
        parseAccessLog({ onReject: (r) => reasons.push(r.reason) }),
        toArray(),
      ),
    );
    expect(records).to.deep.equal([]);
    expect(reasons).to.deep.equal([
      'expected a line of text, got number',
      'expected a line of text, got null',
      'expected a line of text, got Buffer',
    ]);
  });

  it('errors the stream when the line selector throws, and passes source errors through', async () => {
    const thrown = await lastValueFrom(
      from([1]).pipe(
        parseAccessLog({
          line: () => {
            throw new Error('boom');
          },
        }),
      ),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((thrown as Error).message).to.equal('boom');
    const source = new Subject<string>();
    const errors: unknown[] = [];
    source.pipe(parseAccessLog()).subscribe({ error: (e) => errors.push(e) });
    source.error(new Error('upstream'));
    expect((errors[0] as Error).message).to.equal('upstream');
  });

  it('unsubscribes from the source on teardown', () => {
    const source = new Subject<string>();
    const statuses: number[] = [];
    const subscription = source.pipe(parseAccessLog()).subscribe((record) => statuses.push(record.status));
    source.next(good);
    expect(source.observed).to.equal(true);
    subscription.unsubscribe();
    expect(source.observed).to.equal(false);
    source.next(good);
    expect(statuses).to.deep.equal([200]);
  });
});
