// The selection grep pushes into the embedded engine selects exactly what RE2JS selects, for
// every pattern it agrees to run; the patterns where the two RE2s part are refused (and read
// from lines.gz). Differential, on DuckDB itself, over lines chosen where they could part.
import { describe, expect, it } from 'vitest';
import { RE2JS } from 're2js';
import { withoutOctetCount } from '@raxx/log-format/logplex';
import { engineFilter, engineMismatch, quoteRe2, type Selection } from '../../src/lib/logs/query/engine-select.js';

const duck = await import('@duckdb/node-api').catch(() => undefined);

const LINES = [
  '83 <190>1 2025-06-01T00:00:00+00:00 host app web.1 - été ÉTÉ status=503 abc',
  '12 <190>1 looks framed',
  '123456789 <9 digits',
  '1 <x',
  '<190>1 no count',
  'Kelvin \u212A sign',
  'ſ LONG s',
  '😀x emoji',
  'nul \u0000 inside',
  '\u0000 first',
  'x\uFFFDy',
  'ΣΑΣ σας',
  '',
  ' ',
  'a.b*c(d',
  'tab\tend',
  'İstanbul',
];

const PATTERNS = ['^<190>', '^\\d+ <', 'abc$', '^$', '^.$', '.', 'k', 's long', '😀.', '\\x00', '\\0', '[^a-z]', '\\bx', 'a\\.b\\*', '(?i)ÉTÉ', '\\pL', 'x\\By', '(?s).', '(?m)^\\s', '[[:alpha:]]+$', 'ΣΑΣ', '(?i)σας', 'a|^$', '\\Q*c(\\E', '(?U)a+', '(?<n>x)', '\\p{Emoji}'];

const FLAGS: Omit<Selection, 'pattern'>[] = [{}, { ignoreCase: true }, { invert: true }, { raw: true }, { fixed: true }, { fixed: true, ignoreCase: true }, { ignoreCase: true, invert: true, raw: true }];

function reference(pattern: string, f: Omit<Selection, 'pattern'>): number[] {
  const re = RE2JS.compile(f.fixed ? RE2JS.quote(pattern) : pattern, f.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  return LINES.flatMap((l, i) => (re.test(f.raw ? l : withoutOctetCount(l)) !== Boolean(f.invert) ? [i] : []));
}

describe('engineMismatch / quoteRe2', () => {
  it.each([
    ['\\pL', false],
    ['\\P{Greek}', false],
    ['x\\By', false],
    ['ÉTÉ', true],
    ['(?i)ÉTÉ', false],
    ['\\x{c9}', true],
    ['\\311', true],
    ['a\u0000b', false],
    ['a\uD800b', false],
  ])('%j (case-insensitive %s) stays in JavaScript', (pattern, ci) => {
    expect(engineMismatch(pattern, ci)).toBeTruthy();
  });
  it.each([['status=50[34] '], ['^<190>1 .*abc$'], ['(?i)abc'], ['ÉTÉ'], ['\\x00']])('%j runs on the engine', (pattern) => {
    expect(engineMismatch(pattern, false)).toBeUndefined();
  });
  it('quotes a fixed string so RE2 reads it as itself', () => {
    expect(quoteRe2('a.b*(c)\u0000é_1')).toBe('a\\.b\\*\\(c\\)\\x00é_1');
    const s = '\\E.*[x]{1}\\Q';
    expect(RE2JS.compile(quoteRe2(s)).test(`-${s}-`)).toBe(true);
    expect(RE2JS.compile(quoteRe2(s)).test('\\E.*x\\Q')).toBe(false);
  });
});

describe.skipIf(!duck)('the engine selects what RE2JS selects, for every pattern it runs', () => {
  it('differential over patterns × flags × lines', async () => {
    const inst = await duck!.DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      const values = LINES.map((_, i) => `(${i}, $${i + 1}::VARCHAR)`).join(', ');
      await conn.run(`CREATE TABLE t AS SELECT * FROM (VALUES ${values}) v(i, line)`, LINES);
      let ran = 0;
      for (const pattern of PATTERNS) {
        for (const f of FLAGS) {
          const sel: Selection = { ...f, pattern };
          const filter = engineFilter(sel);
          if ('unsupported' in filter) continue;
          let got: number[];
          try {
            const r = await conn.runAndReadAll(`SELECT i FROM t WHERE ${filter.where} ORDER BY i`, filter.params);
            got = r.getRows().map((row) => Number(row[0]));
          } catch {
            // The engine's RE2 refuses it: grep asks it first and reads lines.gz (tested on moto).
            continue;
          }
          ran += 1;
          expect({ pattern, f, got }).toEqual({ pattern, f, got: reference(pattern, f) });
        }
      }
      expect(ran).toBeGreaterThan(100);
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
  }, 60_000);
});
