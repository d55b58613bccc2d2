// An object's text as the readers hand it over: cut into lines for a visitor (LineSplitter
// for streamed text, splitBytes for a body in memory, with grep's literal prefilter), or kept
// as the bytes it inflated to (logs fetch): one Buffer for an object held until its checksum
// verified, the whole lines of a streamed one. Kept text is cut and decoded only when printed,
// a batch at a time, so a 50 MB object costs its bytes once instead of its decoded text, its
// lines, the joined output and its masked copy all at once (docs/logs.md, "logs fetch").
import { StringDecoder } from 'node:string_decoder';

/** What reading one object gave. `problem` is set when it could not be read completely. */
export interface ScanResult<R> {
  value: R;
  lines: number;
  /** Compressed bytes read from S3. */
  bytes: number;
  problem?: string;
}

/** Receives an object's lines in order; returns false to stop reading early. */
export interface LineVisitor<R> {
  line(text: string): boolean | void;
  result(): R;
  /**
   * Set when the visitor selects no line without this text (grep's required literal): a body
   * in memory then hands it only the lines that hold it, found with indexOf over the bytes,
   * and the other lines are counted without being decoded. It may still see other lines.
   */
  literal?: string | undefined;
  /**
   * Set when the visitor keeps the object's text as bytes (logs fetch): the inflated bytes go
   * here as they are, in pieces that end at a newline (a last line without one comes last),
   * and line() is not called. The lines are counted by their newlines.
   */
  bytes?: ((chunk: Buffer) => void) | undefined;
  /**
   * Set by a visitor that keeps no text (grep -c): the embedded engine then hands over how many
   * lines of an object it selected instead of the lines.
   */
  count?: ((selected: number) => void) | undefined;
}


/**
 * Cuts text into lines for a visitor; remembers a partial last line between pushes. Every line
 * is handed over (a visitor's literal is used by splitBytes, for bodies in memory; a streamed
 * body is rare enough to be tested line by line).
 */
export class LineSplitter<R> {
  count = 0;
  stopped = false;
  /** The pieces of a line not ended yet, joined once when its newline comes, so that a line
   *  spanning many chunks costs linear time, not a rescan of the whole line per chunk. */
  private carry: string[] = [];
  constructor(private readonly visitor: LineVisitor<R>) {}

  /** False once the visitor asked to stop. */
  push(chunk: string): boolean {
    if (this.stopped) return false;
    let from = 0;
    if (this.carry.length > 0) {
      // The line begun in an earlier chunk, whole.
      const nl = chunk.indexOf('\n');
      if (nl === -1) {
        this.carry.push(chunk);
        return true;
      }
      const line = this.carry.join('') + chunk.slice(0, nl);
      this.carry = [];
      this.count += 1;
      if (this.visitor.line(line) === false) {
        this.stopped = true;
        return false;
      }
      from = nl + 1;
    }
    from = this.every(chunk, from);
    if (from === -1) return false;
    if (from < chunk.length) this.carry.push(chunk.slice(from));
    return true;
  }

  /** Every complete line from `from`; returns where the unfinished rest begins, or -1 when stopped. */
  private every(chunk: string, from: number): number {
    for (let nl = chunk.indexOf('\n', from); nl !== -1; nl = chunk.indexOf('\n', from)) {
      this.count += 1;
      if (this.visitor.line(chunk.slice(from, nl)) === false) {
        this.stopped = true;
        return -1;
      }
      from = nl + 1;
    }
    return from;
  }

  /** A last line without a newline is still a line, as for grep. */
  end(rest = ''): void {
    if (this.stopped) return;
    const last = this.carry.join('') + rest;
    this.carry = [];
    if (last !== '') {
      this.count += 1;
      if (this.visitor.line(last) === false) this.stopped = true;
    }
  }
}

/**
 * Hand an object's inflated bytes to a visitor, as a scan would. With a literal, only the
 * lines holding it (found with Buffer.indexOf) are decoded and handed over; the others are
 * counted by their newlines: most lines of a search are not matches, and decoding every
 * byte to text was the largest cost of a search over compacted days.
 */
