// A compacted file saved for the embedded engine: streamed to disk while its SHA-256 is
// computed, so a month of Parquet is never held in memory, and kept only when the checksum is
// the one its manifest names.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

/** What saving found: the file is usable, the object is not there, or its bytes are another file's. */
export type Saved = 'ok' | 'missing' | 'mismatch';

export async function saveChecked(body: AsyncIterable<Buffer> | undefined, file: string, sha256: string, signal: AbortSignal): Promise<Saved> {
  if (!body) return 'missing';
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, hashing, createWriteStream(file), { signal });
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  if (hash.digest('hex') === sha256) return 'ok';
  await rm(file, { force: true });
  return 'mismatch';
}
