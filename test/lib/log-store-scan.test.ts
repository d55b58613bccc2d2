// LogStore.scan over bodies a test controls (an S3 client stand-in whose send() hands back
// a stream): lines and characters cut across chunks, bodies released on an early stop and
// on Ctrl-C, and which failures are retried where.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { InterruptedError, ServiceError } from '../../src/lib/core/errors.js';
import { LogStore, type LineVisitor, type LogObject } from '../../src/lib/logs/store.js';

const obj: LogObject = { app: 'raxx-api-prod', key: 'logs/raxx-api-prod/2025/06/02/1748822400000-0A1B.gz', time: 1748822400000, id: '0A1B', size: 1 };

/** A store whose GETs answer, in turn, with these bodies or errors (the last one repeats). */
function storeWith(...answers: (() => Readable | Error)[]) {
  let calls = 0;
  const s3 = {
    // No credentials provider: the lean GET is not used and every GET goes through send().
    config: {},
    send() {
      const answer = answers[Math.min(calls++, answers.length - 1)]!();
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve({ Body: answer });
    },
  };
  const store = new LogStore({ s3: () => Promise.resolve(s3 as unknown as S3Client), bucket: 'raxx-heroku-logs-prod', keyPrefix: 'logs/', endpoint: 'http://127.0.0.1:9' });
  return { store, calls: () => calls };
}

function collect(stopAfter = Infinity): () => LineVisitor<string[]> {
  return () => {
    const lines: string[] = [];
    return { line: (l) => (lines.push(l), lines.length < stopAfter), result: () => lines };
  };
}

function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const error = (code: string) => Object.assign(new Error(code), { code });

describe('LogStore.scan', () => {
  // Hex digests do not compress, so the gzip is past the 1 MiB read in one piece and is
  // streamed; with this input some inflated chunks end inside a character, nearly all inside a line.
  const lines = Array.from({ length: 30_000 }, (_, i) => `${i} ${createHash('sha256').update(String(i)).digest('hex').repeat(2)} é € 😀`);
  const big = gzipSync(Buffer.from(`${lines.join('\n')}\n`));

  it('streams a large body: lines and UTF-8 characters cut across chunks come out whole', async () => {
    expect(big.length).toBeGreaterThan(1024 * 1024);
    const { store } = storeWith(() => Readable.from(chunked(big, 7919)));
    const r = await store.scan({ ...obj, size: big.length }, new AbortController().signal, collect());
    expect(r.problem).toBeUndefined();
    expect(r.bytes).toBe(big.length);
    expect(r.lines).toBe(lines.length);
    expect(r.value).toEqual(lines);
  });

  it('a last line without a newline is still a line', async () => {
    const { store } = storeWith(() => Readable.from([gzipSync('one\ntwo')]));
    const r = await store.scan(obj, new AbortController().signal, collect());
    expect(r.value).toEqual(['one', 'two']);
  });

  it('a visitor that stops early leaves no body half read', async () => {
    let body: Readable | undefined;
    const { store } = storeWith(() => (body = Readable.from(chunked(big, 7919))));
    const r = await store.scan({ ...obj, size: big.length }, new AbortController().signal, collect(3));
    expect(r.value).toEqual(lines.slice(0, 3));
    expect(body!.destroyed).toBe(true);
  });

  it('Ctrl-C while a body is being read: InterruptedError at once, the body destroyed', async () => {
    const body = new Readable({ read() {} });
    body.push(big.subarray(0, 4096));
    const { store } = storeWith(() => body);
    const controller = new AbortController();
    const scanning = store.scan({ ...obj, size: big.length }, controller.signal, collect());
    setTimeout(() => controller.abort(), 10);
    await expect(scanning).rejects.toBeInstanceOf(InterruptedError);
    expect(body.destroyed).toBe(true);
  });

  it('a connection that breaks mid-body is read again from the start, with a fresh visitor', async () => {
    const small = gzipSync(`${lines.slice(0, 50).join('\n')}\n`);
    const broken = () => {
      const b = new Readable({ read() {} });
      b.push(small.subarray(0, 10));
      setTimeout(() => b.destroy(error('ECONNRESET')), 5);
      return b;
    };
    const { store, calls } = storeWith(broken, () => Readable.from([small]));
    const r = await store.scan(obj, new AbortController().signal, collect());
    expect(calls()).toBe(2);
    expect(r.value).toEqual(lines.slice(0, 50));
  });

  it('a failure before the body is not retried here (the getter already did)', async () => {
    const { store, calls } = storeWith(() => error('ECONNRESET'));
    await expect(store.scan(obj, new AbortController().signal, collect())).rejects.toBeInstanceOf(ServiceError);
    expect(calls()).toBe(1);
  });

  it('an object deleted since the listing is a problem, not an error', async () => {
    const { store } = storeWith(() => Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' }));
    const r = await store.scan(obj, new AbortController().signal, collect());
    expect(r).toMatchObject({ lines: 0, problem: 'deleted since it was listed (NoSuchKey)' });
  });
});
