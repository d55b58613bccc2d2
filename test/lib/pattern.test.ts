// grep's required literal: a line without it never matches, so the scan may look for it with
// indexOf and hand the pattern only the lines that hold it. Wrong here would drop matches.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePattern, requiredLiteral } from '../../src/lib/core/pattern.js';
import { LineSplitter, visitBytes, type LineVisitor } from '../../src/lib/logs/store.js';

const plain = { fixed: false, ignoreCase: false };

/** What grep selects from a text: every line the pattern matches, with or without the literal prefilter. */
function selected(text: string, pattern: string, opts: { fixed: boolean; ignoreCase: boolean }, literal: string | undefined): string[] {
  const test = compilePattern(pattern, opts);
  const seen: string[] = [];
  visitBytes(Buffer.from(text, 'utf8'), { literal, line: (l) => void (test(l) && seen.push(l)), result: () => seen });
  return seen;
}

describe('requiredLiteral', () => {
  it.each([
    ['status=50[34] ', 'status=50'],
    ['timeout', 'timeout'],
    ['request_id=[0-9a-f]{8}-1\\b', 'request_id='],
    ['^<190>', '<190>'],
    ['abc?def', 'def'],
    ['ab{2,3}cdefg', 'cdefg'],
    ['status=5\\d\\d', 'status=5'],
    ['x(abc)yz', 'abc'],
    // What a hand scan misread: the engine's parse resolves escapes, classes and quoting.
    ['\\x61bcdef', 'abcdef'],
    ['\\x{61}bcdef', 'abcdef'],
    ['\\141bcdef', 'abcdef'],
    ['\\pLtatus', 'tatus'],
    ['\\Qa.b\\E', 'a.b'],
    // Nothing to trust: alternation, case folding, optional parts, too short.
    ['[]abcd]x', undefined],
    ['\\Q)\\E(abcd)?ef', undefined],
    ['a|b', undefined],
    ['(?i)activerecord', undefined],
    ['x{10000}', undefined],
    ['(a+)+$', undefined],
    ['ab', undefined],
  ])('%s → %s', (pattern, literal) => {
    expect(requiredLiteral(pattern, plain)).toBe(literal);
  });

  it('-F is its own literal; -i, a newline and text that invalid UTF-8 could stand for give none', () => {
    expect(requiredLiteral('a.b|c', { fixed: true, ignoreCase: false })).toBe('a.b|c');
    expect(requiredLiteral('timeout', { fixed: false, ignoreCase: true })).toBeUndefined();
    expect(requiredLiteral('time\\Qout', { fixed: true, ignoreCase: true })).toBeUndefined();
    expect(requiredLiteral('a\nbcd', plain)).toBeUndefined();
    expect(requiredLiteral('ab\uFFFDcd', { fixed: true, ignoreCase: false })).toBeUndefined();
    expect(requiredLiteral('\\x{FFFD}abc', plain)).toBeUndefined();
  });

  it.each([
    ['\\x61bcdef', 'x abcdef y'],
    ['\\141bcdef', 'x abcdef y'],
    ['\\pLtatus', 'status=200'],
    ['[]abcd]x', 'x]x y'],
    ['\\Q)\\E(abcd)?ef', 'x )ef y'],
  ])('the issue\'s pattern %s selects %s with the prefilter as without', (pattern, line) => {
    const text = `nothing here\n${line}\nnor here\n`;
    const literal = requiredLiteral(pattern, plain);
    expect(selected(text, pattern, plain, undefined)).toEqual([line]);
    expect(selected(text, pattern, plain, literal)).toEqual([line]);
  });

  it('bytes that are not UTF-8 decode to U+FFFD: a -F search for it still finds the line', () => {
    const bytes = Buffer.concat([Buffer.from('a '), Buffer.from([0xff]), Buffer.from('b\nplain\n')]);
    const fixed = { fixed: true, ignoreCase: false };
    const literal = requiredLiteral('\uFFFDb', fixed);
    const test = compilePattern('\uFFFDb', fixed);
    const seen: string[] = [];
    visitBytes(bytes, { literal, line: (l) => void (test(l) && seen.push(l)), result: () => seen });
    expect(seen).toEqual(['a \uFFFDb']);
  });
});

