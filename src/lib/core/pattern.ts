// `logs grep` patterns run on RE2JS, a linear-time engine (RE2 syntax, pure JS): a pattern
// such as `(a+)+$` cannot make a search run forever, as JavaScript's backtracking RegExp
// does, so Ctrl-C is always seen between objects. RE2 has no backreferences and no
// lookaround; everything else an operator types (classes, \d, \b, anchors, alternation,
// counted repetition, (?i)) works as in grep -E.
import { RE2JS } from 're2js';
import { UsageError } from './errors.js';

export type LineTest = (line: string) => boolean;

/** RE2JS's prefilter node (built from its own parse of the pattern, after simplification). */
interface PrefilterNode {
  /** 0 none, 1 exact text, 2 all of subs, 3 any of subs. */
  type: number;
  str: string;
  subs: PrefilterNode[];
}
const EXACT = 1;
const AND = 2;

/**
 * A string every matching line contains, or undefined when there is none to trust. The scan
 * looks for it with indexOf over an object's whole bytes and runs the pattern only on the
 * lines that hold it, instead of cutting every line and running the engine on each (most lines
 * of a search are not matches).
 *
 * It is taken from the prefilter RE2JS builds for itself from its own parse of the pattern
 * (escapes, classes, \Q…\E, flags and repetition resolved by the engine that matches): a
 * literal node, or the longest literal that an all-of node requires. Scanning the pattern by
 * hand misread escapes and classes and dropped matching lines. Anything else (any-of nodes,
 * case folding, no prefilter, an engine without one) means no literal: every line is tested.
 */
export function requiredLiteral(pattern: string, opts: { fixed: boolean; ignoreCase: boolean }): string | undefined {
  if (opts.ignoreCase || !prefilterUnderstood()) return undefined;
  const best = literalOf(opts.fixed ? RE2JS.quote(pattern) : pattern);
  return best !== undefined && searchable(best) ? best : undefined;
}

/** The longest literal the engine's prefilter requires of every match ('' for none); undefined when it cannot compile. */
function literalOf(source: string): string | undefined {
  let node: PrefilterNode | null | undefined;
  try {
    node = (RE2JS.compile(source) as unknown as { re2Input?: { prefilter?: PrefilterNode | null } }).re2Input?.prefilter;
  } catch {
    return undefined;
  }
  const candidates = node?.type === EXACT ? [node] : node?.type === AND && Array.isArray(node.subs) ? node.subs.filter((s) => s.type === EXACT) : [];
  let best = '';
  for (const c of candidates) if (typeof c.str === 'string' && c.str.length > best.length) best = c.str;
  return best;
}

let understood: boolean | undefined;
/**
 * The prefilter is not a documented API: before trusting it, check once that it still has the
 * shape read here (a literal, an all-of, an any-of that gives nothing). Otherwise no prefilter.
 */
function prefilterUnderstood(): boolean {
  understood ??= literalOf('abcd') === 'abcd' && literalOf('abc.*wxyz') === 'wxyz' && literalOf('abcd|wxyz') === '' && literalOf('(abcd)?wx') === 'wx';
  return understood;
}

/**
 * Whether the bytes of `s` are in every line whose decoded text holds it: not with a newline
 * (lines never hold one), nor U+FFFD or a lone surrogate (a line's invalid UTF-8 decodes to
 * U+FFFD without holding its bytes). Short literals are not worth the scan.
 */
function searchable(s: string): boolean {
  return s.length >= 3 && !/[\n\uFFFD\uD800-\uDFFF]/u.test(s);
}

export const PATTERN_SYNTAX = `Patterns use RE2 syntax, as grep -E: classes, \\d, \\b, anchors, alternation, {n,m},
(?i). No backreferences or lookaround: every pattern runs in linear time.`;

export function compilePattern(pattern: string, opts: { fixed: boolean; ignoreCase: boolean }): LineTest {
  if (opts.fixed && !opts.ignoreCase) return (line) => line.includes(pattern);
  const source = opts.fixed ? RE2JS.quote(pattern) : pattern;
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, opts.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    const lookaround = /\(\?[=!<]|\\[1-9]/.test(pattern);
    throw new UsageError(`<pattern>: not a valid pattern: ${(err as Error).message}`, {
      hint: lookaround
        ? 'backreferences and lookaround are not supported (linear-time RE2 syntax); match a wider pattern and filter, or pass -F for a plain string'
        : 'escape special characters (\\. \\( \\[), or pass -F to search for the text as it is',
    });
  }
  return (line) => re.test(line);
}
