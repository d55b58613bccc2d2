import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { columnWidths, displayWidth, padCell, table, tableRow } from '../../src/lib/core/table.js';

const red = new Chalk({ level: 1 }).red;
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex

describe('table', () => {
  it('pads every column but the last to its widest cell, two spaces apart', () => {
    expect(table([['APP', 'DAY', 'HEALTH'], ['raxx-api-prod', '2026-03-01', 'healthy'], ['a', 'b', 'c']])).toEqual([
      'APP            DAY         HEALTH',
      'raxx-api-prod  2026-03-01  healthy',
      'a              b           c',
    ]);
  });

  it('lines up a cell in colour like a plain one: escape codes take no room', () => {
    const plain = table([['FAIL', 'x'], ['ok', 'y']]);
    const coloured = table([[red('FAIL'), 'x'], [red('ok'), 'y']]);
    expect(coloured.map(strip)).toEqual(plain);
    expect(coloured[1]).toBe(`${red('ok')}    y`);
  });

  it('counts wide characters as two columns and combining marks as none', () => {
    expect(displayWidth('日本')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('…')).toBe(1);
    expect(table([['日本', '|'], ['abcd', '|']])).toEqual(['日本  |', 'abcd  |']);
  });

  it('trimEnd drops the trailing gap an empty last cell leaves', () => {
    const widths = columnWidths([['a', 'bb', 'c']]);
    expect(tableRow(['a', 'bb', ''], widths)).toBe('a  bb  ');
    expect(tableRow(['a', 'bb', ''], widths, { trimEnd: true })).toBe('a  bb');
  });

  it('pads to a fixed width and never cuts a longer cell', () => {
    expect(padCell('read', 8)).toBe('read    ');
    expect(padCell(red('read'), 8)).toBe(`${red('read')}    `);
    expect(padCell('much too long', 4)).toBe('much too long');
  });
});