// Patterns over RE2's whole syntax (as RE2JS parses it), against lines over the characters
// they name: grep with the prefilter must select exactly what it selects without one.
const ALPHABET = ['a', 'b', 'c', 'A', 'B', '=', '5', '0', ' ', '-', ']', ')', '(', '.', 'é', 'Ω', '\t', '_', '\\', '\u0000'];
const char = fc.constantFrom(...ALPHABET);
const code = (c: string) => c.codePointAt(0)!;
const atom: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'c', '=', '5', ' ', 'ab', 'abc', 'ca', 'b=5') },
  // Escapes: hex, braced hex, octal, of the same characters.
  fc.constantFrom('a', 'b', 'c', '=', ']', ')').map((c) => `\\x${code(c).toString(16).padStart(2, '0')}`),
  fc.constantFrom('a', 'b', 'c', 'é', 'Ω').map((c) => `\\x{${code(c).toString(16)}}`),
  fc.constantFrom('a', 'b', 'c', '=', '5').map((c) => `\\${code(c).toString(8).padStart(3, '0')}`),
  fc.constantFrom('\\0', '\\t', '\\.', '\\(', '\\)', '\\]', '\\-', '\\\\', '\\*', '\\='),
  // Perl, Unicode and POSIX classes; assertions.
  fc.constantFrom('\\d', '\\D', '\\w', '\\W', '\\s', '\\S', '\\pL', '\\PL', '\\pN', '\\p{Greek}', '\\P{Greek}', '\\p{Lu}', '\\pLtatus'),
  fc.constantFrom('[[:alpha:]]', '[[:digit:]]', '[^[:space:]]', '[[:^alpha:]]', '[[:word:]]'),
  fc.constantFrom('\\b', '\\B', '\\A', '\\z', '^', '$', '.'),
  // Bracket classes with ] and - in every position they may take.
  fc.constantFrom('[]a]', '[^]a]', '[a-c]', '[-a]', '[a-]', '[]abcd]', '[\\]a]', '[\\-a]', '[^a-c]', '[a\\-c]', '[]-a]', '[=5]', '[.]'),
  // Quoting, with metacharacters inside.
  fc.array(char, { maxLength: 4 }).map((cs) => `\\Q${cs.join('').replace(/\\E/g, '')}\\E`),
  fc.constantFrom('\\Q)\\E', '\\Qa.b\\E', '\\Qab', '\\Q\\E'),
  // Flags, alone and scoped.
  fc.constantFrom('(?i)', '(?s)', '(?m)', '(?U)', '(?-i)', '(?i:ab)', '(?s:.)', '(?i)abc', '(?-s:a.)'),
);
const pattern: fc.Arbitrary<string> = fc.letrec<{ re: string; seq: string; piece: string }>((tie) => ({
  re: fc.oneof({ depthSize: 'small' }, { weight: 4, arbitrary: tie('seq') }, fc.tuple(tie('seq'), tie('seq')).map(([a, b]) => `${a}|${b}`)),
  seq: fc.array(tie('piece'), { minLength: 1, maxLength: 6 }).map((p) => p.join('')),
  piece: fc.tuple(
    fc.oneof({ weight: 5, arbitrary: atom }, fc.tuple(fc.constantFrom('(', '(?:', '(?P<n>', '(?i:'), tie('re')).map(([open, inner]) => `${open}${inner})`)),
    fc.constantFrom('', '', '', '', '?', '*', '+', '{2}', '{0,1}', '{1,}', '{0}', '??', '+?', '{1,2}?'),
  ).map(([p, q]) => p + q),
})).re;

describe('the prefilter over RE2 syntax', () => {
  it('selects the same lines as testing every line (generated patterns, lines, -i and -F)', () => {
    let filteredMatches = 0;
    const line = fc.array(char, { maxLength: 16 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(pattern, fc.array(line, { maxLength: 16 }), fc.boolean(), fc.boolean(), (source, lines, ignoreCase, fixed) => {
        const opts = { fixed, ignoreCase };
        try {
          compilePattern(source, opts);
        } catch {
          return; // not a valid pattern: grep refuses it before any scan
        }
        // Lines made of the pattern's own text too, so that patterns with a literal do match.
        const text = [...lines, source, `x${source}y`, source.replace(/\\/g, '')].join('\n');
        const literal = requiredLiteral(source, opts);
        const want = selected(text, source, opts, undefined);
        const got = selected(text, source, opts, literal);
        expect(got).toEqual(want);
        if (literal !== undefined && want.length > 0) filteredMatches += 1;
      }),
      { numRuns: 4000 },
    );
    // The property was tested where it matters: patterns with a literal that do select lines.
    expect(filteredMatches).toBeGreaterThan(200);
  });
});

describe('a visitor with a literal', () => {
  const collect = (literal: string | undefined, chunks: string[]) => {
    const seen: string[] = [];
    const v: LineVisitor<string[]> = { literal, line: (l) => void seen.push(l), result: () => seen };
    const s = new LineSplitter(v);
    for (const c of chunks) s.push(c);
    s.end();
    return { seen, count: s.count };
  };

  it('hands over every line that holds it (a line cut across chunks may come as well), counts them all, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[ab5= ]{0,12}$/), { maxLength: 30 }), fc.boolean(), fc.integer({ min: 1, max: 17 }), (lines, lastNewline, size) => {
        const text = lines.join('\n') + (lastNewline && lines.length > 0 ? '\n' : '');
        const chunks: string[] = [];
        for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
        const all = collect(undefined, chunks);
        const some = collect('a=5', chunks);
        expect(some.count).toBe(all.count);
        const holding = (xs: string[]) => xs.filter((l) => l.includes('a=5'));
        expect(holding(some.seen)).toEqual(holding(all.seen));
        // Nothing else than lines of the text, in their order.
        let at = 0;
        for (const l of some.seen) {
          at = all.seen.indexOf(l, at);
          expect(at).toBeGreaterThanOrEqual(0);
          at += 1;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('from bytes (a compacted object, an inflated body): the same lines hold it, the same count', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[ab5=é ]{0,12}$/), { maxLength: 30 }), fc.boolean(), (lines, lastNewline) => {
        const text = lines.join('\n') + (lastNewline && lines.length > 0 ? '\n' : '');
        const all = collect(undefined, [text]);
        const seen: string[] = [];
        const r = visitBytes(Buffer.from(text, 'utf8'), { literal: 'a=é', line: (l) => void seen.push(l), result: () => seen });
        expect(r.lines).toBe(all.count);
        expect(seen).toEqual(all.seen.filter((l) => l.includes('a=é')));
      }),
      { numRuns: 2000 },
    );
  });

  it('stops when the visitor says so', () => {
    const seen: string[] = [];
    const r = visitBytes(Buffer.from('a hit\nmiss\nhit two\nhit three\n'), { literal: 'hit', line: (l) => (seen.push(l), seen.length < 2 ? undefined : false), result: () => seen });
    expect(seen).toEqual(['a hit', 'hit two']);
    // Stopped at the third line: the fourth was never counted.
    expect(r.lines).toBe(3);
  });
});
