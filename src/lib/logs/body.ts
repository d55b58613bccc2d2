// One object's body read as the store reads it: a small object held whole and its gzip members
// verified before any line is handed on; a big one streamed through gunzip with the lines the
// checksums verified. Either way the visitor sees lines in order, and a problem says what part
// could not be read.
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ByteLines, LineSplitter, splitBytes, type LineVisitor, type ScanResult } from './text.js';
import { createGunzip } from 'node:zlib';
import { verifiedGunzip } from '@raxx/log-format/gzip-members';
import { plural } from '../core/output.js';

/**
 * Compressed bytes up to which an object is held whole and its lines handed over only from
 * gzip members whose checksums verified (drain batches are ~100 KB). A larger object is
 * streamed: its lines go to the visitor as they inflate, and damage found at its end is
 * reported with the line numbers that were read unverified.
 */
export const HOLD_BYTES = 8 * 1024 * 1024;

/** An object's verified text to a visitor, with what was wrong past it. */
export function visitVerified<R>(gz: Buffer, visitor: LineVisitor<R>): ScanResult<R> {
  const { text, problem } = verifiedGunzip(gz);
  const { count, stopped } = splitBytes(text, visitor);
  const why = problem ? `${problem}; ${count === 0 ? 'no line of it was read' : `only the ${plural(count, 'line')} its checksum verified were read`}` : !stopped && count === 0 ? 'empty object (no lines)' : undefined;
  return { value: visitor.result(), lines: count, bytes: gz.length, ...(why ? { problem: why } : {}) };
}

/** A body the transport read whole (most drain objects). */
export function readWhole<R>(gz: Buffer, signal: AbortSignal, visitor: LineVisitor<R>): ScanResult<R> {
  signal.throwIfAborted();
  return visitVerified(gz, visitor);
}

/**
 * Read a GetObject body through gunzip into a visitor. Whatever happens (the end, a visitor
 * that stops early, corruption, an abort, an error), the body is consumed or destroyed, so its
 * socket goes back to the pool. Exported for its unit test (a body past `holdBytes`).
 */
export async function read<R>(body: Readable, signal: AbortSignal, visitor: LineVisitor<R>, holdBytes = HOLD_BYTES): Promise<ScanResult<R>> {
  const lines = new LineSplitter(visitor);
  const kept = visitor.bytes ? new ByteLines(visitor.bytes) : undefined;
  const count = () => kept?.count ?? lines.count;
  let bytes = 0;
  let problem: string | undefined;
  const destroy = () => body.destroy();
  signal.addEventListener('abort', destroy, { once: true });
  try {
    // Aborted while the response was on its way: the listener above came too late to fire.
    signal.throwIfAborted();
    // Held whole up to holdBytes, so that only verified text is handed over; past it,
    // streamed, so memory stays bounded by the window of objects in flight whatever their size.
    const chunks: Buffer[] = [];
    const it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    let ended = false;
    while (bytes <= holdBytes) {
      const next = await it.next();
      if (next.done) {
        ended = true;
        break;
      }
      chunks.push(next.value);
      bytes += next.value.length;
    }
    if (ended) return { ...visitVerified(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes), visitor), bytes };
    {
      const rest = (async function* () {
        for (;;) {
          const next = await it.next();
          if (next.done) return;
          bytes += next.value.length;
          yield next.value;
        }
      })();
      const gunzip = createGunzip();
      const source = Readable.from((async function* () {
        yield* chunks;
        yield* rest;
      })());
      source.on('error', (err) => gunzip.destroy(err));
      source.pipe(gunzip);
      // A multi-byte character may be cut between two inflated chunks.
      const decoder = new StringDecoder('utf8');
      try {
        for await (const chunk of gunzip as AsyncIterable<Buffer>) {
          if (kept) kept.push(chunk);
          else if (!lines.push(decoder.write(chunk))) break;
        }
        if (kept) kept.end();
        else lines.end(decoder.end());
      } catch (err) {
        if (signal.aborted) throw err;
        const code = (err as { code?: string }).code ?? '';
        if (!code.startsWith('Z_')) throw err;
        // Too big to hold: its lines went out as they inflated, before the check at the end.
        problem = `corrupt: not a complete gzip stream (${(err as Error).message}); ${count() === 0 ? 'no line of it was read' : `lines 1-${count()} of it were read before the damage was found and are unverified (an object over ${formatMiB(holdBytes)} is not held until its checksum)`}`;
      } finally {
        source.destroy();
        gunzip.destroy();
      }
    }
    if (!lines.stopped && !problem && count() === 0) problem = 'empty object (no lines)';
    return { value: visitor.result(), lines: count(), bytes, ...(problem ? { problem } : {}) };
  } finally {
    signal.removeEventListener('abort', destroy);
    if (!body.readableEnded) destroy();
  }
}

export function formatMiB(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : `${n} bytes`;
}
