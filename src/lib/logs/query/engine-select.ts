// A grep selection as the embedded engine runs it over a compacted day's Parquet: DuckDB's
// regexp_matches is RE2 (C++), the same syntax as RE2JS, which grep runs everywhere else. Where
// the two could answer differently for some line, the day is read from lines.gz instead
// (docs/query.md, "grep and fetch on the embedded engine"): a slower read, never other output.

/** Which stored lines a visitor selects: grep's flags, or every line (fetch). */
export interface Selection {
  pattern?: string;
  fixed?: boolean;
  ignoreCase?: boolean;
  invert?: boolean;
  /** Matched against the stored frame (--raw), not the line as Heroku shows it. */
  raw?: boolean;
  /** A literal every selected line holds (grep's required literal): a cheap filter first. */
  literal?: string | undefined;
  /** -m: no day needs more than this many selected lines. */
  limit?: number;
  /** -c: only how many lines each object has selected. */
  countOnly?: boolean;
}

/** The SQL condition on a row (`line`, as stored) and its parameters, or why the engine cannot run it. */
export type EngineFilter = { where: string; params: string[] } | { unsupported: string };

/**
 * The stored line as grep matches it unless --raw: withoutOctetCount() in SQL. The count is 1-8
 * ASCII digits, a space and `<`; ltrim then a length check costs a fraction of a regex per row.
 */
const DIGITS = "ltrim(line, '0123456789')";
const SHOWN = `(CASE WHEN length(line) - length(${DIGITS}) BETWEEN 1 AND 8 AND starts_with(${DIGITS}, ' <') THEN substr(${DIGITS}, 2) ELSE line END)`;

/** RE2 syntax for a fixed string: ASCII punctuation escaped, NUL as \x00 (as RE2's QuoteMeta does). */
export function quoteRe2(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\u0000') out += '\\x00';
    else if (ch.charCodeAt(0) < 0x80 && !/[A-Za-z0-9_]/.test(ch)) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

const FOLDING = "case folding beyond ASCII differs between the two engines' Unicode versions";

/**
 * Why RE2JS and the engine's RE2 might select different lines for this pattern, or undefined.
 * Textual and conservative: a sign of a construct anywhere (inside \Q…\E included) sends the
 * day to lines.gz.
 *  - \p / \P: the two carry different Unicode versions (RE2JS the newer: thousands of letters
 *    and symbols more).
 *  - Case-insensitive with anything beyond ASCII (a character, a \x or octal escape): case
 *    folding comes from those same tables. ASCII letters fold alike in both (k K U+212A, s S U+017F).
 *  - \B: the C++ engine works on UTF-8 bytes and finds a non-boundary inside a multi-byte
 *    character, where RE2JS sees none.
 *  - NUL: the engine's error messages and literals are C strings; a pattern with one stays in JS.
 *  - A lone surrogate cannot be sent as UTF-8.
 */
export function engineMismatch(source: string, caseInsensitive: boolean): string | undefined {
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(source)) return 'it holds a lone surrogate';
  if (source.includes('\u0000')) return 'it holds a NUL';
  if (/\\[pP]/.test(source)) return 'Unicode classes (\\p, \\P) differ between the two engines\' Unicode versions';
  if (source.includes('\\B')) return '\\B differs inside multi-byte characters';
  const folding = caseInsensitive || /\(\?[A-Za-z-]*i/.test(source);
  // eslint-disable-next-line no-control-regex
  if (folding && (/[^\u0000-\u007f]/.test(source) || /\\(x|[0-7])/.test(source))) return FOLDING;
  return undefined;
}

/** The selection as a WHERE condition over a Parquet day's rows (`line`), or why not. */
export function engineFilter(sel: Selection): EngineFilter {
  if (sel.pattern === undefined) return { where: 'true', params: [] };
  const shown = sel.raw ? 'line' : SHOWN;
  const params: string[] = [];
  let test: string;
  if (sel.fixed && !sel.ignoreCase) {
    // A plain substring, as line.includes() does: no regex at all (a NUL binds fine as a parameter).
    params.push(sel.pattern);
    test = `contains(${shown}, $1)`;
  } else {
    const source = sel.fixed ? quoteRe2(sel.pattern) : sel.pattern;
    // A fixed string is checked as typed: its quoting (\x00 for a NUL) is ours, and plain ASCII.
    // eslint-disable-next-line no-control-regex
    const why = sel.fixed ? (/[^\u0000-\u007f]/.test(sel.pattern) ? FOLDING : undefined) : engineMismatch(source, sel.ignoreCase === true);
    if (why) return { unsupported: why };
    params.push(sel.ignoreCase ? `(?i)${source}` : source);
    test = `regexp_matches(${shown}, $1)`;
  }
  if (sel.invert) return { where: `NOT ${test}`, params };
  // The literal is in the shown line, so in the stored one: rows without it are never shown a regex.
  if (sel.literal) {
    params.push(sel.literal);
    return { where: `contains(line, $2) AND ${test}`, params };
  }
  return { where: test, params };
}
