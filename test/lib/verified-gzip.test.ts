// What a damaged object gives: only the text its gzip checksums verified, and a problem that
// says what is past it. Deflate inflates flipped bits into plausible text; only the CRC-32 at
// the member's end tells, so nothing of a member that fails is taken as lines.
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { verifiedGunzip } from '@raxx/log-format/gzip-members';
import { read } from '../../src/lib/logs/body.js';
import { type LineVisitor } from '../../src/lib/logs/store.js';

const text = Array.from({ length: 2000 }, (_, i) => `line ${i} status=${200 + (i % 7)} path=/api/v${i % 3}`).join('\n') + '\n';
const gz = gzipSync(text);
const flipped = (buf: Buffer, at: number, n: number) => {
  const b = Buffer.from(buf);
  for (let i = at; i < at + n; i++) b[i] = b[i]! ^ 0x5a;
  return b;
};
const withName = (() => {
  // A header with FNAME and FCOMMENT set, as gzip(1) writes for a file.
  const b = Buffer.from(gz);
  const out = Buffer.concat([b.subarray(0, 10), Buffer.from('a.log\0a comment\0'), b.subarray(10)]);
  out[3] = 8 | 16;
  return out;
})();

describe('verifiedGunzip', () => {
  it.each<[string, Buffer, string, RegExp | undefined]>([
    ['a whole object', gz, text, undefined],
    ['a header with a file name and a comment', withName, text, undefined],
    ['two members', Buffer.concat([gzipSync('a\n'), gzipSync('b\n')]), 'a\nb\n', undefined],
    ['trailing zero padding', Buffer.concat([gz, Buffer.alloc(64)]), text, undefined],
    ['40 flipped bytes mid-object', flipped(gz, Math.floor(gz.length / 2), 40), '', /^corrupt: /],
    ['one flipped bit in the CRC', flipped(gz, gz.length - 6, 1), '', /checksum mismatch/],
    ['a wrong length', flipped(gz, gz.length - 2, 1), '', /checksum mismatch/],
    ['cut short', gz.subarray(0, gz.length - 100), '', /cut short/],
    ['cut in the trailer', gz.subarray(0, gz.length - 3), '', /cut short/],
    ['not gzip', Buffer.from('plain text\n'), '', /not gzip/],
    ['a complete member, then junk', Buffer.concat([gzipSync('one\n'), Buffer.from('junk junk')]), 'one\n', /9 bytes that are not gzip after 1 complete gzip member/],
    ['a complete member, then junk that starts like gzip', Buffer.concat([gzipSync('one\n'), Buffer.from([0x1f, 0x8b, 1, 2])]), 'one\n', /after 1 complete gzip member/],
    ['a complete member, then a damaged one', Buffer.concat([gzipSync('one\n'), flipped(gz, 30, 40)]), 'one\n', /after 1 complete gzip member/],
  ])('%s', (_name, body, want, problem) => {
    const r = verifiedGunzip(body);
    expect(r.text.toString('utf8')).toBe(want);
    if (problem) expect(r.problem).toMatch(problem);
    else expect(r.problem).toBeUndefined();
  });
});

describe('reading an object too big to hold', () => {
  const visitor = (): LineVisitor<string[]> & { seen: string[] } => {
    const seen: string[] = [];
    return { seen, line: (l) => void seen.push(l), result: () => seen };
  };

  it('streams a whole one: every line, no problem', async () => {
    const v = visitor();
    const r = await read(Readable.from([gz.subarray(0, 100), gz.subarray(100)]), AbortSignal.timeout(10_000), v, 50);
    expect(r.problem).toBeUndefined();
    expect(r.lines).toBe(2000);
  });

  it('says which lines of it were read before the damage showed: unverified', async () => {
    const v = visitor();
    const damaged = flipped(gz, gz.length - 6, 1);
    const r = await read(Readable.from([damaged.subarray(0, 100), damaged.subarray(100)]), AbortSignal.timeout(10_000), v, 50);
    // The lines handed over before the check failed, and exactly those, are named.
    expect(r.lines).toBeGreaterThan(0);
    expect(v.seen.length).toBe(r.lines);
    expect(r.problem).toMatch(new RegExp(`lines 1-${r.lines} of it were read before the damage was found and are unverified`));
  });

  it('held whole under the limit: the damaged one gives no line', async () => {
    const v = visitor();
    const r = await read(Readable.from([flipped(gz, gz.length - 6, 1)]), AbortSignal.timeout(10_000), v);
    expect(v.seen).toEqual([]);
    expect(r.problem).toMatch(/checksum mismatch.*no line of it was read/);
  });
});
