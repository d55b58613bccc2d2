// How `logs query` prints rows: what a log line holds must not act on the operator's terminal,
// JSON keeps every column and stays one document however many batches it came in.
import { describe, expect, it } from 'vitest';
import { Output } from '../../src/lib/core/output.js';
import { rowPrinter } from '../../src/lib/logs/query/result.js';

async function print(format: 'table' | 'csv' | 'json', columns: string[], batches: unknown[][][]): Promise<string> {
  let text = '';
  const out = new Output({ stdout: { write: (s: string) => (text += s) }, stderr: { write: () => true }, json: false, color: false, debug: false });
  const p = rowPrinter(out, format, { engine: 'local', window: { start: 'a', end: 'b' } });
  p.columns(columns);
  for (const b of batches) await p.rows(b);
  p.end({ rows: batches.flat().length, engine: 'local', elapsedMs: 0 });
  return text;
}

describe('query results', () => {
  it('the table shows control characters (an escape sequence in a request path) instead of sending them', async () => {
    const hostile = '/x\u001b]0;pwned\u0007\u001b[2J\u009b31m\u0000end';
    const t = await print('table', ['path\u001b[31m'], [[[hostile]]]);
    // eslint-disable-next-line no-control-regex
    expect(t).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(t).toContain('/x\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x00end');
    expect(t.split('\n')[0]).toBe('path\\x1b[31m');
  });

  it('tabs and newlines in a cell stay one line of the table; later batches keep the first batch\'s columns', async () => {
    const t = await print('table', ['m', 'n'], [[['a\tb\nc', 1]], [['longer than the first', 2]]]);
    expect(t.split('\n')).toEqual(['m      n', '-----  -', 'a b c  1', 'longer than the first  2', '']);
  });

  it('JSON keeps two columns of the same name (SELECT app, app), across batches, as one document', async () => {
    const doc = JSON.parse(await print('json', ['app', 'app', 'count_star()', 'app'], [[['a', 'b', 3, 'c']], [], [['d', 'e', 4, 'f']]])) as { columns: string[]; rows: unknown[] };
    expect(doc.columns).toEqual(['app', 'app_2', 'count_star()', 'app_3']);
    expect(doc.rows).toEqual([
      { app: 'a', app_2: 'b', 'count_star()': 3, app_3: 'c' },
      { app: 'd', app_2: 'e', 'count_star()': 4, app_3: 'f' },
    ]);
    expect(JSON.parse(await print('json', ['x'], [[]]))).toEqual({ engine: 'local', window: { start: 'a', end: 'b' }, columns: ['x'], rows: [] });
  });

  it('CSV still quotes what needs it; no rows is the header alone', async () => {
    expect(await print('csv', ['a', 'b'], [[['x,y', 'say "hi"']]])).toBe('a,b\n"x,y","say ""hi"""\n');
    expect(await print('csv', ['a'], [[]])).toBe('a\n');
  });
});
