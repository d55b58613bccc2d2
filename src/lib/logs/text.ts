// An object's text kept as the bytes it inflated to (logs fetch), not as strings: one Buffer
// for an object held until its checksum verified, the inflated pieces of a streamed one. Its
// lines are cut and decoded only when printed, a batch at a time, so a 50 MB object costs its
// bytes once instead of its decoded text, its lines, the joined output and its masked copy
// all at once (docs/logs.md, "Speed and memory").
import { StringDecoder } from 'node:string_decoder';
import { LineSplitter, type LineVisitor } from './store.js';

/** A visitor that keeps an object's inflated bytes as they come (see LineVisitor.bytes). */
export function textKeeper(): LineVisitor<Buffer[]> {
  const chunks: Buffer[] = [];
  return {
    // Not called: bytes() takes the whole text.
    line: () => undefined,
    bytes: (chunk) => void chunks.push(chunk),
    result: () => chunks,
  };
}

/** Bytes of kept text decoded at a time. */
export const BATCH_BYTES = 1024 * 1024;

/**
 * The lines of a kept text, in batches of about `size` bytes: the same lines, decoded the same
 * way, as splitting the whole text decoded at once (a character cut between two pieces is
 * joined; a last line without a newline is still a line).
 */
export function* lineBatches(chunks: readonly Buffer[], size = BATCH_BYTES): Generator<string[]> {
  let batch: string[] = [];
  const lines = new LineSplitter({ line: (l) => void batch.push(l), result: () => undefined });
  const decoder = new StringDecoder('utf8');
  for (const chunk of chunks) {
    for (let from = 0; from < chunk.length; from += size) {
      lines.push(decoder.write(chunk.subarray(from, from + size)));
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
    }
  }
  lines.end(decoder.end());
  if (batch.length > 0) yield batch;
}
