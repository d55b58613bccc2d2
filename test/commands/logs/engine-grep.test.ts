// grep over a compacted day on the embedded engine (DuckDB over its Parquet) and through
// lines.gz prints what the reference reader selects from the raw objects, over every grep
// flag and the patterns where the engine's RE2 and RE2JS could part: anchors against the
// octet count, case folding beyond ASCII, Unicode, NUL in lines and in patterns, patterns only
// one engine accepts. Patterns the engine must not run are read from lines.gz, said in --debug.
import { beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { RE2JS } from 're2js';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { referenceRead, shown, type ReferenceObject } from '../../support/reference-reader.js';
import { batch, BUCKET, createDrainBucket, put, rawObject } from './fixtures.js';

const APP = 'raxx-api-prod';
const D1 = Date.parse('2025-06-01T00:00:00Z');
const now = () => new Date('2025-06-02T12:00:00Z');
const DATE = ['--app', APP, '--date', '2025-06-01', '--no-mask'];

interface Flags {
  i?: boolean;
  F?: boolean;
  v?: boolean;
  c?: boolean;
  m?: number;
  raw?: boolean;
}

const argvOf = (f: Flags) => [...(f.i ? ['-i'] : []), ...(f.F ? ['-F'] : []), ...(f.v ? ['-v'] : []), ...(f.c ? ['-c'] : []), ...(f.m ? ['-m', String(f.m)] : []), ...(f.raw ? ['--raw'] : [])];

/** What grep prints, from the reference reader's lines: selected in key order, -m, -c. */
function expected(ref: ReferenceObject[], pattern: string, f: Flags): string {
  const re = RE2JS.compile(f.F ? RE2JS.quote(pattern) : pattern, f.i ? RE2JS.CASE_INSENSITIVE : 0);
  let lines = ref.flatMap((o) => o.lines.map((l) => (f.raw ? l : shown(l)))).filter((l) => re.test(l) !== Boolean(f.v));
  if (f.m) lines = lines.slice(0, f.m);
  if (f.c) return `${lines.length}\n`;
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

describe.skipIf(!motoAvailable)('grep on the embedded engine and on lines.gz agrees with raw (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;
  let ref: ReferenceObject[];
  const cli = (argv: string[]) => runCli(argv, { env, now });

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(aws);
    const at = (m: number) => D1 + m * 60_000;
    await put(aws, [
      batch(APP, at(1), ['été ÉTÉ status=503 abc', 'Kelvin \u212A sign', 'ſ LONG s', '😀x emoji', 'nul \u0000 inside ok', 'ok tail abc']),
      batch(APP, at(2), ['ΣΑΣ σας status=504 ', 'İstanbul', 'plain ok line', 'x\uFFFDy', 'named ok']),
      // A body stored as sent: lines with no octet count, one that only looks like one, NUL first, an empty line.
      rawObject(APP, at(3), gzipSync(Buffer.from(['\u0000 starts with NUL', '12 <190>1 looks framed abc', 'no frame ABC', '123456789 <9 digits', '', 'last ok'].join('\n') + '\n'))),
      batch(APP, at(4), Array.from({ length: 40 }, (_, i) => `bulk ${i} status=${[200, 503, 404][i % 3]} ok`)),
    ]);
    ref = await referenceRead(aws, BUCKET, 'logs/raxx-api-prod/2025/06/01/');
    const c = await cli(['logs', 'compact', '--app', APP, '--date', '2025-06-01']);
    expect(c.code).toBe(0);
  }, 180_000);


  // [pattern, flag sets, served by the engine?]
  const CASES: [string, Flags[], boolean][] = [
    ['status=50[34] ', [{}, { v: true }, { c: true }, { m: 3 }, { v: true, c: true }, { m: 2, c: true }, { raw: true }, { i: true }], true],
    ['^<190>1 ', [{}, { raw: true }, { v: true, c: true }], true],
    ['^\\d{1,8} <', [{}, { raw: true }, { raw: true, v: true }], true],
    ['abc$', [{}, { i: true }, { i: true, v: true }], true],
    ['ok', [{ F: true }, { F: true, i: true }, { F: true, v: true }, { F: true, c: true }, { F: true, m: 1 }], true],
    ['k', [{ i: true, c: true }], true],
    ['s long', [{ i: true }], true],
    ['😀.', [{}, { v: true, c: true }], true],
    ['^.$|^$', [{}, { raw: true }], true],
    ['\\x00', [{}, { v: true, c: true }], true],
    ['(', [{ F: true }, { F: true, i: true }], true],
    ['\u0000', [{ F: true }, { F: true, i: true }], true],
    ['', [{ c: true }, { v: true }], true],
    // The engine must not run these: read from lines.gz, same output.
    ['ÉTÉ', [{ i: true }], false],
    ['\u0000 inside', [{}], false],
    ['(?<n>ok)', [{}], false],
    ['\\pL{3}', [{}], false],
    ['x\\By', [{}], false],
    ['\\x{c9}T', [{ i: true }], false],
  ];

  it.each(CASES)('%j: raw, lines.gz and the engine print the same', async (pattern, flagSets, byEngine) => {
    for (const f of flagSets) {
      const want = expected(ref, pattern, f);
      for (const mode of [['--no-compacted'], ['--engine', 'lines'], ['--engine', 'duckdb']]) {
        const g = await cli(['logs', 'grep', pattern, ...DATE, ...argvOf(f), ...mode, '--debug']);
        expect({ pattern, f, mode, out: g.stdout, code: g.code }).toEqual({ pattern, f, mode, out: want, code: want === '' || want === '0\n' ? 1 : 0 });
        if (mode[1] === 'duckdb') {
          if (byEngine) expect(g.stderr).toMatch(/4 objects read from 1 compacted day\(s\), 1 of them by the embedded engine/);
          else expect(g.stderr).toMatch(/the embedded engine does not run this pattern \(.+\): compacted days are read from lines\.gz/);
        }
      }
    }
  }, 240_000);

  it('--json: the same records either way', async () => {
    const out = [];
    for (const mode of [['--no-compacted'], ['--engine', 'lines'], ['--engine', 'duckdb']]) {
      const g = await cli(['logs', 'grep', 'status=50', ...DATE, '--json', ...mode]);
      expect(g.code).toBe(0);
      out.push(g.stdout);
    }
    expect(out[0]!.split('\n').length).toBeGreaterThan(10);
    expect(out[1]).toBe(out[0]);
    expect(out[2]).toBe(out[0]);
  }, 120_000);

  it('fetch reads the same lines from the engine', async () => {
    const want = `${ref.flatMap((o) => o.lines.map(shown)).join('\n')}\n`;
    for (const mode of [['--engine', 'lines'], ['--engine', 'duckdb']]) {
      const f = await cli(['logs', 'fetch', ...DATE, ...mode, '--debug']);
      expect(f.stdout).toBe(want);
      if (mode[1] === 'duckdb') expect(f.stderr).toMatch(/1 of them by the embedded engine/);
    }
  }, 120_000);

  it('bad input: an invalid pattern and an unknown --engine are usage errors (exit 2) on every path', async () => {
    for (const mode of [['--no-compacted'], ['--engine', 'lines'], ['--engine', 'duckdb']]) {
      const g = await cli(['logs', 'grep', 'a(b', ...DATE, ...mode]);
      expect({ mode, code: g.code }).toEqual({ mode, code: 2 });
      expect(g.stderr).toMatch(/error: <pattern>: not a valid pattern/);
      expect(g.stderr).toMatch(/hint: /);
    }
    const e = await cli(['logs', 'grep', 'ok', ...DATE, '--engine', 'sqlite']);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/--engine.*must be auto, duckdb or lines/);
  }, 60_000);
});
