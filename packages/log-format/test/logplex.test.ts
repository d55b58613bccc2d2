import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMessage, frame, parse, parseFrameLine, timestampMs, type SyslogMessage } from '../src/logplex.js';

// heroku/logplex doc/README.http_drains.md: ten of these make the example's Content-Length 730.
const README_LINE = '70 <174>1 2012-07-22T00:06:26+00:00 host erlang console - Hi from erlang\n';
// Heroku's log-drain article: the count (83) includes the message's own trailing newline.
const DEVCENTER = '83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\n';
// Logplex's own notice carries no newline, so the next frame follows on the same line.
const L10_MSG = '<172>1 2025-06-02T14:05:00+00:00 host heroku logplex - Error L10 (output buffer overflow): 27 messages dropped since 2025-06-02T14:04:41+00:00.';
const L10 = `${Buffer.byteLength(L10_MSG)} ${L10_MSG}`;

const msg = (over: Partial<SyslogMessage> = {}): SyslogMessage => {
  const pri = over.pri ?? 190;
  return { pri, facility: pri >> 3, severity: pri & 7, version: 1, timestamp: '2025-06-02T14:03:07.498211+00:00', host: 'host', appName: 'app', procid: 'web.1', msgid: '-', text: 'hello', ...over };
};

describe('parse: Logplex framing', () => {
  it('reads the README example: ten 70-byte frames whose counts include the newline', () => {
    const body = README_LINE.repeat(10);
    expect(Buffer.byteLength(body)).toBe(730);
    const r = parse(body);
    expect(r.errors).toEqual([]);
    expect(r.bytesUnparsed).toBe(0);
    expect(r.messages).toHaveLength(10);
    expect(r.messages[0]).toEqual({ pri: 174, facility: 21, severity: 6, version: 1, timestamp: '2012-07-22T00:06:26+00:00', host: 'host', appName: 'erlang', procid: 'console', msgid: '-', text: 'Hi from erlang' });
  });

  it('counts the trailing newline as part of the message (83 = 82 bytes + "\\n")', () => {
    expect(Buffer.byteLength(DEVCENTER.slice(3, -1))).toBe(82);
    const r = parse(DEVCENTER);
    expect(r.errors).toEqual([]);
    expect(r.messages.map((m) => [m.appName, m.procid, m.text])).toEqual([['app', 'web.3', 'State changed from starting to up']]);
  });

  it('reads a frame without a newline followed at once by the next frame (L10 notices)', () => {
    const r = parse(L10 + DEVCENTER + L10);
    expect(r.errors).toEqual([]);
    expect(r.messages.map((m) => m.procid)).toEqual(['logplex', 'web.3', 'logplex']);
    expect(r.messages[0]!.text).toBe('Error L10 (output buffer overflow): 27 messages dropped since 2025-06-02T14:04:41+00:00.');
  });

  it('reads counts that exclude a newline (or CRLF) put between frames', () => {
    const m = '<40>1 2012-11-30T06:45:29+00:00 host app web.3 - up';
    const body = `${m.length} ${m}\n${m.length} ${m}\r\n${m.length} ${m}`;
    const r = parse(body);
    expect(r.errors).toEqual([]);
    expect(r.messages).toHaveLength(3);
    expect(r.messages.every((x) => x.text === 'up')).toBe(true);
  });

  it('counts bytes, not characters', () => {
    const body = frame([msg({ text: 'naïve café ☃ 😀' })]);
    expect(body.startsWith(`${Buffer.byteLength(formatMessage(msg({ text: 'naïve café ☃ 😀' })))} `)).toBe(true);
    expect(parse(body).messages[0]!.text).toBe('naïve café ☃ 😀');
  });

  it('reads bytes and strings alike, including a Uint8Array view into a larger buffer', () => {
    const body = frame([msg(), msg({ text: 'two' })]);
    const big = Buffer.concat([Buffer.from('xxxx'), Buffer.from(body), Buffer.from('yyyy')]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 4, Buffer.byteLength(body));
    expect(parse(view)).toEqual(parse(body));
  });

  it('keeps text as sent: leading spaces, inner newlines, a trailing newline of its own', () => {
    const texts = ['  indented', 'line one\nline two', 'ends with newline\n', '', ' '];
    const r = parse(frame(texts.map((text) => msg({ text }))));
    expect(r.errors).toEqual([]);
    expect(r.messages.map((m) => m.text)).toEqual(texts);
  });

  it('reads a message that ends right after MSGID as empty text', () => {
    const m = '<190>1 2025-06-02T00:00:00Z host app web.1 -';
    expect(parse(`${m.length} ${m}`).messages[0]!.text).toBe('');
  });
});

