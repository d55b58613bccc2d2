// How `logs query` prints rows: what a log line holds must not act on the operator's terminal,
// and JSON keeps every column.
import { describe, expect, it } from 'vitest';
import { toCsv, toJson, toTable, type QueryResult } from '../../src/lib/query/result.js';

const result = (columns: string[], rows: unknown[][]): QueryResult => ({ columns, rows, engine: 'local', elapsedMs: 0 });

describe('query results', () => {
  it('the table shows control characters (an escape sequence in a request path) instead of sending them', () => {
    const hostile = '/x\u001b]0;pwned\u0007\u001b[2J\u009b31m\u0000end';
    const t = toTable(result(['path\u001b[31m'], [[hostile]]));
    // eslint-disable-next-line no-control-regex
    expect(t).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(t).toContain('/x\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x00end');
    expect(t.split('\n')[0]).toBe('path\\x1b[31m');
  });

  it('tabs and newlines in a cell stay one line of the table', () => {
    expect(toTable(result(['m'], [['a\tb\nc']])).split('\n')[2]).toBe('a b c');
  });

  it('JSON keeps two columns of the same name (SELECT app, app)', () => {
    const rows = toJson(result(['app', 'app', 'count_star()', 'app'], [['a', 'b', 3, 'c']]));
    expect(rows).toEqual([{ app: 'a', app_2: 'b', 'count_star()': 3, app_3: 'c' }]);
  });

  it('CSV still quotes what needs it', () => {
    expect(toCsv(result(['a', 'b'], [['x,y', 'say "hi"']]))).toBe('a,b\n"x,y","say ""hi"""\n');
  });
});
