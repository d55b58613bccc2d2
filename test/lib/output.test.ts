import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { colorEnabled, Output } from '../../src/lib/core/output.js';

function capture(opts: { json?: boolean; color?: boolean; tty?: boolean } = {}) {
  const streams = { out: '', err: '' };
  const out = new Output({
    stdout: { write: (s: string) => (streams.out += s) },
    stderr: { write: (s: string) => (streams.err += s), isTTY: opts.tty ?? false },
    json: opts.json ?? false,
    color: opts.color ?? false,
    debug: false,
  });
  return { out, streams };
}

describe('Output', () => {
  it('keeps data on stdout and messages on stderr', () => {
    const { out, streams } = capture();
    out.line('data');
    out.info('for people');
    out.error('went wrong', 'do this');
    expect(streams.out).toBe('data\n');
    expect(streams.err).toBe('for people\nerror: went wrong\nhint: do this\n');
  });

  it('writes one redacted JSON document', () => {
    const { out, streams } = capture({ json: true });
    out.data({ url: 'https://x.test/?token=abc&app=a' });
    expect(JSON.parse(streams.out)).toEqual({ url: 'https://x.test/?token=****&app=a' });
  });

  it('shows no spinner when stderr is not a terminal', async () => {
    const { out, streams } = capture();
    const p = await out.progress('working');
    p.update('still working');
    p.succeed('done');
    expect(streams.err).toBe('');
  });

  it('colours only when allowed', () => {
    expect(colorEnabled(undefined, {}, { write() {}, isTTY: true })).toBe(true);
    expect(colorEnabled(undefined, { NO_COLOR: '1' }, { write() {}, isTTY: true })).toBe(false);
    expect(colorEnabled(false, { FORCE_COLOR: '1' }, { write() {}, isTTY: true })).toBe(false);
    expect(colorEnabled(undefined, { FORCE_COLOR: '1' }, { write() {}, isTTY: false })).toBe(true);
    expect(colorEnabled(undefined, {}, { write() {}, isTTY: false })).toBe(false);
    const { out, streams } = capture({ color: true });
    out.line(out.color.bad('red'));
    expect(streams.out).toContain('\u001b[31m');
  });
});

describe('Output.drained', () => {
  it('waits while stdout is over its buffer limit, and not otherwise', async () => {
    const chunks: string[] = [];
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        release = cb;
      },
    });
    const out = new Output({ stdout: slow, stderr: { write: () => true }, json: false, color: false, debug: false });
    await out.drained();
    out.raw('a line longer than sixteen bytes\n');
    let done = false;
    const waiting = out.drained().then(() => (done = true));
    // Not drained while the write is pending: a window in which it would wrongly resolve.
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release!();
    await waiting;
    expect(done).toBe(true);
    expect(chunks).toEqual(['a line longer than sixteen bytes\n']);
  });

  it('stops waiting on Ctrl-C', async () => {
    const stuck = new Writable({ highWaterMark: 1, write: () => undefined });
    const out = new Output({ stdout: stuck, stderr: { write: () => true }, json: false, color: false, debug: false });
    out.raw('xx\n');
    const ac = new AbortController();
    const waiting = out.drained(ac.signal);
    ac.abort();
    await waiting;
  });
});
