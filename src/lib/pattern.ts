// `logs grep` patterns run on RE2JS, a linear-time engine (RE2 syntax, pure JS): a pattern
// such as `(a+)+$` cannot make a search run forever, as JavaScript's backtracking RegExp
// does, so Ctrl-C is always seen between objects. RE2 has no backreferences and no
// lookaround; everything else an operator types (classes, \d, \b, anchors, alternation,
// counted repetition, (?i)) works as in grep -E.
import { RE2JS } from 're2js';
import { UsageError } from './errors.js';

export type LineTest = (line: string) => boolean;

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
