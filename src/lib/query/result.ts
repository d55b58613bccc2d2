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

export function toTable(r: QueryResult, maxWidth = 60): string {
  const cut = (s: string) => (s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s);
  const cells = r.rows.map((row) => row.map((v) => cut(cell(v).replace(/\s+/g, ' '))));
  const widths = r.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(r.columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

export function toJson(r: QueryResult): Record<string, unknown>[] {
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i] ?? null])));
}
