// logs ship against moto: redaction, validation, multipart upload, verification, retries
// through a fault proxy, idempotent re-shipping, both layouts, and the Slack notification.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { motoAvailable } from '../../support/moto.js';
import { useMoto, useS3FaultProxy, useSlack } from '../../support/fixtures.js';
import { createBucket } from '../../support/aws-fixtures.js';
import { createSourceBuckets } from '../../support/shipping-stack.js';
import { runCli } from '../../support/run-cli.js';
import { DEFAULT_REDACTIONS, Redactor, redactionRules } from '../../../src/lib/core/redaction.js';
import { dateInName } from '../../../src/lib/shipping/layout.js';

const BUCKET = 'raxx-heroku-logs-prod';
const DATED_BUCKET = 'raxx-shipped-logs-test';
const PLAIN_BUCKET = 'raxx-ship-plain';
const now = () => new Date('2025-06-05T12:00:00Z');

describe('redaction table', () => {
  const cases: [name: string, input: string, output: string][] = [
    ['bearer token', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_', 'Authorization: Bearer [REDACTED:jwt]'],
    ['bearer, lower case', 'auth=bearer abc123def456', 'auth=bearer [REDACTED]'],
    ['password=', 'login user=bob password=hunter2 ok', 'login user=bob password=[REDACTED] ok'],
    ['token= in a query', 'GET /cb?code=1&token=s3cr3t&x=2', 'GET /cb?code=1&token=[REDACTED]&x=2'],
    ['access_token= and client_secret=', 'access_token=AAA client_secret=BBB', 'access_token=[REDACTED] client_secret=[REDACTED]'],
    ['secret= up to a quote', 'cfg "secret=xyz" end', 'cfg "secret=[REDACTED]" end'],
    ['JSON password field', '{"user":"bob","password":"hun\\"ter2","n":1}', '{"user":"bob","password":"[REDACTED]","n":1}'],
    ['JSON api token field', '{"api_token": "abc"}', '{"api_token": "[REDACTED]"}'],
    ['e-mail address', 'sent to jane.doe+ops@example.co.uk today', 'sent to [REDACTED:email] today'],
    ['AWS secret key', 'key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done', 'key [REDACTED:aws-secret-key] done'],
    ['aws_secret_access_key=', 'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key=[REDACTED]'],
    ['a git SHA is not a secret key', 'commit 9fceb02d0ae598e95dc970b74767f19372d61af8', 'commit 9fceb02d0ae598e95dc970b74767f19372d61af8'],
    ['41 characters are not a secret key', 'x wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ', 'x wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ'],
    ['nothing to redact', 'GET /health 200 12ms', 'GET /health 200 12ms'],
    // logfmt quotes a value with spaces; the whole quoted value is the secret (the quotes stay, so the line still parses).
    ['password="…" (logfmt)', 'login user=bob password="hunter2 x" ok', 'login user=bob password="[REDACTED]" ok'],
    ["password='…'", "login password='hunter2' ok", "login password='[REDACTED]' ok"],
    ['spaces around =', 'password = hunter2 token\t=\tabc', 'password = [REDACTED] token\t=\t[REDACTED]'],
    ['an escaped quoted value inside a JSON string', '{"msg":"login password=\\"hunter2 x\\" ok"}', '{"msg":"login password=\\"[REDACTED]\\" ok"}'],
    ['JSON number secret (a one-time code)', '{"token": 123456, "pin":1}', '{"token": "[REDACTED]", "pin":1}'],
    ['api_key= and secretKey=', 'api_key=abc apiKey=def secretKey=ghi', 'api_key=[REDACTED] apiKey=[REDACTED] secretKey=[REDACTED]'],
  ];
  for (const [name, input, output] of cases) {
    it(name, () => {
      const r = new Redactor(DEFAULT_REDACTIONS);
      expect(r.line(input)).toBe(output);
      // Every replacement is counted, and nothing is counted when nothing changed.
      expect(r.total > 0).toBe(input !== output);
    });
  }

  it("a source's own patterns, with groups, on top of (or instead of) the defaults", () => {
    const own = [{ name: 'card', pattern: '(\\d{4})[ -]?\\d{4}[ -]?\\d{4}[ -]?(\\d{4})', replacement: '$1-****-****-$2' }];
    const both = new Redactor(redactionRules({ redact: own, defaultRedaction: true }));
    expect(both.line('card 4111 1111 1111 1234 by a@b.io')).toBe('card 4111-****-****-1234 by [REDACTED:email]');
    expect(both.counts).toMatchObject({ card: 1, email: 1 });
    const only = new Redactor(redactionRules({ redact: own, defaultRedaction: false }));
    expect(only.line('card 4111111111111234 by a@b.io')).toBe('card 4111-****-****-1234 by a@b.io');
  });

  it('dates in file names', () => {
    expect(dateInName('/var/log/auth-2025-06-01.log')).toBe('2025-06-01');
    expect(dateInName('api.20250601.jsonl')).toBe('2025-06-01');
    expect(dateInName('/2025-06-01/auth.log')).toBeUndefined();
    expect(dateInName('auth-2025-02-30.log')).toBeUndefined();
  });
});

describe('logs ship: bad input (exit 2 with a hint)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raxx-ship-bad-'));
    await writeFile(join(dir, 'a.log'), 'x\n');
    await writeFile(join(dir, 'auth-2025-06-06.log'), 'x\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const cases: { name: string; argv: (d: string) => string[]; stderr: RegExp }[] = [
    { name: 'invalid source name', argv: () => ['Auth_Logs', '-', '--date', '2025-06-01'], stderr: /<source>: not a valid source name/ },
    { name: 'stdin without --date', argv: () => ['auth', '-'], stderr: /reading stdin needs --date/ },
    { name: 'bad --date', argv: (d) => ['auth', join(d, 'a.log'), '--date', '2025-06-31'], stderr: /--date: "2025-06-31" is not a date/ },
    { name: '--date with --days', argv: (d) => ['auth', join(d, 'a.log'), '--date', '2025-06-01', '--days', '3'], stderr: /--date and --days cannot be used together/ },
    { name: 'missing file', argv: (d) => ['auth', join(d, 'nope.log'), '--date', '2025-06-01'], stderr: /nope\.log: no such file/ },
    { name: 'a folder', argv: (d) => ['auth', d, '--date', '2025-06-01'], stderr: /not a file/ },
    { name: '--delete-after on stdin', argv: () => ['auth', '-', '--date', '2025-06-01', '--delete-after'], stderr: /--delete-after cannot delete stdin/ },
    { name: 'stdin twice', argv: () => ['auth', '-', '-', '--date', '2025-06-01'], stderr: /stdin \(-\) named more than once/ },
    { name: 'bad --format', argv: (d) => ['auth', join(d, 'a.log'), '--format', 'xml'], stderr: /--format: must be auto, json or plain/ },
    { name: 'a day after today (a mistyped year)', argv: (d) => ['auth', join(d, 'a.log'), '--date', '2052-06-01'], stderr: /a\.log: dated 2052-06-01, after today \(2025-06-05 UTC\)[\s\S]*hint: check --date/ },
    { name: 'a file named with a day after today', argv: (d) => ['auth', join(d, 'auth-2025-06-06.log')], stderr: /auth-2025-06-06\.log: dated 2025-06-06, after today[\s\S]*hint: the date comes from the file name/ },
    { name: '--days zero', argv: (d) => ['auth', join(d, 'a.log'), '--days', '0'], stderr: /--days: must be at least 1/ },
  ];
  for (const c of cases) {
    it(`${c.name} → 2`, async () => {
      const r = await runCli(['logs', 'ship', ...c.argv(dir)], { now, env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' } });
      expect(r.stderr).toMatch(c.stderr);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/hint:/);
      expect(r.stdout).toBe('');
    });
  }
});

