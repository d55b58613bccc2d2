// logs fetch keeps an object's text as bytes and prints it a piece at a time: the keeper holds
// the inflated Buffers themselves (never its lines as strings), counts lines as the line
// splitter does, keeps only complete lines of a stream that breaks off, decodes batches as the
// whole text decodes, and masks pieces apart only where that equals masking the whole.
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { read } from '../../src/lib/logs/body.js';
import { visitBytes, type LineVisitor } from '../../src/lib/logs/store.js';
import { lineBatches, textKeeper } from '../../src/lib/logs/text.js';
import { maskHazard, redact } from '../../src/lib/core/secrets.js';
// The same cases every run: the benchmarks' deterministic PRNG.
import { rng } from '../../bench/support.mjs';

const lineCollector = (): LineVisitor<string[]> => {
  const lines: string[] = [];
  return { line: (l) => void lines.push(l), result: () => lines };
};

/** Random pieces of a buffer, cut anywhere (inside a character too). */
function pieces(buf: Buffer, rand: () => number, most = 7): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    const n = 1 + Math.floor(rand() * most);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

const TEXTS = ['', 'a', 'a\n', '\n', '\n\n', 'a\n\nb', 'é€😀\nx', 'bad \xff\xfe utf-8\n', 'cut \xe2\x82', 'no newline at the end'];

describe('textKeeper', () => {
  it('holds the inflated Buffer itself and counts the lines the line splitter hands over', () => {
    for (const t of TEXTS) {
      const buf = Buffer.from(t, 'latin1');
      const kept = visitBytes(buf, textKeeper());
      const split = visitBytes(buf, lineCollector());
      expect({ t, lines: kept.lines }).toEqual({ t, lines: split.lines });
      // No copy and no string: the object's bytes are what is held until its turn.
      if (buf.length > 0) expect(kept.value[0]).toBe(buf);
      expect(kept.value.every((c) => Buffer.isBuffer(c))).toBe(true);
      expect(Buffer.concat(kept.value).equals(buf)).toBe(true);
    }
  });

  it('streamed past the hold limit: Buffers only, and a stream that breaks off keeps its complete lines', async () => {
    const text = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `${i} line é ${'x'.repeat(i % 50)}`).join('\n') + '\nlast without newline');
    const gz = gzipSync(text);
    const body = () => Readable.from(pieces(gz, rng(1), 4096));
    const signal = new AbortController().signal;
    const kept = await read(body(), signal, textKeeper(), 1024);
    const split = await read(body(), signal, lineCollector(), 1024);
    expect(kept.value.every((c) => Buffer.isBuffer(c))).toBe(true);
    expect(Buffer.concat(kept.value).equals(text)).toBe(true);
    expect(kept.lines).toBe(split.lines);
    // Cut short: the lines handed over before the damage, not the start of the next one.
    const cut = gz.subarray(0, Math.floor(gz.length * 0.6));
    const keptCut = await read(Readable.from(pieces(cut, rng(2), 4096)), signal, textKeeper(), 1024);
    const splitCut = await read(Readable.from(pieces(cut, rng(2), 4096)), signal, lineCollector(), 1024);
    expect(keptCut.lines).toBe(splitCut.lines);
    expect(keptCut.problem).toBe(splitCut.problem);
    expect(Buffer.concat(keptCut.value).toString('utf8')).toBe(splitCut.value.map((l) => `${l}\n`).join(''));
  });
});

describe('lineBatches', () => {
  it('gives the lines of the whole text decoded at once, however the bytes are cut', () => {
    const rand = rng(7);
    const alphabet = ['a', 'é', '€', '😀', '\n', '\n', ' ', '\xff', '\xe2\x82', '\xf0\x9f'];
    for (let round = 0; round < 300; round++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        const s = alphabet[Math.floor(rand() * alphabet.length)]!;
        parts.push(s.startsWith('\xe2') || s.startsWith('\xf0') || s === '\xff' ? Buffer.from(s, 'latin1') : Buffer.from(s, 'utf8'));
      }
      const whole = Buffer.concat(parts);
      const want = visitBytes(whole, lineCollector()).value;
      const got = [...lineBatches(pieces(whole, rand), 1 + Math.floor(rand() * 5))].flat();
      expect(got).toEqual(want);
    }
  });

  it('cuts a big text into batches of about the size asked', () => {
    const text = Buffer.from(`${'0123456789'.repeat(10)}\n`.repeat(50_000));
    const batches = [...lineBatches([text], 64 * 1024)];
    expect(batches.length).toBeGreaterThan(50);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThan(1000);
    expect(batches.flat().length).toBe(50_000);
  });
});

describe('maskHazard', () => {
  const cases: [string[], string, string | undefined][] = [
    [['<190>1 host app web.1 - plain'], '<190>1 host app web.1 - next', undefined],
    [['<190>1 host app web.1 - {"password"'], ': "hunter2"}', 'key-value'],
    [['<190>1 host app web.1 - {"password"'], '<190>1 next', undefined],
    [['<190>1 host app web.1 - {"password":'], '"hunter2"}', 'key-value'],
    [['{"password":', '   '], '"hunter2"}', 'key-value'],
    [['x "a"'], '   ', 'key-value'],
    [['-----BEGIN RSA PRIVATE KEY-----', 'MIIEow'], '-----END RSA PRIVATE KEY-----', 'key-block'],
    [['-----BEGIN RSA PRIVATE KEY-----', 'MIIEow', '-----END RSA PRIVATE KEY-----'], 'after', undefined],
    // Kinds that differ do not close the block: the rule masks to the end of the text.
    [['-----BEGIN RSA PRIVATE KEY-----', '-----END EC PRIVATE KEY-----'], 'after', 'key-block'],
  ];
  it.each(cases)('%j then %j: %s', (lines, next, hazard) => {
    expect(maskHazard(lines, next)).toBe(hazard);
  });

  it('wherever it allows a cut, masking the two pieces apart equals masking the whole text', () => {
    const rand = rng(11);
    const words = ['{"password"', '"password"', ':', ': "hunter2"}', '"hunter2"', ' ', '', '83 <190>1 2025-06-01T00:00:00+00:00 host app web.1 -', 'token=abc123secret', 'Authorization: Bearer abc.def-123', '-----BEGIN RSA PRIVATE KEY-----', '-----END RSA PRIVATE KEY-----', '-----END EC PRIVATE KEY-----', 'MIIEowIBAAKCAQEA', "'secret'", "'secret': 'x1'", 'cookie: sid=1', 'postgres://u:pw@db/x', '\\"api_key\\"', '\\"api_key\\":\\"v9\\"', '42', 'plain text'];
    let cuts = 0;
    for (let round = 0; round < 400; round++) {
      const lines = Array.from({ length: 2 + Math.floor(rand() * 8) }, () => {
        const n = 1 + Math.floor(rand() * 3);
        return Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(rand() < 0.7 ? ' ' : '');
      });
      for (let at = 1; at < lines.length; at++) {
        if (maskHazard(lines.slice(0, at), lines[at]!) !== undefined) continue;
        cuts += 1;
        const whole = redact(`${lines.join('\n')}\n`);
        const apart = redact(`${lines.slice(0, at).join('\n')}\n`) + redact(`${lines.slice(at).join('\n')}\n`);
        expect({ lines, at, apart }).toEqual({ lines, at, apart: whole });
      }
    }
    expect(cuts).toBeGreaterThan(500);
  });
});