describe('parse: bad framing is reported, never thrown', () => {
  it('skips leading garbage up to the next frame', () => {
    const r = parse(`garbage here\n${DEVCENTER}`);
    expect(r.messages).toHaveLength(1);
    expect(r.errors).toEqual([{ offset: 0, reason: 'expected an octet count' }]);
    expect(r.bytesUnparsed).toBe('garbage here\n'.length);
  });

  it('recovers the next frame after a sender that counted characters instead of bytes', () => {
    const m = '<190>1 2025-06-02T00:00:00Z host app web.1 - déjà vu ☃\n';
    const miscounted = `${m.length} ${m}`;
    const r = parse(miscounted + DEVCENTER);
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.messages.at(-1)!.text).toBe('State changed from starting to up');
  });

  it('reads a frame cut short and says so', () => {
    const r = parse(DEVCENTER.replace('83 ', '90 '));
    expect(r.messages).toHaveLength(1);
    expect(r.errors).toEqual([{ offset: 0, reason: 'frame of 90 bytes has only 83' }]);
  });

  it('reports a framed message that is not syslog, and a zero-length frame', () => {
    const r = parse(`5 hello0 ${DEVCENTER}`);
    expect(r.messages).toHaveLength(1);
    expect(r.errors.map((e) => e.reason)).toEqual(['not a syslog message: no <PRI>', 'zero-length frame']);
    expect(r.bytesUnparsed).toBe('5 hello'.length + '0 '.length);
  });

  it('rejects a bad PRI or version', () => {
    for (const m of ['<192>1 t h a p - x', '<1a>1 t h a p - x', '<13>0 t h a p - x', '<13>x t h a p - x', '<13>1 t h a', '<13>1 t  h a p - x']) {
      const r = parse(`${m.length} ${m}`);
      expect(r.messages, m).toEqual([]);
      expect(r.errors, m).toHaveLength(1);
    }
  });

  it('treats an empty or whitespace body as no messages and no errors', () => {
    expect(parse('')).toEqual({ messages: [], errors: [], bytesUnparsed: 0 });
    expect(parse('\n\r\n ')).toEqual({ messages: [], errors: [], bytesUnparsed: 0 });
  });
});

// ---------------------------------------------------------------- properties

/** A header field: RFC 5424 PRINTUSASCII, what formatMessage accepts. */
const field = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 });
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.constant(''),
  fc.array(fc.constantFrom(' ', '\n', '\r\n', '\t', 'a', 'é', '😀', '<', '>', '12 ', ' <13>1 ', '0'), { maxLength: 60 }).map((p) => p.join('')),
  fc.string({ unit: 'binary-ascii', minLength: 5_000, maxLength: 70_000 }),
);
const message: fc.Arbitrary<SyslogMessage> = fc
  .record({ pri: fc.integer({ min: 0, max: 191 }), version: fc.integer({ min: 1, max: 999 }), timestamp: field, host: field, appName: field, procid: field, msgid: field, text })
  .map((m) => ({ ...m, facility: m.pri >> 3, severity: m.pri & 7 }));

describe('parse / frame properties', () => {
  it('parse(frame(msgs)) gives back msgs, for any text', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), (msgs) => {
        expect(parse(frame(msgs))).toEqual({ messages: msgs, errors: [], bytesUnparsed: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it('reads frames counted without the newline and separated by one the same way', () => {
    const noTrailingNewline = message.filter((m) => !m.text.endsWith('\n'));
    fc.assert(
      fc.property(fc.array(noTrailingNewline, { maxLength: 10 }), (msgs) => {
        const body = msgs
          .map((m) => formatMessage(m).slice(0, -1))
          .map((s) => `${Buffer.byteLength(s)} ${s}\n`)
          .join('');
        expect(parse(body).messages).toEqual(msgs);
      }),
    );
  });

  it('never throws on arbitrary bytes or strings, and its accounting stays in bounds', () => {
    const check = (input: Uint8Array | string) => {
      const r = parse(input);
      const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
      expect(r.bytesUnparsed).toBeGreaterThanOrEqual(0);
      expect(r.bytesUnparsed).toBeLessThanOrEqual(size);
      for (const e of r.errors) expect(e.offset >= 0 && e.offset <= size).toBe(true);
      for (const m of r.messages) expect(m.pri >= 0 && m.pri <= 191).toBe(true);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3_000 }), check), { numRuns: 500 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 1_000 }), check), { numRuns: 500 });
  });

  it('never throws on damaged Logplex bodies (cut and spliced with junk)', () => {
    const damaged = fc
      .tuple(fc.array(message.filter((m) => m.text.length < 200), { minLength: 1, maxLength: 8 }), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 40 }))
      .map(([msgs, a, b, junk]) => {
        const body = Buffer.from(frame(msgs));
        const at = a % (body.length + 1);
        const cut = b % (body.length + 1);
        return Buffer.concat([body.subarray(0, at), junk, body.subarray(Math.max(at, cut))]);
      });
    fc.assert(
      fc.property(damaged, (body) => {
        const r = parse(body);
        expect(r.bytesUnparsed).toBeLessThanOrEqual(body.length);
      }),
      { numRuns: 500 },
    );
  });

  it('loses nothing but the junk when junk lands between frames', () => {
    const junk = fc.string({ unit: fc.constantFrom('x', 'y', ' ', '\n', '-', 'é', '>'), minLength: 1, maxLength: 30 }).filter((j) => j.trim() !== '');
    fc.assert(
      fc.property(fc.array(message.filter((m) => m.text.length < 500), { minLength: 2, maxLength: 8 }), fc.nat(), junk, (msgs, at, j) => {
        const frames = msgs.map((m) => frame([m]));
        const i = 1 + (at % (frames.length - 1));
        frames.splice(i, 0, j);
        const r = parse(frames.join(''));
        expect(r.messages).toEqual(msgs);
        expect(r.errors).toHaveLength(1);
      }),
    );
  });
});

