// `logs grep` patterns run on RE2JS, a linear-time engine (RE2 syntax, pure JS): a pattern
// such as `(a+)+$` cannot make a search run forever, as JavaScript's backtracking RegExp
// does, so Ctrl-C is always seen between objects. RE2 has no backreferences and no
// lookaround; everything else an operator types (classes, \d, \b, anchors, alternation,
// counted repetition, (?i)) works as in grep -E.
import { RE2JS } from 're2js';
import { UsageError } from './errors.js';

export type LineTest = (line: string) => boolean;

const META = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}']);
const OPTIONAL = new Set(['?', '*']);

/**
 * A string every matching line contains, when one is plain to see: the longest run of
 * ordinary characters outside any group, class or repetition, in a pattern without
 * alternation. The scan looks for it with indexOf over an object's whole text and runs the
 * pattern only on the lines that hold it, instead of cutting every line and running the
 * engine on each (most lines of a search are not matches). Undefined when there is none to
 * trust: -i, alternation, flags, or nothing literal at the top level.
 */
export function requiredLiteral(pattern: string, opts: { fixed: boolean; ignoreCase: boolean }): string | undefined {
  if (opts.ignoreCase || pattern.includes('\n')) return undefined;
  if (opts.fixed) return pattern.length > 0 ? pattern : undefined;
  // Alternation, or flags anywhere ((?i) part-way makes the rest case-insensitive).
  if (pattern.includes('|') || pattern.includes('(?')) return undefined;
  let best = '';
  let run = '';
  let depth = 0;
  let inClass = false;
  const end = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (inClass) {
      if (c === '\\') i++;
      else if (c === ']') inClass = false;
      continue;
    }
    if (c === '\\') {
      // An escape (\d, \b, \.): not taken as literal, to stay simple.
      end();
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      end();
      continue;
    }
    if (c === '{') {
      // A counted repetition: the character before it leaves the run, its digits are not text.
      run = run.slice(0, -1);
      end();
      const close = pattern.indexOf('}', i);
      if (close === -1) return undefined;
      i = close;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (META.has(c) || depth > 0) {
      // A quantifier makes the character before it optional or repeated: it leaves the run.
      if (OPTIONAL.has(c) || c === '+') run = run.slice(0, -1);
      end();
      continue;
    }
    run += c;
  }
  end();
  return best.length >= 3 ? best : undefined;
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
