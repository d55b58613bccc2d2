// DayCursor cuts a day's lines.gz text into its objects' lines, whatever the chunk boundaries.
import { describe, expect, it } from 'vitest';
import { DayCursor } from '../../src/lib/compaction.js';

const M = '\u0000';
const file = [`${M}k1\n`, 'a\nb\n', `${M}k2\n`, `${M}k3\n`, 'c\n', `${M}k5\n`, 'é€\nlast\n'].join('');

/** The text's bytes cut into chunks of `size` (size 1: every boundary there is, inside characters too). */
function cursor(text: string, size: number) {
  const c = new DayCursor(async () =>
    (async function* () {
      const bytes = Buffer.from(text, 'utf8');
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );
  // Each object's text cut into its lines, as the scan's visitor sees them.
  return { take: async (keys: string[]) => (await c.take(keys)).map((t) => (t === undefined ? undefined : t.length === 0 ? [] : t.toString('utf8').split('\n'))) };
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
    const c = new DayCursor(async () => undefined);
    expect(await c.take(['k1'])).toEqual([undefined]);
  });

  it('damaged text before a record is skipped', async () => {
    const c = cursor(`garbage\nmore\n${file}`, 3);
    expect(await c.take(['k1', 'k5'])).toEqual([['a', 'b'], ['é€', 'last']]);
  });

  it('a last record without a final newline keeps its last line', async () => {
    const c = cursor(`${M}k1\nx\ny`, 2);
    expect(await c.take(['k1'])).toEqual([['x', 'y']]);
  });

  it('asks made at once are answered in order', async () => {
    const c = cursor(file, 5);
    const [a, b] = await Promise.all([c.take(['k1']), c.take(['k3'])]);
    expect(a).toEqual([['a', 'b']]);
    expect(b).toEqual([['c']]);
  });
});
