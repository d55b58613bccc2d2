// DayCursor cuts a day's lines.gz text into its objects' records, whatever the chunk
// boundaries and whatever bytes the lines hold (records are length-prefixed).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { linesRecord } from '@raxx/log-format/compacted';
import { DayCursor } from '../../src/lib/logs/day-cursor.js';

/** The bytes as the inflated body arrives: chunks of `size`. */
// eslint-disable-next-line @typescript-eslint/require-await -- an async generator is the plainest AsyncIterable; it needs no await
async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const rec = (key: string, lines: string[]) => linesRecord(key, Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8'));
const file = Buffer.concat([rec('k1', ['a', 'b']), rec('k2', []), rec('k3', ['c']), rec('k5', ['é€', 'last'])]);

/** The bytes cut into chunks of `size` (size 1: every boundary there is, inside characters too). */
function cursor(bytes: Buffer, size: number) {
  const c = new DayCursor(() => Promise.resolve(chunksOf(bytes, size)));
  // Each object's text cut into its lines, as the scan's visitor sees them.
  return { take: async (keys: string[]) => (await c.take(keys)).map((t) => (t === undefined ? undefined : t.length === 0 ? [] : t.toString('utf8').replace(/\n$/, '').split('\n'))) };
}

describe('DayCursor', () => {
  it.each([1, 2, 3, 7, 1000])('reads objects by key in order, chunks of %i bytes', async (size) => {
    const c = cursor(file, size);
    expect(await c.take(['k1', 'k2'])).toEqual([['a', 'b'], []]);
    // k4 is not in the file; k3 skipped over by asking for later keys is dropped.
    expect(await c.take(['k4', 'k5'])).toEqual([undefined, ['é€', 'last']]);
    expect(await c.take(['k6'])).toEqual([undefined]);
  });

  it('a key before the next record is not there, and the record stays for the next ask', async () => {
    const c = cursor(file, 4);
    expect(await c.take(['k0', 'k1'])).toEqual([undefined, ['a', 'b']]);
  });

  it('a missing file serves nothing (the caller reads raw)', async () => {
    const c = new DayCursor(() => Promise.resolve(undefined));
    expect(await c.take(['k1'])).toEqual([undefined]);
  });

  it('a file that is not records, or is cut inside one, serves nothing from there on', async () => {
    expect(await cursor(Buffer.concat([Buffer.from('garbage\nmore\n'), file]), 3).take(['k1', 'k5'])).toEqual([undefined, undefined]);
    const cut = cursor(file.subarray(0, file.length - 3), 2);
    expect(await cut.take(['k1', 'k3', 'k5'])).toEqual([['a', 'b'], ['c'], undefined]);
  });

  it('a file without record headers is not read whole looking for one', async () => {
    let pulled = 0;
    // eslint-disable-next-line @typescript-eslint/require-await -- an async generator is the plainest AsyncIterable; it needs no await
    async function* zeros() {
      for (let i = 0; i < 1000; i++) {
        pulled += 1;
        yield Buffer.alloc(1024, 0);
      }
    }
    const c = new DayCursor(() => Promise.resolve(zeros()));
    expect(await c.take(['k1'])).toEqual([undefined]);
    expect(pulled).toBeLessThan(5);
  });

  it('asks made at once are answered in order', async () => {
    const c = cursor(file, 5);
    const [a, b] = await Promise.all([c.take(['k1']), c.take(['k3'])]);
    expect(a).toEqual([['a', 'b']]);
    expect(b).toEqual([['c']]);
  });

  it('lines holding any bytes (a NUL at a line start, the old record mark, newlines and lengths) come back as stored', async () => {
    const line = fc.array(fc.constantFrom('\u0000', '\u0000k2', 'a', '\n', '12', 'é', ' '), { maxLength: 6 }).map((p) => p.join(''));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(line, { maxLength: 5 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 9 }), async (objects, size) => {
        const keys = objects.map((_, i) => `k${String(i).padStart(2, '0')}`);
        const texts = objects.map((ls) => Buffer.from(ls.map((l) => `${l}\n`).join(''), 'utf8'));
        const bytes = Buffer.concat(keys.map((k, i) => linesRecord(k, texts[i]!)));
        const c = new DayCursor(() => Promise.resolve(chunksOf(bytes, size)));
        const got = await c.take(keys);
        expect(got.map((b) => b?.toString('utf8'))).toEqual(texts.map((t) => t.toString('utf8')));
      }),
      { numRuns: 500 },
    );
  });
});
