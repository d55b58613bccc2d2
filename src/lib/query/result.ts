// What a query engine hands back, and how it is printed: a table for people, CSV, or JSON.
export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  engine: 'local' | 'athena';
  elapsedMs: number;
  /** Athena: bytes scanned and the estimated cost. */
  scannedBytes?: number;
  costUsd?: number;
  queryId?: string;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function toCsv(r: QueryResult): string {
  const esc = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [r.columns.map(esc).join(','), ...r.rows.map((row) => row.map((v) => esc(cell(v))).join(','))].join('\n') + '\n';
}

/**
 * Log lines are written by anyone who can send a request (paths, user agents): an escape
 * sequence in one must not reach the operator's terminal as one. Controls are shown as \xNN.
 */
function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\s+/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function toTable(r: QueryResult, maxWidth = 60): string {
  const cut = (s: string) => (s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s);
  const cells = r.rows.map((row) => row.map((v) => cut(visible(cell(v)))));
  const columns = r.columns.map(visible);
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

/** Column names as JSON keys: `SELECT app, app` or two `count(*)` would otherwise overwrite one another. */
export function uniqueColumns(columns: readonly string[]): string[] {
  const seen = new Set<string>();
  return columns.map((c) => {
    let name = c;
    for (let n = 2; seen.has(name); n++) name = `${c}_${n}`;
    seen.add(name);
    return name;
  });
}

export function toJson(r: QueryResult): Record<string, unknown>[] {
  const names = uniqueColumns(r.columns);
  return r.rows.map((row) => Object.fromEntries(names.map((c, i) => [c, row[i] ?? null])));
}
