// DayCursor cuts a day's lines.gz text into its objects' records, whatever the chunk
// boundaries and whatever bytes the lines hold (records are length-prefixed).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { linesRecord } from '@raxx/log-format/compacted';
import { DayCursor, gunzipBytes, ReadAhead } from '../../src/lib/logs/day-cursor.js';

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

  it('reads ahead of its reader only as far as the days read at once may hold together', async () => {
    const big = (key: string) => linesRecord(key, Buffer.alloc(4096, 'x'));
    const day = Buffer.concat(['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'].map(big));
    const budget = new ReadAhead(10_000);
    const pulled = [0, 0];
    async function* counted(i: number) {
      for (let at = 0; at < day.length; at += 1000) {
        pulled[i]! += 1;
        yield await Promise.resolve(day.subarray(at, at + 1000));
      }
    }
    const a = new DayCursor(() => Promise.resolve(counted(0)), budget);
    const b = new DayCursor(() => Promise.resolve(counted(1)), budget);
    expect((await a.take(['k1']))[0]?.length).toBe(4096);
    expect((await b.take(['k1']))[0]?.length).toBe(4096);
    await new Promise((r) => setTimeout(r, 50));
    // Both days hold what they read ahead, together about the budget (each stream may buffer a few chunks more).
    expect(budget.held).toBeGreaterThan(5_000);
    expect(budget.held).toBeLessThan(10_000 + 4 * 1000);
    expect(pulled[0]! + pulled[1]!).toBeLessThan((2 * day.length) / 1000);
    // Reading on makes room: the rest comes, and every record is served.
    expect((await a.take(['k5', 'k8'])).map((t) => t?.length)).toEqual([4096, 4096]);
    expect((await b.take(['k8'])).map((t) => t?.length)).toEqual([4096]);
    await Promise.all([a.close(), b.close()]);
    expect(budget.held).toBe(0);
  });

  it('a record longer than the read-ahead is still read whole (the reader waiting on it is not held back)', async () => {
    const long = linesRecord('k1', Buffer.alloc(50_000, 'y'));
    const c = new DayCursor(() => Promise.resolve(chunksOf(Buffer.concat([long, rec('k2', ['z'])]), 777)), new ReadAhead(1000));
    expect((await c.take(['k1', 'k2'])).map((t) => t?.length)).toEqual([50_000, 2]);
  });

  it('a read that fails mid-way: what came before is served, the ask that reaches the failure rejects, later ones get nothing', async () => {
    async function* failing() {
      yield await Promise.resolve(file.subarray(0, file.indexOf('k3') + 4));
      throw new Error('socket hang up');
    }
    const c = new DayCursor(() => Promise.resolve(failing()));
    expect((await c.take(['k1']))[0]?.toString()).toBe('a\nb\n');
    await expect(c.take(['k3'])).rejects.toThrow('socket hang up');
    expect(await c.take(['k5'])).toEqual([undefined]);
  });

  it('close() while the file is on its way ends the ask waiting on it at once and lets go of the stream', async () => {
    const body = new PassThrough();
    body.write(file.subarray(0, 5));
    const c = new DayCursor(() => Promise.resolve(body));
    const waiting = c.take(['k1', 'k5']);
    await new Promise((r) => setTimeout(r, 20));
    await c.close();
    expect(await waiting).toEqual([undefined, undefined]);
    expect(body.destroyed).toBe(true);
  });

  it('gunzipBytes: the inflated bytes in chunks; destroying it destroys the body', async () => {
    const text = Buffer.concat(Array.from({ length: 200 }, (_, i) => rec(`k${String(i).padStart(3, '0')}`, [`line ${i} `.repeat(500)])));
    const gz = gzipSync(text);
    const whole = await gunzipBytes(Readable.from([gz.subarray(0, 1000), gz.subarray(1000)]));
    const chunks: Buffer[] = [];
    for await (const c of whole) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(text)).toBe(true);

    const body = new PassThrough();
    body.write(gz.subarray(0, 1000));
    const stream = await gunzipBytes(body);
    stream.resume();
    stream.destroy();
    await new Promise((r) => setImmediate(r));
    expect(body.destroyed).toBe(true);
  });
});