export function visitBytes<R>(buf: Buffer, visitor: LineVisitor<R>): ScanResult<R> {
  const { count } = splitBytes(buf, visitor);
  return { value: visitor.result(), lines: count, bytes: 0 };
}

export function splitBytes<R>(buf: Buffer, visitor: LineVisitor<R>): { count: number; stopped: boolean } {
  if (visitor.bytes) {
    // The verified text whole, as it is: no copy.
    let count = buf.length > 0 && buf[buf.length - 1] !== NEWLINE ? 1 : 0;
    for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, nl + 1)) count += 1;
    if (buf.length > 0) visitor.bytes(buf);
    return { count, stopped: false };
  }
  if (!visitor.literal) {
    const lines = new LineSplitter(visitor);
    lines.push(buf.toString('utf8'));
    lines.end();
    return { count: lines.count, stopped: lines.stopped };
  }
  const needle = needleOf(visitor.literal);
  let count = 0;
  /** Lines before `counted` are counted. */
  let counted = 0;
  const countTo = (to: number) => {
    for (let nl = buf.indexOf(NEWLINE, counted); nl !== -1 && nl < to; nl = buf.indexOf(NEWLINE, nl + 1)) count += 1;
    counted = to;
  };
  for (let at = buf.indexOf(needle); at !== -1; ) {
    const start = at === 0 ? 0 : buf.lastIndexOf(NEWLINE, at) + 1;
    const nl = buf.indexOf(NEWLINE, at);
    const end = nl === -1 ? buf.length : nl;
    countTo(start);
    count += 1;
    counted = end + 1;
    if (visitor.line(buf.toString('utf8', start, end)) === false) return { count, stopped: true };
    if (nl === -1) return { count, stopped: false };
    at = buf.indexOf(needle, end + 1);
  }
  if (counted < buf.length) {
    countTo(buf.length);
    // A last line without a newline.
    if (buf[buf.length - 1] !== NEWLINE) count += 1;
  }
  return { count, stopped: false };
}

const NEWLINE = 0x0a;

/** The literal's bytes, encoded once per scan rather than once per object. */
let lastNeedle: { literal: string; bytes: Buffer } | undefined;
function needleOf(literal: string): Buffer {
  if (lastNeedle?.literal !== literal) lastNeedle = { literal, bytes: Buffer.from(literal, 'utf8') };
  return lastNeedle.bytes;
}

/**
 * The bytes-keeping side of LineSplitter: hands a visitor's bytes() whole lines only, the start
 * of a line held back until its newline comes, so a stream that breaks off mid-line keeps what
 * LineSplitter would have handed over (the complete lines), and counts them.
 */
export class ByteLines {
  count = 0;
  private carry: Buffer[] = [];
  constructor(private readonly keep: (chunk: Buffer) => void) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      if (chunk.length > 0) this.carry.push(chunk);
      return;
    }
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1 && nl <= last; nl = chunk.indexOf(NEWLINE, nl + 1)) this.count += 1;
    for (const c of this.carry) this.keep(c);
    this.carry = [];
    this.keep(last + 1 === chunk.length ? chunk : chunk.subarray(0, last + 1));
    if (last + 1 < chunk.length) this.carry.push(chunk.subarray(last + 1));
  }

  /** A last line without a newline is still a line, as for LineSplitter. */
  end(): void {
    if (this.carry.length === 0) return;
    this.count += 1;
    for (const c of this.carry) this.keep(c);
    this.carry = [];
  }
}

/** A visitor that keeps an object's inflated bytes as they come (see LineVisitor.bytes). */
export function textKeeper(): LineVisitor<Buffer[]> {
  const chunks: Buffer[] = [];
  return {
    // Called only where the text comes as lines (the embedded engine's rows); bytes() takes the rest.
    line: (text) => void chunks.push(Buffer.from(`${text}\n`)),
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
