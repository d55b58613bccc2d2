// logs ship on input that is not an ordinary day of log lines: lines longer than the cap (a
// file with no newline at all, streamed), binary and gzip input, an empty file or a day with
// no entries — against moto, asserting on the object written (or not) and on `logs status`.
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { tempDir } from '../../support/temp.js';
import { buildShippedDayKey } from '@raxx/log-format/object-key';

const BUCKET = 'raxx-heroku-logs-prod';
const now = () => new Date('2025-06-05T12:00:00Z');

interface DayJson {
  status: string;
  key: string;
  lines: number;
  entries: number;
  cutLines: number;
  cut: { input: string; line: number; bytes: number }[];
}

describe.skipIf(!motoAvailable)('logs ship: input bounds', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;
  const dir = tempDir('raxx-ship-bounds-');

  beforeAll(async () => {
    const s3 = await aws.s3();
    const { CreateBucketCommand, PutBucketVersioningCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ logSources: [{ name: 'auth', required: true }, { name: 'api', maxLineBytes: 4096 }] }));
    env = { ...moto.env, RAXX_OPS_CONFIG: config };
  });

  const ship = (args: string[], stdin?: Readable) => runCli(['logs', 'ship', ...args, '--retry-base-ms', '10'], { env, now, ...(stdin ? { stdin } : {}) });

  async function objects(prefix: string): Promise<string[]> {
    const s3 = await aws.s3();
    const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: prefix }));
    return (res.Versions ?? []).map((v) => v.Key!);
  }

  async function read(key: string): Promise<{ text: string; metadata: Record<string, string> }> {
    const s3 = await aws.s3();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { text: gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8'), metadata: got.Metadata ?? {} };
  }

  it('a line longer than --max-line-bytes keeps its first bytes and is flagged, in plain text and in JSON lines', async () => {
    const plain = join(dir, 'api-2025-06-01.log');
    // A multi-byte character straddles the cut: the kept part ends on a whole character.
    await writeFile(plain, `first\n${'x'.repeat(2047)}é${'y'.repeat(8000)} password=hunter2\nlast\n`);
    const r = await ship(['api', plain, '--max-line-bytes', '2048', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const day = r.json<{ days: DayJson[] }>().days[0]!;
    expect(day).toMatchObject({ status: 'shipped', lines: 3, cutLines: 1, cut: [{ input: plain, line: 2, bytes: 2047 + 2 + 8000 + 17 }] });
    expect(r.stderr).toMatch(/api-2025-06-01\.log:2: a line of .*longer than the limit; shipped cut and flagged/);
    const back = await read(day.key);
    const lines = back.text.split('\n');
    expect(lines[0]).toBe('first');
    expect(lines[1]).toBe(`${'x'.repeat(2047)} [raxx-ops: line cut, 10066 bytes, first 2047 kept]`);
    expect(lines[2]).toBe('last');
    expect(back.metadata['cut-lines']).toBe('1');

    const json = join(dir, 'api-2025-06-02.log');
    await writeFile(json, `{"msg":"ok"}\n{"msg":"${'z'.repeat(10_000)}"}\n{"msg":"end"}\n`);
    const j = await ship(['api', json, '--json']); // the source's maxLineBytes: 4096
    expect(j.code, j.stderr).toBe(0);
    const jd = j.json<{ days: DayJson[] }>().days[0]!;
    expect(jd).toMatchObject({ cutLines: 1, lines: 3 });
    const records = (await read(jd.key)).text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[1]).toEqual({ raxx_ops_cut: { bytes: 10_010, kept: 4096 }, line: `{"msg":"${'z'.repeat(4096 - 8)}` });
    expect(records[2]).toEqual({ msg: 'end' });
  });

  it('a newline-free stream far longer than the cap ships as one flagged line (the rest only counted)', async () => {
    const total = 48 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const stdin = new Readable({
      read() {
        if (sent >= total) return void this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const r = await ship(['auth', '-', '--date', '2025-06-03', '--json'], stdin);
    expect(r.code, r.stderr).toBe(0);
    const day = r.json<{ days: (DayJson & { bytesIn: number; bytesOut: number })[] }>().days[0]!;
    expect(day).toMatchObject({ status: 'shipped', lines: 1, cutLines: 1, bytesIn: total, cut: [{ input: 'stdin', line: 1, bytes: total }] });
    const back = await read(day.key);
    expect(back.text).toBe(`${'a'.repeat(1024 * 1024)} [raxx-ops: line cut, ${total} bytes, first ${1024 * 1024} kept]\n`);
  });

  it('binary and gzip input is refused with a hint (exit 2), nothing uploaded', async () => {
    const bin = join(dir, 'auth-2025-06-01.db');
    await writeFile(bin, Buffer.concat([Buffer.from('SQLite format 3'), Buffer.alloc(100)]));
    const gz = join(dir, 'auth-2025-06-01.log.gz');
    await writeFile(gz, gzipSync('line one\nline two\n'));
    const cases: [string, string[], RegExp, RegExp][] = [
      ['NUL bytes', ['auth', bin], /is binary, not a text log \(a NUL byte at offset 15\)/, /ship the text log files/],
      ['gzip file', ['auth', gz], /is gzip-compressed, not a text log/, /zcat .*auth-2025-06-01\.log\.gz \| raxx-ops logs ship SOURCE - --date/],
    ];
    for (const [name, args, message, hint] of cases) {
      const r = await ship(args);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).toMatch(hint);
    }
    const fromStdin = await ship(['auth', '-', '--date', '2025-06-01'], Readable.from([gzipSync('x\n')]));
    expect(fromStdin.code).toBe(2);
    expect(fromStdin.stderr).toMatch(/stdin is gzip-compressed/);
    expect(await objects('logs/auth/2025/06/01/')).toEqual([]);
  });

  it('an empty file or a day of blank lines ships nothing and the required day stays missing (critical)', async () => {
    const empty = join(dir, 'auth-2025-06-02.log');
    await writeFile(empty, '');
    const blank = join(dir, 'auth-2025-06-04.log');
    await writeFile(blank, '\n\n  \n');
    const r = await ship(['auth', empty, blank, '--json', '--delete-after']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<{ days: DayJson[] }>().days.map((d) => d.status)).toEqual(['empty', 'empty']);
    expect(r.stderr).toMatch(/auth 2025-06-02: .*auth-2025-06-02\.log empty \(0 bytes\); nothing shipped, the day stays missing \(a required source/);
    expect(r.stderr).toMatch(/auth 2025-06-04: .*holds no entries/);
    expect(await objects('logs/auth/2025/06/02/')).toEqual([]);
    expect(await objects('logs/auth/2025/06/04/')).toEqual([]);
    // Nothing was shipped: nothing is deleted.
    const kept = await runCli(['logs', 'ship', 'auth', empty, '--dry-run'], { env, now });
    expect(kept.code).toBe(0);

    const status = await runCli(['logs', 'status', '--source', 'auth', '--json'], { env, now });
    const doc = status.json<{ sources: { source: string; missing: string[]; health: string }[] }>();
    const auth = doc.sources.find((s) => s.source === 'auth')!;
    expect(auth.missing).toEqual(expect.arrayContaining(['2025-06-02', '2025-06-04']));
    expect(auth.health).toBe('critical');
  });

  it('an object shipped empty by an earlier version does not count as the day', async () => {
    const s3 = await aws.s3();
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const key = buildShippedDayKey('logs/', 'auth', '2025-06-01');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(''), Metadata: { lines: '0', sha256: 'x' } }));
    const status = await runCli(['logs', 'status', '--source', 'auth', '--json'], { env, now });
    const auth = status.json<{ sources: { source: string; missing: string[] }[] }>().sources.find((s) => s.source === 'auth')!;
    expect(auth.missing).toContain('2025-06-01');
  });

  it('bad --max-line-bytes values are usage errors (exit 2)', async () => {
    const f = join(dir, 'auth-2025-06-01.log');
    await writeFile(f, 'x\n');
    for (const bad of ['0', '100', 'lots', String(65 * 1024 * 1024)]) {
      const r = await ship(['auth', f, '--max-line-bytes', bad, '--dry-run']);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/max-line-bytes/);
    }
  });
});
