// logs grep and logs fetch against moto, with objects in the receiver's layout: the output
// must equal what gunzip + grep over the same objects, in key order, gives.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { tempDir } from '../../support/temp.js';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { batch, createDrainBucket, put, rawObject, reference, type Stored } from './fixtures.js';

const API = 'raxx-api-prod';
const CONSOLE = 'raxx-console-prod';
const D1 = Date.parse('2025-06-01T00:00:00Z');
const D2 = Date.parse('2025-06-02T00:00:00Z');
const MIN = 60_000;
const now = () => new Date('2025-06-02T12:00:00Z');

const WORDS = ['alpha', 'Beta', 'BETA', 'status=503', 'status=200', 'status=504', 'a.b', 'axb', 'path=/api/v1', 'gamma'];
function texts(seed: number, n: number): string[] {
  let x = seed;
  return Array.from({ length: n }, (_, i) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return `line ${i} ${WORDS[x % WORDS.length]} ${WORDS[(x >> 8) % WORDS.length]} request_id=${x.toString(16)}`;
  });
}

const objects: Stored[] = [];
const problems: { key: string; what: RegExp }[] = [];

describe.skipIf(!motoAvailable)('logs grep / fetch (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(aws);
    let seed = 1;
    // Day 1: spread over the day, dense before midnight.
    for (const t of [D1 + 8 * 60 * MIN, D1 + 12 * 60 * MIN, D1 + 23 * 60 * MIN + 50 * MIN, D1 + 86_400_000 - 1]) objects.push(batch(API, t, texts(seed++, 25)));
    // Day 2: the first millisecond, two objects with the same time, and a run of small ones.
    objects.push(batch(API, D2, texts(seed++, 20)));
    objects.push(batch(API, D2 + 5 * MIN, texts(seed++, 20)), batch(API, D2 + 5 * MIN, texts(seed++, 20)));
    for (let i = 0; i < 30; i++) objects.push(batch(API, D2 + 60 * MIN + i * 7 * MIN, texts(seed++, 10 + (i % 5))));
    // Objects that cannot be read: reported, the rest still searched.
    const empty = rawObject(API, D1 + 23 * 60 * MIN + 57 * MIN, Buffer.alloc(0));
    const corrupt = rawObject(API, D2 + 2 * MIN, Buffer.from('this is not gzip at all\n'));
    const noLines = rawObject(API, D2 + 10 * MIN, gzipSync(Buffer.alloc(0)));
    objects.push(empty, corrupt, noLines);
    problems.push({ key: empty.key, what: /empty object \(0 bytes\)/ }, { key: corrupt.key, what: /corrupt/ }, { key: noLines.key, what: /empty object \(no lines\)/ });
    // Another app, interleaved in time.
    for (let i = 0; i < 5; i++) objects.push(batch(CONSOLE, D2 + 3 * MIN + i * 40 * MIN, texts(seed++, 8), { dyno: 'worker.1' }));
    await put(aws, objects);
  });

  const grep = (args: string[]) => runCli(['logs', 'grep', ...args], { env, now });
  const day2 = { app: API, start: D2, end: D2 + 86_400_000 };

  it('regex: the matching lines of the day, in time order', async () => {
    const r = await grep(['status=50[34]', '--app', API, '--date', '2025-06-02']);
    const want = reference(objects, { ...day2, select: (l) => /status=50[34]/.test(l) });
    expect(want.length).toBeGreaterThan(20);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(want.join('\n') + '\n');
  });

  it('reports empty and corrupt objects on stderr and still searches the rest', async () => {
    const r = await grep(['gamma', '--app', API, '--date', '2025-06-02']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(reference(objects, { ...day2, select: (l) => l.includes('gamma') }).join('\n') + '\n');
    for (const p of problems.filter((x) => x.key.includes('/2025/06/02/'))) {
      expect(r.stderr).toMatch(new RegExp(`${p.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${p.what.source}`));
    }
    expect(r.stderr).toMatch(/2 of \d+ objects could not be read completely/);
  });

  it('the same output at concurrency 1, 3 and 64', async () => {
    const outs = await Promise.all(['1', '3', '64'].map((c) => grep(['status', '--app', API, '--date', '2025-06-02', '--concurrency', c])));
    expect(outs[0]!.stdout.length).toBeGreaterThan(0);
    expect(outs[1]!.stdout).toBe(outs[0]!.stdout);
    expect(outs[2]!.stdout).toBe(outs[0]!.stdout);
  });

  it('-F is a fixed string: a.b does not match axb', async () => {
    const fixed = await grep(['-F', 'a.b', '--app', API, '--date', '2025-06-02']);
    const regex = await grep(['a.b', '--app', API, '--date', '2025-06-02']);
    expect(fixed.stdout).toBe(reference(objects, { ...day2, select: (l) => l.includes('a.b') }).join('\n') + '\n');
    expect(regex.stdout).toBe(reference(objects, { ...day2, select: (l) => /a.b/.test(l) }).join('\n') + '\n');
    expect(regex.stdout.length).toBeGreaterThan(fixed.stdout.length);
  });

  it('-i ignores case', async () => {
    const r = await grep(['-i', 'beta', '--app', API, '--date', '2025-06-02']);
    const want = reference(objects, { ...day2, select: (l) => /beta/i.test(l) });
    expect(want.some((l) => l.includes('BETA')) && want.some((l) => l.includes('Beta'))).toBe(true);
    expect(r.stdout).toBe(want.join('\n') + '\n');
  });

  it('-v selects the lines that do not match; -c counts them', async () => {
    const want = reference(objects, { ...day2, select: (l) => !l.includes('alpha') });
    const v = await grep(['-v', 'alpha', '--app', API, '--date', '2025-06-02']);
    expect(v.stdout).toBe(want.join('\n') + '\n');
    const c = await grep(['-v', '-c', 'alpha', '--app', API, '--date', '2025-06-02']);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe(`${want.length}\n`);
  });

  it('a window across midnight, from --since to --until', async () => {
    const start = Date.parse('2025-06-01T23:45:00Z');
    const end = Date.parse('2025-06-02T00:30:00Z');
    const r = await grep(['line', '--app', API, '--since', '2025-06-01T23:45:00Z', '--until', '2025-06-02T00:30:00Z']);
    const want = reference(objects, { app: API, start, end, select: (l) => l.includes('line') });
    expect(want.length).toBeGreaterThan(0);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(want.join('\n') + '\n');
    // Both sides of midnight are there, and nothing from outside the window.
    const times = objects.filter((o) => o.app === API && o.time >= start && o.time < end).map((o) => o.time);
    expect(Math.min(...times)).toBeLessThan(D2);
    expect(Math.max(...times)).toBeGreaterThanOrEqual(D2);
  });

  it('--max-count stops after N lines in time order', async () => {
    const r = await grep(['-m', '3', 'status', '--app', API, '--date', '2025-06-02']);
    expect(r.stdout).toBe(reference(objects, { ...day2, select: (l) => l.includes('status') }).slice(0, 3).join('\n') + '\n');
  });

  it('--json gives NDJSON with the object and the parsed syslog fields', async () => {
    const r = await grep(['status=503', '--app', API, '--date', '2025-06-02', '--json']);
    const records = r.records<Record<string, string>>();
    const want = reference(objects, { ...day2, select: (l) => l.includes('status=503') });
    expect(records.map((x) => x.line)).toEqual(want);
    const first = records[0]!;
    expect(first).toMatchObject({ app: API, source: 'app', dyno: 'web.1' });
    expect(first.key).toMatch(/^logs\/raxx-api-prod\/2025\/06\/02\/\d{13}-/);
    expect(first.message).toContain('status=503');
    expect(first.line).toContain(first.message!);
    expect(Date.parse(first.timestamp!)).toBeGreaterThanOrEqual(D2);
    expect(Date.parse(first.time!)).toBeGreaterThanOrEqual(D2);
  });

  it('several apps: merged in time order, each line prefixed with its app', async () => {
    const r = await grep(['line 0 ', '--app', API, '--app', CONSOLE, '--date', '2025-06-02']);
    const merged = objects
      .filter((o) => o.time >= D2)
      .sort((a, b) => a.time - b.time || (a.key < b.key ? -1 : 1))
      .flatMap((o) => reference([o], { select: (l) => l.includes('line 0 ') }).map((l) => `${o.app}:${l}`));
    expect(r.stdout).toBe(merged.join('\n') + '\n');
    expect(r.stdout).toContain(`${CONSOLE}:`);
    const c = await grep(['-c', 'line 0 ', '--app', API, '--app', CONSOLE, '--date', '2025-06-02']);
    expect(c.stdout).toMatch(new RegExp(`^${API}:\\d+\\n${CONSOLE}:5\\n$`));
  });

  it('nothing matched: no output, exit 1 (like grep)', async () => {
    const r = await grep(['no-such-text-anywhere', '--app', API, '--date', '2025-06-02']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const c = await grep(['-c', 'no-such-text-anywhere', '--app', API, '--date', '2025-06-02']);
    expect(c.code).toBe(1);
    expect(c.stdout).toBe('0\n');
  });

  it('progress (objects done / total, bytes) on a terminal only', async () => {
    const quiet = await grep(['status', '--app', CONSOLE, '--date', '2025-06-02']);
    expect(quiet.stderr).toBe('');
    const tty = await runCli(['logs', 'grep', 'status', '--app', CONSOLE, '--date', '2025-06-02'], { env, now, tty: true });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toBe(quiet.stdout);
    const err = tty.stderr;
    expect(err).toMatch(/grep: (listing|\d+\/\d+\+? objects)/);
  });

  it('Ctrl-C stops the search: exit 130', async () => {
    const controller = new AbortController();
    const run = runCli(['logs', 'grep', 'x', '--app', API, '--date', '2025-06-02', '--concurrency', '1'], { env, now, signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    const r = await run;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('interrupted');
  });

  it('a large object is read whole, and a truncated one gives no line: nothing of it was verified', async () => {
    const APP = 'raxx-big-prod';
    // Random text compresses poorly: a few MB of gzip, past the size the wire hands over in one piece.
    const noise = Array.from({ length: 40_000 }, (_, i) => `big ${i} ${randomBytes(24).toString('hex')}${i % 1000 === 7 ? ' needle' : ''}`);
    const big = batch(APP, D2 + 60 * MIN, noise);
    expect(big.body.length).toBeGreaterThan(1024 * 1024);
    const whole = batch(APP, D2 + 61 * MIN, texts(99, 400).map((t) => `${t} needle`));
    const truncated = { ...batch(APP, D2 + 62 * MIN, []), body: whole.body.subarray(0, Math.floor(whole.body.length / 2)) };
    await put(aws, [big, truncated]);
    const r = await grep(['needle', '--app', APP, '--date', '2025-06-02']);
    expect(r.code).toBe(0);
    const fromBig = reference([big], { select: (l) => l.includes('needle') });
    expect(fromBig.length).toBe(40);
    // Inflating half an object gives text its checksum never vouched for: none of it is printed.
    expect(r.stdout).toBe(`${fromBig.join('\n')}\n`);
    expect(r.stderr).toMatch(new RegExp(`${truncated.key}: corrupt: gzip data cut short; no line of it was read`));
  });

  it('logs fetch: every line of the window in time order', async () => {
    const r = await runCli(['logs', 'fetch', '--app', API, '--date', '2025-06-01'], { env, now });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(reference(objects, { app: API, start: D1, end: D2 }).join('\n') + '\n');
    expect(r.stderr).toMatch(/empty object \(0 bytes\)/);
  });

  it('logs fetch -o DIR: one decompressed file per object', async () => {
    const dir = tempDir('raxx-ops-fetch-');
    const r = await runCli(['logs', 'fetch', '--app', CONSOLE, '--date', '2025-06-02', '-o', dir, '--json'], { env, now });
    expect(r.code).toBe(0);
    const doc = r.json<{ files: string[]; objects: number }>();
    expect(doc.objects).toBe(5);
    const consoleObjects = objects.filter((o) => o.app === CONSOLE);
    for (const o of consoleObjects) {
      const path = join(dir, o.key.replace(/^logs\//, '').replace(/\.gz$/, '.log'));
      expect(doc.files).toContain(path);
      // Files hold the stored text, octet counts included, as `aws s3 cp` + gunzip would.
      expect(await readFile(path, 'utf8')).toBe(reference([o], { raw: true }).join('\n') + '\n');
    }
    const all = await readdir(dir, { recursive: true });
    expect(all.filter((f) => f.endsWith('.log')).map((f) => relative(dir, join(dir, f))).length).toBe(5);
  });
});

describe.skipIf(!motoAvailable)('logs grep: hostile patterns and what is printed (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;
  const T = Date.parse('2025-06-02T09:00:00Z');
  const secret = 'https://drain.example.com/?token=hunter2-very-secret';

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(aws);
    await put(aws, [batch(API, T, [`${'a'.repeat(60)}!`, `login ok ${secret}`, 'status=200'])]);
  });

  const grep = (args: string[]) => runCli(['logs', 'grep', ...args, '--app', API, '--date', '2025-06-02'], { env, now });

  it('a catastrophic-backtracking pattern ends at once (linear-time engine)', async () => {
    const started = Date.now();
    const r = await grep(['(a+)+$']);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.code).toBe(1);
    const hit = await grep(['(a+)+!$']);
    expect(hit.code).toBe(0);
    expect(hit.stdout).toMatch(/a{60}!\n$/);
  });

  it('matches the line as Heroku shows it: ^<190> matches, the octet count does not', async () => {
    const r = await grep(['^<190>1 .* status=200$']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^<190>1 2025-06-02T09:00:00\+00:00 host app web\.1 - status=200\n$/);
    const raw = await grep(['--raw', '^\\d+ <190>1 .* status=200$']);
    expect(raw.code).toBe(0);
    expect(raw.stdout).toMatch(/^\d+ <190>1 .* status=200\n$/);
    expect((await grep(['^\\d+ <190>'])).code).toBe(1);
  });

  it('masks secrets by default; --no-mask prints the stored text', async () => {
    const masked = await grep(['-F', 'login ok']);
    expect(masked.code).toBe(0);
    expect(masked.stdout).not.toContain('hunter2');
    const plain = await grep(['-F', 'login ok', '--no-mask']);
    expect(plain.stdout).toContain(secret);
    const json = await grep(['-F', 'login ok', '--no-mask', '--json']);
    expect(json.records<{ message: string }>()[0]!.message).toContain(secret);
  });

  it('help says which syntax is accepted and that --no-mask may print secrets', async () => {
    const r = await runCli(['logs', 'grep', '--help']);
    expect(r.stdout).toMatch(/RE2 syntax/);
    expect(r.stdout).toMatch(/--no-mask\s+print the stored text unmasked: this MAY PRINT\s+SECRETS/);
  });
});