describe.skipIf(!motoAvailable)('logs ship (moto)', () => {
  const moto = useMoto();
  const proxy = useS3FaultProxy(() => moto.endpoint);
  const slack = useSlack();
  const { aws } = moto;
  let dir: string;
  let config: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    await createSourceBuckets(aws, [BUCKET, DATED_BUCKET]);
    // A bucket without versioning, as a source may have.
    await createBucket(aws, PLAIN_BUCKET);
    dir = await mkdtemp(join(tmpdir(), 'raxx-ship-'));
    config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        logSources: [
          { name: 'auth', required: true },
          { name: 'batch', layout: 'dated', bucket: DATED_BUCKET, redact: [{ name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b', replacement: '[SSN]' }] },
          { name: 'plain', layout: 'dated', bucket: PLAIN_BUCKET },
        ],
      }),
    );
    env = { ...moto.env, AWS_ENDPOINT_URL: proxy.endpoint, RAXX_OPS_CONFIG: config, SLACK_WEBHOOK_URL: slack.url };
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const ship = (args: string[], opts: { stdin?: Readable } = {}) => runCli(['logs', 'ship', ...args, '--retry-base-ms', '10'], { env, now, ...opts });

  async function read(bucket: string, key: string): Promise<{ text: string; metadata: Record<string, string> }> {
    const s3 = await aws.s3();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { text: gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8'), metadata: got.Metadata ?? {} };
  }

  async function versions(bucket: string, key: string): Promise<number> {
    const s3 = await aws.s3();
    const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    return (res.Versions ?? []).filter((v) => v.Key === key).length;
  }

  it('a multi-megabyte file: multipart upload, read back identical after redaction, readable by logs grep', async () => {
    // ~20 MB of random hex (gzip keeps about half: several 8 MiB parts), secrets every 5,000 lines.
    const lines: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 160_000; i++) {
      const filler = randomBytes(60).toString('hex');
      if (i % 5000 === 0) {
        lines.push(`${i} login ok user=ops@example.com password=pw${i} ${filler}`);
        expected.push(`${i} login ok user=[REDACTED:email] password=[REDACTED] ${filler}`);
      } else {
        lines.push(`${i} GET /api/items ${filler}`);
        expected.push(`${i} GET /api/items ${filler}`);
      }
    }
    const file = join(dir, 'auth-2025-06-01.log');
    await writeFile(file, lines.join('\n') + '\n');
    const r = await ship(['auth', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = r.json<{ days: { status: string; key: string; lines: number; badLines: number; redactions: number; bytesIn: number; bytesOut: number; attempts: number }[] }>();
    const day = doc.days[0]!;
    expect(day).toMatchObject({ status: 'shipped', key: 'logs/auth/2025/06/01/1748736000000-shipped.gz', lines: 160_000, badLines: 0, redactions: 64, attempts: 1 });
    expect(day.bytesIn).toBeGreaterThan(19_000_000);
    expect(day.bytesOut).toBeGreaterThan(8 * 1024 * 1024);
    // Several parts went up: the multipart path, not one PUT.
    expect(proxy.seen.filter((s) => s.startsWith('PUT ') && s.includes('partNumber=')).length).toBeGreaterThanOrEqual(2);
    const back = await read(BUCKET, day.key);
    expect(back.text).toBe(expected.join('\n') + '\n');
    expect(back.metadata).toMatchObject({ lines: '160000', 'bad-lines': '0', redactions: '64' });
    expect(back.metadata.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(file)).toBe(true);

    // The receiver's readers read it like a drained batch.
    const g = await runCli(['logs', 'grep', '-c', 'login ok', '--app', 'auth', '--date', '2025-06-01'], { env, now });
    expect(g.stdout.trim()).toBe('32');
  }, 120_000);

  it('a multipart upload into a bucket without versioning is verified too', async () => {
    const lines = Array.from({ length: 160_000 }, (_, i) => `${i} GET /api/items ${randomBytes(60).toString('hex')}`);
    const file = join(dir, 'plain-2025-06-01.log');
    await writeFile(file, lines.join('\n') + '\n');
    const r = await ship(['plain', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const got = await read(PLAIN_BUCKET, 'plain/2025-06-01/plain.log.gz');
    expect(got.text).toBe(lines.join('\n') + '\n');
  });

  it('re-shipping the same content is idempotent; different content is refused unless --replace', async () => {
    const file = join(dir, 'auth-2025-06-02.log');
    await writeFile(file, 'one token=abc\ntwo\n');
    const first = await ship(['auth', file]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^auth 2025-06-02 shipped: 2 lines \(0 bad\), 1 redactions, 18 B in, \d+ B gzipped, s3:\/\/raxx-heroku-logs-prod\/logs\/auth\/2025\/06\/02\/1748822400000-shipped\.gz\n$/);
    const key = 'logs/auth/2025/06/02/1748822400000-shipped.gz';

    proxy.setFaults([]);
    const again = await ship(['auth', file, '--delete-after']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/auth 2025-06-02 already shipped, unchanged: .*; deleted /);
    // Nothing sent but the run's history record.
    expect(proxy.seen.filter((s) => s.startsWith('PUT ') && !s.includes('/shipping-history/'))).toEqual([]);
    expect(await versions(BUCKET, key)).toBe(1);
    expect(existsSync(file)).toBe(false);

    await writeFile(file, 'one token=abc\ntwo\nthree\n');
    const refused = await ship(['auth', file, '--delete-after']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/auth 2025-06-02 was already shipped with different content/);
    expect(refused.stderr).toMatch(/hint: .*--replace/);
    expect(existsSync(file)).toBe(true);
    expect(slack.messages).toHaveLength(1);

    const dry = await ship(['auth', file, '--replace', '--dry-run']);
    expect(dry.stdout).toMatch(/would replace/);
    expect(await versions(BUCKET, key)).toBe(1);

    const replaced = await ship(['auth', file, '--replace', '--yes', '--json']);
    expect(replaced.code).toBe(0);
    const doc = replaced.json<{ days: { status: string; versionId: string; previousVersionId: string }[] }>();
    expect(doc.days[0]!.status).toBe('replaced');
    expect(doc.days[0]!.previousVersionId).toBeTruthy();
    expect(doc.days[0]!.versionId).not.toBe(doc.days[0]!.previousVersionId);
    expect(await versions(BUCKET, key)).toBe(2);
    expect((await read(BUCKET, key)).text).toBe('one token=[REDACTED]\ntwo\nthree\n');
  });

  it('a malformed JSON line is kept, reported with its line number, and counted', async () => {
    const file = join(dir, 'auth-2025-06-03.jsonl');
    await writeFile(file, '{"msg":"ok","email":"a@b.io"}\n{"pw": hunter2\n{"msg":"fine"}\n');
    const r = await ship(['auth', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/auth-2025-06-03\.jsonl:2: not valid JSON \(Unexpected token 'h'\); shipped as it is/);
    // JSON.parse quotes the line in its message: that excerpt is unredacted input.
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stdout).toMatch(/3 lines \(1 bad\), 1 redactions/);
    const back = await read(BUCKET, 'logs/auth/2025/06/03/1748908800000-shipped.gz');
    expect(back.text).toBe('{"msg":"ok","email":"[REDACTED:email]"}\n{"pw": hunter2\n{"msg":"fine"}\n');
    expect(back.metadata['bad-lines']).toBe('1');
  });

  it('S3 failures are retried with backoff, then the upload succeeds and is verified', async () => {
    // The SDK's own 3 attempts absorb 3 of them; the shipping job's retry takes over after.
    // (The upload's own PUTs: the day's stale mark before it is a PUT of its own.)
    proxy.setFaults([{ method: 'PUT', path: (p) => p.includes('/logs/auth/'), times: 4, status: 503 }]);
    const r = await ship(['auth', '-', '--date', '2025-06-04', '--json'], { stdin: Readable.from(['retry me\n', 'please\n']) });
    expect(r.code).toBe(0);
    expect(proxy.faulted).toHaveLength(4);
    expect(r.stderr).toMatch(/auth 2025-06-04: attempt 1 failed \(.*SlowDown.*\); retrying in 10 ms/);
    expect(r.json<{ days: { attempts: number; status: string }[] }>().days[0]).toMatchObject({ attempts: 2, status: 'shipped' });
    expect((await read(BUCKET, 'logs/auth/2025/06/04/1748995200000-shipped.gz')).text).toBe('retry me\nplease\n');
    expect(slack.messages).toEqual([]);
  });

  it('a checksum that reads back wrong is detected, retried 3 times, then fails: exit 4, one notification, the file kept', async () => {
    proxy.setFaults([{ method: 'HEAD', path: (p) => p.includes('2025/06/05') || p.includes('2025-06-05'), rewriteHeaders: { 'x-amz-meta-sha256': '0'.repeat(64) } }]);
    const file = join(dir, 'auth-2025-06-05.log');
    await writeFile(file, 'Authorization: Bearer abcdefghijkl\n');
    const r = await ship(['auth', file, '--delete-after']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/error: checksum mismatch at s3:\/\/raxx-heroku-logs-prod\/logs\/auth\/2025\/06\/05\/.*metadata sha256 0{64}/);
    expect(r.stderr.match(/attempt \d failed/g)).toHaveLength(3);
    expect(existsSync(file)).toBe(true);
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toMatch(/logs ship: auth 2025-06-05 failed .*checksum mismatch/);
    // The webhook URL is a secret: never in the output.
    expect(r.stderr + r.stdout).not.toContain('slacksecrettoken123');
  });

  // Another run ships the same day between this run's check of the key and its upload: the
  // check is made to miss the object (a HEAD answered 404), which is exactly what the race does.
  const missedCheck = (day: string) => proxy.setFaults([{ method: 'HEAD', path: (p) => p.includes(day), times: 1, status: 404 }]);

  it('two runs at once with different content: the second never overwrites the first (exit 2, one version)', async () => {
    const key = 'logs/auth/2025/05/20/1747699200000-shipped.gz';
    const first = await ship(['auth', '-', '--date', '2025-05-20'], { stdin: Readable.from(['first run\n']) });
    expect(first.code).toBe(0);
    missedCheck('2025/05/20');
    const second = await ship(['auth', '-', '--date', '2025-05-20', '--json'], { stdin: Readable.from(['second run\n']) });
    expect(second.code).toBe(2);
    expect(second.json<{ error: { message: string } }>().error.message).toMatch(/changed while this run was shipping it .*nothing was overwritten/);
    expect(second.stderr).toMatch(/hint: .*--replace/);
    expect(await versions(BUCKET, key)).toBe(1);
    expect((await read(BUCKET, key)).text).toBe('first run\n');
  });

  it('two runs at once with the same content (or an upload whose answer was lost): one object, both succeed', async () => {
    const key = 'logs/auth/2025/05/21/1747785600000-shipped.gz';
    expect((await ship(['auth', '-', '--date', '2025-05-21'], { stdin: Readable.from(['same\n']) })).code).toBe(0);
    missedCheck('2025/05/21');
    const again = await ship(['auth', '-', '--date', '2025-05-21', '--json'], { stdin: Readable.from(['same\n']) });
    expect(again.code).toBe(0);
    expect(again.json<{ days: { status: string }[] }>().days[0]!.status).toBe('shipped');
    expect(await versions(BUCKET, key)).toBe(1);
  });

  it("the dated layout, a source's own bucket and patterns, from stdin", async () => {
    const r = await ship(['batch', '-', '--date', '2025-06-01', '--json'], { stdin: Readable.from(['job 7 ssn 123-45-6789 by x@y.org\n', 'done']) });
    expect(r.code).toBe(0);
    const day = r.json<{ bucket: string; layout: string; days: { key: string; redactionsByRule: Record<string, number> }[] }>();
    expect(day).toMatchObject({ bucket: DATED_BUCKET, layout: 'dated' });
    expect(day.days[0]!.key).toBe('batch/2025-06-01/batch.log.gz');
    expect(day.days[0]!.redactionsByRule).toMatchObject({ ssn: 1, email: 1 });
    expect((await read(DATED_BUCKET, 'batch/2025-06-01/batch.log.gz')).text).toBe('job 7 ssn [SSN] by [REDACTED:email]\ndone\n');
  });

  it('several days: one refused, the others still shipped; one notification for the failed day', async () => {
    const shipped = join(dir, 'api-2025-05-20.log');
    await writeFile(shipped, 'first version\n');
    expect((await ship(['api', shipped])).code).toBe(0);
    await writeFile(shipped, 'second version\n');
    const fresh = join(dir, 'api-2025-05-21.log');
    await writeFile(fresh, 'a new day\n');
    slack.messages.length = 0;
    const r = await ship(['api', shipped, fresh]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: 1 of 2 day\(s\) of api failed to ship/);
    expect(r.stderr).toMatch(/api 2025-05-21 shipped: 1 lines/);
    expect(r.stderr).toMatch(/error: api 2025-05-20: api 2025-05-20 was already shipped with different content/);
    expect((await read(BUCKET, 'logs/api/2025/05/21/1747785600000-shipped.gz')).text).toBe('a new day\n');
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toMatch(/api 2025-05-20 failed/);
  });

  it('--dry-run reads and counts, uploads nothing, and still needs the bucket to answer', async () => {
    const file = join(dir, 'ghost-2025-06-01.log');
    await writeFile(file, 'token=abc\n');
    const cfg = join(dir, 'ghost.json');
    await writeFile(cfg, JSON.stringify({ logSources: [{ name: 'ghost', bucket: 'raxx-no-such-bucket' }] }));
    const r = await runCli(['logs', 'ship', 'ghost', file, '--dry-run'], { env: { ...env, RAXX_OPS_CONFIG: cfg }, now });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/error: bucket raxx-no-such-bucket does not exist/);
    expect(r.stderr).toMatch(/hint: /);
    const ok = await ship(['auth', file, '--date', '2025-05-30', '--dry-run', '--delete-after']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^auth 2025-05-30 would ship: 1 lines \(0 bad\), 1 redactions/);
    expect(existsSync(file)).toBe(true);
    expect(proxy.seen.filter((x) => x.startsWith('PUT ') || x.startsWith('POST '))).toEqual([]);
  });

  it('shows progress on a terminal, and only there', async () => {
    const file = join(dir, 'auth-2025-05-30.log');
    await writeFile(file, Array.from({ length: 50_000 }, (_, i) => `line ${i} ${randomBytes(20).toString('hex')}`).join('\n'));
    const tty = await runCli(['logs', 'ship', 'auth', file, '--dry-run'], { env, now, tty: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/auth 2025-05-30: (reading|[\d.]+ (KiB|MiB) of [\d.]+ MiB \(\d+%\) read)/);
    expect(tty.stdout).toMatch(/^auth 2025-05-30 would ship: 50000 lines/);
    const piped = await ship(['auth', file, '--dry-run']);
    expect(piped.stderr).toBe('');
  });

  it('--days picks files by their dates; a source not declared ships with the defaults', async () => {
    const old = join(dir, 'misc-2025-05-01.log');
    const recent = join(dir, 'misc-2025-06-04.log');
    await writeFile(old, 'old\n');
    await writeFile(recent, 'recent\n');
    const r = await ship(['misc', old, recent, '--days', '3']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/misc: not declared in the configuration; shipping with the defaults/);
    expect(r.stderr).toMatch(/misc-2025-05-01\.log: dated 2025-05-01, outside the last 3 day\(s\); skipped/);
    expect(r.stdout).toMatch(/^misc 2025-06-04 shipped: 1 lines/);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
  });
});
