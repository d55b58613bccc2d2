// s3-socket.ts's response parser against node:http's (llhttp): generated answers — status,
// headers (odd case, repeats, spacing), bodies framed by Content-Length or by chunks (with
// extensions and trailers), cut into arbitrary TCP segments, several on one kept-alive
// connection — must give both clients the same status, headers and body bytes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WirePool } from '../../src/lib/aws/s3-socket.js';

interface Answer {
  status: number;
  headers: [string, string][];
  body: Buffer;
  chunked: { sizes: number[]; ext: boolean; trailer: boolean } | undefined;
  /** Where the encoded answer is cut into separate writes (fractions of its length). */
  cuts: number[];
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/).filter((n) => !/^(content-length|transfer-encoding|connection|keep-alive|trailer)$/i.test(n));
const value = fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/);

const answer: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(200, 200, 200, 206, 301, 403, 404, 500, 503),
  headers: fc.array(fc.tuple(token, value), { maxLength: 6 }),
  body: fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
  chunked: fc.option(fc.record({ sizes: fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }), ext: fc.boolean(), trailer: fc.boolean() }), { nil: undefined }),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
});

function encode(a: Answer): Buffer {
  let head = `HTTP/1.1 ${a.status} X\r\n`;
  for (const [k, v] of a.headers) head += `${k}:${v.length % 2 ? ' ' : ''}${v}\r\n`;
  if (!a.chunked) return Buffer.concat([Buffer.from(`${head}Content-Length: ${a.body.length}\r\n\r\n`), a.body]);
  const parts: Buffer[] = [Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n`)];
  let at = 0;
  for (let i = 0; at < a.body.length; i++) {
    const n = Math.min(a.chunked.sizes[i % a.chunked.sizes.length]!, a.body.length - at);
    parts.push(Buffer.from(`${n.toString(16)}${a.chunked.ext ? ';name=value' : ''}\r\n`), a.body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from(`0\r\n${a.chunked.trailer ? 'x-amz-checksum-crc32: AAAAAA==\r\n' : ''}\r\n`));
  return Buffer.concat(parts);
}

/** A server that answers the n-th request on a connection with answers[n], in the given cuts. */
async function serve(answers: Answer[]): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let n = 0;
    let seen = '';
    // One answer at a time: a request that arrives while an answer is being cut waits its turn
    // instead of interleaving its bytes with that answer's.
    let turn = Promise.resolve();
    const answer = async () => {
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        const a = answers[n++ % answers.length]!;
        const bytes = encode(a);
        const cuts = [...new Set(a.cuts.map((c) => Math.floor(c * bytes.length)))].sort((x, y) => x - y);
        let from = 0;
        for (const c of [...cuts, bytes.length]) {
          if (c <= from) continue;
          socket.write(bytes.subarray(from, c));
          from = c;
          await new Promise((r) => setImmediate(r));
        }
      }
    };
    socket.on('data', (d) => {
      seen += d.toString('latin1');
      turn = turn.then(answer).catch(() => void socket.destroy());
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function viaWire(port: number, count: number, inlineBytes: number): Promise<Seen[]> {
  const pool = new WirePool({ maxSockets: 1, connectTimeoutMs: 2000, idleTimeoutMs: 5000, inlineBytes });
  const out: Seen[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const res = await pool.request({ protocol: 'http:', hostname: '127.0.0.1', port, path: '/b/k', headers: { host: `127.0.0.1:${port}` } }, new AbortController().signal);
      let body: Buffer;
      if (res.bytes) body = res.bytes;
      else {
        const chunks: Buffer[] = [];
        for await (const c of res.body!) chunks.push(c as Buffer);
        body = Buffer.concat(chunks);
      }
      out.push({ status: res.statusCode, headers: res.headers, body: body.toString('hex') });
    }
  } finally {
    pool.destroy();
  }
  return out;
}

async function viaNodeHttp(port: number, count: number): Promise<Seen[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const out: Seen[] = [];
  try {
    for (let i = 0; i < count; i++) {
      out.push(
        await new Promise<Seen>((resolve, reject) => {
          const r = request({ agent, host: '127.0.0.1', port, path: '/b/k' }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              // node:http joins repeated headers with ", " (set-cookie aside); the wire does the same.
              const headers: Record<string, string> = {};
              for (let j = 0; j < res.rawHeaders.length; j += 2) {
                const k = res.rawHeaders[j]!.toLowerCase();
                headers[k] = headers[k] === undefined ? res.rawHeaders[j + 1]! : `${headers[k]}, ${res.rawHeaders[j + 1]!}`;
              }
              resolve({ status: res.statusCode!, headers, body: Buffer.concat(chunks).toString('hex') });
            });
            res.on('error', reject);
          });
          r.on('error', reject);
          r.end();
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return out;
}

describe('s3-socket parser vs llhttp', () => {
  it('same status, headers and body for generated answers on one kept-alive connection', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(answer, { minLength: 1, maxLength: 3 }), fc.constantFrom(64, 1024 * 1024), async (answers, inlineBytes) => {
        const server = await serve(answers);
        try {
          const [wire, llhttp] = [await viaWire(server.port, answers.length, inlineBytes), await viaNodeHttp(server.port, answers.length)];
          expect(wire).toEqual(llhttp);
        } finally {
          await server.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});
