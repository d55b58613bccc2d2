// The SQL `logs query --engine athena` sends: the operator's query over a `logs` CTE narrowed
// to the window, the apps and the records files.
import { describe, expect, it } from 'vitest';
import { windowedSql } from '../../src/lib/logs/query/athena.js';

const opts = { database: 'raxx_logs', table: 'logs', apps: ['raxx-api-prod'], fromDay: '2025-06-01', toDay: '2025-06-01', start: Date.parse('2025-06-01T00:00:00Z'), end: Date.parse('2025-06-02T00:00:00Z') };
const CTE = /^WITH (RECURSIVE )?logs AS \(SELECT \* FROM "raxx_logs"\."logs" WHERE app IN \('raxx-api-prod'\) AND day BETWEEN '2025-06-01' AND '2025-06-01' AND "\$path" LIKE '%\/records\.jsonl\.gz' AND \(time IS NULL OR .*\)\)/;

describe('windowedSql', () => {
  it("reads only the records files: a day's manifest.json is not a row", () => {
    const sql = windowedSql('SELECT count(*) FROM logs', opts);
    expect(sql).toMatch(CTE);
    expect(sql.endsWith(') SELECT count(*) FROM logs')).toBe(true);
  });

  const cases: [name: string, input: string, tail: string, recursive: boolean][] = [
    ["the operator's WITH", 'WITH a AS (SELECT 1) SELECT * FROM a', ', a AS (SELECT 1) SELECT * FROM a', false],
    ['WITH RECURSIVE stays valid SQL', 'with recursive t(n) AS (SELECT 1) SELECT * FROM t', ', t(n) AS (SELECT 1) SELECT * FROM t', true],
    ['a comment before WITH', '-- hourly\n/* 5xx */ WITH a AS (SELECT 1) SELECT * FROM a', ', a AS (SELECT 1) SELECT * FROM a', false],
    ['a column named with_x is not a WITH', 'SELECT 1 AS with_x', ') SELECT 1 AS with_x', false],
  ];
  for (const [name, input, tail, recursive] of cases) {
    it(name, () => {
      const sql = windowedSql(input, opts);
      expect(sql).toMatch(CTE);
      expect(sql.startsWith(recursive ? 'WITH RECURSIVE logs AS' : 'WITH logs AS')).toBe(true);
      expect(sql.endsWith(tail)).toBe(true);
      expect(sql.match(/\bWITH\b/gi)).toHaveLength(1);
    });
  }
});
