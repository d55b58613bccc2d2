// Preparing a source's day for shipping: lines read as they stream, validated (JSON or plain,
// binary refused), cut at --max-line-bytes, redacted, gzipped into a temporary file (so a retry
// re-sends the same bytes, even from stdin), counted and checksummed. Constant memory for input
// of any size.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGzip } from 'node:zlib';
import { InterruptedError, UsageError } from '../core/errors.js';
import { Redactor, type SecretRule } from '../core/redaction.js';

export type InputFormat = 'auto' | 'json' | 'plain';

export interface ShipInput {
  /** As shown in messages: the path, or "stdin". */
  name: string;
  /** The input's bytes, from the start. */
  open(): Readable;
  /** Size in bytes when known (files), for progress. */
  size?: number | undefined;
}

export interface BadLine {
  input: string;
  line: number;
  error: string;
}

export interface CutLine {
  input: string;
  line: number;
  /** The line's length in bytes, before the cut. */
  bytes: number;
}

export interface Prepared {
  /** The gzipped, redacted content, in a temporary folder removed by dispose(). */
  file: string;
  format: 'json' | 'plain';
  lines: number;
  /** Lines with something on them: none means the day has no entries. */
  entries: number;
  badLines: number;
  /** Lines longer than the cap, shipped cut and flagged. */
  cutLines: number;
  /** The first cut lines, with their input and line number. */
  cut: CutLine[];
  /** The first bad lines, with their input and line number (all are counted and kept). */
  bad: BadLine[];
  redactions: number;
  redactionsByRule: Record<string, number>;
  bytesIn: number;
  /** Size of the redacted text before compression. */
  bytesPlain: number;
  bytesOut: number;
  /** SHA-256 of the redacted text: what makes two shipments of a day "the same". */
  sha256: string;
  /** SHA-256 of the object's bytes: what verification reads back. */
  gzipSha256: string;
  dispose(): Promise<void>;
}

const MAX_BAD_REPORTED = 20;

/** The longest line shipped whole (1 MiB); the rest of a longer line is dropped and the line flagged. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/**
 * Refuses input that is not text, judged by its first bytes: gzip (a rotated log not yet
 * decompressed) or NUL bytes, which no text log holds, would otherwise ship as "plain".
 */
function refuseBinary(name: string, start: Buffer): void {
  if (start[0] === 0x1f && start[1] === 0x8b) {
    throw new UsageError(`${name} is gzip-compressed, not a text log`, { hint: `decompress it first: zcat ${name === 'stdin' ? 'FILE' : name} | raxx-ops logs ship SOURCE - --date YYYY-MM-DD` });
  }
  const sample = start.subarray(0, 64 * 1024);
  const nul = sample.indexOf(0);
  if (nul >= 0) {
    throw new UsageError(`${name} is binary, not a text log (a NUL byte at offset ${nul})`, { hint: 'ship the text log files (plain lines or JSON lines); check that the path names the log, not a database, core dump or archive' });
  }
}

