// The embedded engine's sandbox, run from a working folder that has DuckDB's default allowed
// directory (`.tmp/`) with a file in it: every way SQL has of reading, writing or reaching
// out fails with a usage error, and nothing appears on disk. Then a query of millions of rows
// streams in bounded memory (a real process, its peak RSS measured by the kernel).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { sourceCli } from '../../support/pty.js';
import { tempDir } from '../../support/temp.js';
import { batch, createDrainBucket, put } from './fixtures.js';

const API = 'raxx-api-prod';
const DAY = '2025-06-02';
const T = Date.parse(`${DAY}T10:00:00Z`);
const now = () => new Date('2025-06-03T12:00:00Z');
const SECRET = 'notes-that-must-stay-private';

describe.skipIf(!motoAvailable)('logs query: the sandbox (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let work: string;
  let before: string;
  const cli = (sql: string, extra: string[] = []) => runCli(['logs', 'query', sql, '--app', API, '--date', DAY, ...extra], { env: moto.env, now });
  const listing = () => readdirSync(join(work, '.tmp')).sort();

  beforeAll(async () => {
    await createDrainBucket(aws);
    await put(aws, [batch(API, T, ['hello from web.1', 'second line'])]);
    work = tempDir('raxx-ops-cwd-');
    mkdirSync(join(work, '.tmp'));
    writeFileSync(join(work, '.tmp', 'notes.txt'), `${SECRET}\n`);
    writeFileSync(join(work, 'data.csv'), `a\n${SECRET}\n`);
    before = process.cwd();
    process.chdir(work);
  });

  afterAll(() => {
    process.chdir(before);
  });

  it('the view works from that folder', async () => {
    const r = await cli('SELECT count(*) AS n FROM logs', ['--format', 'csv']);
    expect(r.stderr).toBe(r.stderr.replace(/error/i, ''));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('n\n2\n');
  });

  it.each([
    ["SELECT * FROM read_text('.tmp/notes.txt')"],
    ["SELECT * FROM read_blob('.tmp/notes.txt')"],
    ["SELECT * FROM read_text('./.tmp/notes.txt')"],
    [`SELECT * FROM read_text('${'WORK'}/.tmp/notes.txt')`],
    ["SELECT * FROM read_csv('.tmp/notes.txt')"],
    ["SELECT * FROM read_csv('data.csv')"],
    ["SELECT * FROM read_csv_auto('/etc/passwd')"],
    ["SELECT * FROM sniff_csv('.tmp/notes.txt')"],
    ["SELECT * FROM read_json('.tmp/notes.txt')"],
    ["SELECT * FROM read_parquet('.tmp/*.parquet')"],
    ["SELECT * FROM glob('.tmp/*')"],
    ["SELECT * FROM glob('*')"],
    ["SELECT * FROM '.tmp/notes.txt'"],
    ["COPY (SELECT 1) TO '.tmp/x.csv'"],
    ["COPY (SELECT * FROM logs) TO '.tmp/out.parquet' (FORMAT parquet)"],
    ["COPY logs FROM '.tmp/notes.txt'"],
    ["EXPORT DATABASE '.tmp/export'"],
    ["ATTACH '.tmp/db.duckdb' AS x"],
    ["ATTACH ':memory:' AS m; COPY (SELECT 1) TO '.tmp/y.csv'"],
    ['INSTALL httpfs'],
    ['LOAD httpfs'],
    ["SELECT * FROM read_text('http://127.0.0.1:9/x')"],
    ["SELECT * FROM read_csv('https://example.com/x.csv')"],
    ["SELECT * FROM read_parquet('s3://raxx-heroku-logs-prod/x.parquet')"],
    ["SET temp_directory = '.tmp'"],
    ["SET allowed_directories = ['.tmp']"],
    ['SET enable_external_access = true'],
    ['RESET enable_external_access'],
    ['SET lock_configuration = false'],
    ["PRAGMA profiling_output = '.tmp/profile.json'"],
    ["SET log_query_path = '.tmp/queries.log'"],
    ["CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')"],
    ["CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')"],
  ])('refuses %s', async (raw) => {
    const sql = raw.replace('WORK', work);
    const r = await cli(sql);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: the query failed: /);
    expect(r.stderr).toMatch(/hint: /);
    expect(r.stdout).toBe('');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(listing()).toEqual(['notes.txt']);
    expect(readdirSync(work).sort()).toEqual(['.tmp', 'data.csv']);
  });

  it('8,000,000 rows stream to stdout under 300 MB of peak RSS', { timeout: 240_000 }, async () => {
    const sql = "SELECT range AS n, 'row ' || range AS s FROM range(8000000)";
    // A real process, so the kernel's peak RSS is this query's alone.
    const child = spawn('/usr/bin/time', ['-f', 'maxrss_kb=%M', ...sourceCli(['logs', 'query', sql, '--app', API, '--since', '1h', '--format', 'csv'])], {
      cwd: before,
      env: { ...moto.env, PATH: process.env.PATH, HOME: work, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let lines = 0;
    let last = '';
    let first = '';
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      if (first.length < 64) first += d.toString();
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
      last = (last + d.toString('latin1')).slice(-64);
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(first.startsWith('n,s\n0,row 0\n1,row 1\n')).toBe(true);
    expect(lines).toBe(8_000_001);
    expect(last.endsWith('7999999,row 7999999\n')).toBe(true);
    expect(bytes).toBeGreaterThan(100_000_000);
    const rss = Number(/maxrss_kb=(\d+)/.exec(stderr)?.[1]);
    expect(rss, stderr).toBeGreaterThan(0);
    expect(rss / 1024).toBeLessThan(300);
  });
});
