// grep's required literal: a line without it never matches, so the scan may look for it with
// indexOf and hand the pattern only the lines that hold it. Wrong here would drop matches.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePattern, requiredLiteral } from '../../src/lib/pattern.js';
import { LineSplitter, visitBytes, type LineVisitor } from '../../src/lib/log-store.js';

const plain = { fixed: false, ignoreCase: false };

describe('requiredLiteral', () => {
  it.each([
    ['status=50[34] ', 'status=50'],
    ['timeout', 'timeout'],
    ['request_id=[0-9a-f]{8}-1\\b', 'request_id='],
    ['^<190>', '<190>'],
    ['abc?def', 'def'],
    ['ab{2,3}cdefg', 'cdefg'],
    ['status=5\\d\\d', 'status=5'],
    // Nothing to trust: alternation, flags anywhere, groups, classes, counted repetition alone, too short.
    ['a|b', undefined],
    ['(?i)activerecord', undefined],
    ['abc(?i)def', undefined],
    ['x(abc)yz', undefined],
    ['ab[c]de', undefined],
    ['x{10000}', undefined],
    ['(a+)+$', undefined],
    ['ab', undefined],
  ])('%s → %s', (pattern, literal) => {
    expect(requiredLiteral(pattern, plain)).toBe(literal);
  });

  it('-F is its own literal; -i and a newline give none', () => {
    expect(requiredLiteral('a.b|c', { fixed: true, ignoreCase: false })).toBe('a.b|c');
    expect(requiredLiteral('timeout', { fixed: false, ignoreCase: true })).toBeUndefined();
    expect(requiredLiteral('a\nbcd', plain)).toBeUndefined();
  });

  it('every line the pattern matches holds the literal (generated patterns and lines)', () => {
    const atom = fc.constantFrom('a', 'b', 'c', '=', ' ', 'ab', 'abc', '[ab]', '.', 'a?', 'b*', 'c+', '\\d', '(ab)', '(a|b)', 'x{2}', '^', '$', '5');
    const text = fc.stringMatching(/^[abcx=5 0-9]{0,24}$/);
    fc.assert(
      fc.property(fc.array(atom, { minLength: 1, maxLength: 8 }), fc.array(text, { maxLength: 20 }), (atoms, lines) => {
        const pattern = atoms.join('');
        const literal = requiredLiteral(pattern, plain);
        if (literal === undefined) return;
        const test = compilePattern(pattern, plain);
        for (const line of lines) if (test(line)) expect(line).toContain(literal);
      }),
      { numRuns: 3000 },
    );
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