export async function prepare(
  inputs: ShipInput[],
  opts: { rules: readonly SecretRule[]; format: InputFormat; signal: AbortSignal; maxLineBytes?: number; onProgress?: (bytesIn: number, bytesOut: number) => void },
): Promise<Prepared> {
  const dir = await mkdtemp(join(tmpdir(), 'raxx-ops-ship-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  const file = join(dir, 'content.gz');
  const redactor = new Redactor(opts.rules);
  const plainHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let format: 'json' | 'plain' | undefined = opts.format === 'auto' ? undefined : opts.format;
  const stats = { lines: 0, entries: 0, badLines: 0, cutLines: 0, bytesIn: 0, bytesPlain: 0, bytesOut: 0 };
  const bad: BadLine[] = [];
  const cut: CutLine[] = [];
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;

  const processLine = (input: string, n: number, text: string): string => {
    stats.lines += 1;
    if (text.trim() !== '') stats.entries += 1;
    // Auto: JSON lines when the first non-empty line is an object.
    if (format === undefined && text.trim() !== '') format = text.trimStart().startsWith('{') ? 'json' : 'plain';
    if (format === 'json' && text.trim() !== '') {
      try {
        JSON.parse(text);
      } catch (err) {
        stats.badLines += 1;
        if (bad.length < MAX_BAD_REPORTED) bad.push({ input, line: n, error: jsonError(err) });
      }
    }
    return redactor.line(text) + '\n';
  };

  // Not logs/text.ts's LineSplitter: that one holds a line whole until its newline, and a
  // file shipped here may hold a line of any length (or none at all), kept only up to the cap.
  async function* lines(): AsyncGenerator<Buffer> {
    for (const input of inputs) {
      let decoder = new StringDecoder('utf8');
      let carry = '';
      let n = 0;
      let first = true;
      // A line longer than the cap: its first maxLineBytes are kept, the rest is only counted
      // until its newline, so a file with no newline at all costs no more memory than the cap.
      let long: { kept: string; bytes: number } | undefined;
      for await (const chunk of input.open()) {
        if (opts.signal.aborted) throw new InterruptedError();
        // A stream in object mode may hand over strings.
        let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
        if (first) {
          first = false;
          refuseBinary(input.name, buf);
        }
        stats.bytesIn += buf.length;
        let out = '';
        if (long) {
          const nl = buf.indexOf(10);
          if (nl < 0) {
            long.bytes += buf.length;
            opts.onProgress?.(stats.bytesIn, stats.bytesOut);
            continue;
          }
          long.bytes += nl;
          out += processLine(input.name, ++n, cutLine(input.name, n, long.kept, long.bytes));
          long = undefined;
          decoder = new StringDecoder('utf8');
          buf = buf.subarray(nl + 1);
        }
        const text = carry + decoder.write(buf);
        const parts = text.split('\n');
        carry = parts.pop()!;
        for (const part of parts) out += processLine(input.name, ++n, part.length > maxLine / 4 && Buffer.byteLength(part) > maxLine ? cutLine(input.name, n, head(part), Buffer.byteLength(part)) : part);
        if (carry.length > maxLine / 4 && Buffer.byteLength(carry) > maxLine) {
          long = { kept: head(carry), bytes: Buffer.byteLength(carry) };
          carry = '';
        }
        if (out) yield emit(out);
        opts.onProgress?.(stats.bytesIn, stats.bytesOut);
      }
      if (long) {
        yield emit(processLine(input.name, ++n, cutLine(input.name, n, long.kept, long.bytes + Buffer.byteLength(decoder.end()))));
        continue;
      }
      const rest = carry + decoder.end();
      // A last line without a newline is still a line; it gets one.
      if (rest !== '') yield emit(processLine(input.name, ++n, rest));
    }
  }

  /** The first maxLineBytes of a line, cut at a character boundary. */
  const head = (line: string): string => {
    const b = Buffer.from(line.slice(0, maxLine), 'utf8');
    let end = Math.min(maxLine, b.length);
    while (end > 0 && (b[end]! & 0xc0) === 0x80) end -= 1;
    return b.subarray(0, end).toString('utf8');
  };

  /**
   * A cut line, flagged in the record itself: a JSON record of the kept text in a JSON-lines
   * input (so the object stays JSON lines), else the text with a marker after it.
   */
  const cutLine = (input: string, line: number, kept: string, bytes: number): string => {
    stats.cutLines += 1;
    if (cut.length < MAX_BAD_REPORTED) cut.push({ input, line, bytes });
    const isJson = format === 'json' || (format === undefined && kept.trimStart().startsWith('{'));
    return isJson ? JSON.stringify({ raxx_ops_cut: { bytes, kept: Buffer.byteLength(kept) }, line: kept }) : `${kept} [raxx-ops: line cut, ${bytes} bytes, first ${Buffer.byteLength(kept)} kept]`;
  };

  const emit = (text: string): Buffer => {
    const b = Buffer.from(text, 'utf8');
    plainHash.update(b);
    stats.bytesPlain += b.length;
    return b;
  };

  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      gzHash.update(chunk);
      stats.bytesOut += chunk.length;
      cb(null, chunk);
    },
  });

  try {
    await pipeline(Readable.from(lines()), createGzip(), count, createWriteStream(file), { signal: opts.signal });
  } catch (err) {
    await dispose();
    if (opts.signal.aborted) throw new InterruptedError();
    const e = err as NodeJS.ErrnoException;
    if (e instanceof InterruptedError) throw e;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') {
      throw new UsageError(`cannot read ${e.path ?? 'the input'}: ${e.code === 'ENOENT' ? 'no such file' : e.code}`, { hint: 'name existing, readable log files, or - for stdin' });
    }
    throw err;
  }
  return {
    file,
    format: format ?? 'plain',
    ...stats,
    bad,
    cut,
    redactions: redactor.total,
    redactionsByRule: redactor.counts,
    sha256: plainHash.digest('hex'),
    gzipSha256: gzHash.digest('hex'),
    dispose,
  };
}

/**
 * JSON.parse's message without the excerpt of the line it quotes (`Unexpected token 'b',
 * "{"msg": pas"... is not valid JSON`): the excerpt is the unredacted input.
 */
function jsonError(err: unknown): string {
  const message = (err as Error).message.replace(/,?\s*"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, '').trim();
  return message || 'not valid JSON';
}
