// The one table renderer: columns padded to the width a terminal shows, so a cell in colour
// (its escape codes take no room) or with wide characters lines up like a plain one.
import stringWidth from 'string-width';

/** Columns the text takes on a terminal. */
export function displayWidth(text: string): number {
  // Plain ASCII is by far the common case, and its width is its length.
  return /^[\x20-\x7e]*$/.test(text) ? text.length : stringWidth(text);
}

/** The text followed by spaces up to width columns (never cut). */
export function padCell(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** Each column's width: its widest cell. */
export function columnWidths(rows: readonly (readonly string[])[]): number[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell))));
  return widths;
}

export interface RowStyle {
  /** Between columns (default two spaces). */
  gap?: string;
  /** Drop trailing spaces (an empty last cell leaves none). */
  trimEnd?: boolean;
}

/** One row: every cell but the last padded to its column's width. */
export function tableRow(cells: readonly string[], widths: readonly number[], style: RowStyle = {}): string {
  const line = cells.map((cell, i) => (i === cells.length - 1 ? cell : padCell(cell, widths[i] ?? 0))).join(style.gap ?? '  ');
  return style.trimEnd ? line.trimEnd() : line;
}

/** Rows as lines, each column as wide as its widest cell. */
export function table(rows: readonly (readonly string[])[], style: RowStyle = {}): string[] {
  const widths = columnWidths(rows);
  return rows.map((row) => tableRow(row, widths, style));
}