describe('frame', () => {
  it('takes ready syslog strings and gives each its newline once', () => {
    const a = '<190>1 2025-06-02T00:00:00Z host app web.1 - a';
    expect(frame([a, `${a}\n`])).toBe(`${a.length + 1} ${a}\n`.repeat(2));
  });

  it('refuses header fields that would not read back', () => {
    expect(() => formatMessage(msg({ host: 'two words' }))).toThrow(RangeError);
    expect(() => formatMessage(msg({ procid: '' }))).toThrow(RangeError);
    expect(() => formatMessage(msg({ pri: 192 }))).toThrow(RangeError);
    expect(() => formatMessage(msg({ version: 0 }))).toThrow(RangeError);
  });
});

describe('parseFrameLine (one line of a stored object)', () => {
  it('reads a line with its octet count', () => {
    expect(parseFrameLine(DEVCENTER.trimEnd())).toEqual({ pri: 40, timestamp: '2012-11-30T06:45:29+00:00', host: 'host', appName: 'app', procId: 'web.3', msgid: '-', message: 'State changed from starting to up' });
  });

  it('reads a bare syslog line', () => {
    expect(parseFrameLine('<158>1 2025-06-02T14:03:07.512034+00:00 host heroku router - at=info status=201')).toMatchObject({ appName: 'heroku', procId: 'router', message: 'at=info status=201' });
  });

  it('stops an L10 notice where its count says when another frame follows on the line', () => {
    const line = `${L10}${DEVCENTER.trimEnd()}`;
    expect(parseFrameLine(line)).toMatchObject({ procId: 'logplex', message: 'Error L10 (output buffer overflow): 27 messages dropped since 2025-06-02T14:04:41+00:00.' });
    const wide = '<190>1 2025-06-02T00:00:00Z host app web.1 - ☃ no newline';
    expect(parseFrameLine(`${Buffer.byteLength(wide)} ${wide}${DEVCENTER.trimEnd()}`)).toMatchObject({ message: '☃ no newline' });
  });

  it('keeps the whole line when the count is simply off', () => {
    expect(parseFrameLine('10 <190>1 2025-06-02T00:00:00Z host app web.1 - longer than ten')).toMatchObject({ message: 'longer than ten' });
  });

  it('is undefined for what is not a syslog line', () => {
    for (const line of ['', 'continuation of a multi-line message', '12', '12 not syslog', '<190>1 2025 host', '99999999999 <1>1 a b c d e f']) {
      expect(parseFrameLine(line), line).toBeUndefined();
    }
  });

  it('never throws, on any line', () => {
    const line = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.array(fc.constantFrom('7', '12', '0', ' ', '<', '>', '<190>1', ' - ', 'host', '☃', '😀', 'x'), { maxLength: 40 }).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(line, (l) => {
        parseFrameLine(l);
      }),
      { numRuns: 1_000 },
    );
  });

  it('agrees with parse() on every line of a framed body', () => {
    const oneLine = message.filter((m) => !m.text.includes('\n') && !m.text.includes('\r'));
    fc.assert(
      fc.property(fc.array(oneLine, { minLength: 1, maxLength: 10 }), (msgs) => {
        const lines = frame(msgs).split('\n').slice(0, -1);
        expect(lines.map((l) => parseFrameLine(l)?.message)).toEqual(msgs.map((m) => m.text));
        expect(lines.map((l) => parseFrameLine(l)?.procId)).toEqual(msgs.map((m) => m.procid));
      }),
    );
  });
});

describe('timestampMs', () => {
  it('reads Logplex timestamps, with or without fractions and offsets', () => {
    expect(timestampMs('2012-11-30T06:45:29+00:00')).toBe(Date.UTC(2012, 10, 30, 6, 45, 29));
    expect(timestampMs('2025-06-02T14:03:07.512034+00:00')).toBe(Date.UTC(2025, 5, 2, 14, 3, 7, 512));
    expect(timestampMs('2025-06-02T14:03:07.5Z')).toBe(Date.UTC(2025, 5, 2, 14, 3, 7, 500));
    expect(timestampMs('2025-06-02T16:03:07+02:00')).toBe(Date.UTC(2025, 5, 2, 14, 3, 7));
    expect(timestampMs('2025-06-02T09:33:07-04:30')).toBe(Date.UTC(2025, 5, 2, 14, 3, 7));
  });

  it('is undefined for anything else', () => {
    for (const ts of ['-', '', '2025-06-02', '2025-02-30T00:00:00Z', '2025-06-02T24:00:00Z', '2025-06-02 14:03:07Z', '2025-06-02T14:03:07', '0099-01-01T00:00:00Z']) {
      expect(timestampMs(ts), ts).toBeUndefined();
    }
  });
});
