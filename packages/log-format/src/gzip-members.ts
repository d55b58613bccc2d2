// What a stored object's gzip checksums vouch for. A drain object is one gzip member, written
// by the receiver; a damaged one (flipped bits, a cut upload, junk appended) must not have its
// inflated bytes taken as log lines: deflate happily inflates flipped bits into plausible text,
// and only the member's CRC-32 and length at its end say whether the text is what was written.
// So the verified text of an object is its complete members, in order, up to the first one that
// fails; everything from there on is reported, never read as lines. Trailing zero bytes (tape
// padding) are ignored, as gzip does.
import * as zlib from 'node:zlib';

export interface VerifiedGzip {
  /** The inflated bytes of the members that checked out, in order. */
  text: Buffer;
  /** How many members checked out. */
  members: number;
  /** What is wrong past them (undefined: the whole object checked out). */
  problem?: string;
}

const crc32: (data: Uint8Array) => number =
  (zlib as { crc32?: (d: Uint8Array) => number }).crc32 ??
  (() => {
    // Node before 20.15 has no zlib.crc32.
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return (data: Uint8Array) => {
      let c = 0xffffffff;
      for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
  })();

/** Where a member's deflate data starts (RFC 1952 header), or a reason it is not a member. */
function headerEnd(buf: Buffer, at: number): number | string {
  if (buf.length - at < 10) return 'a gzip header cut short';
  if (buf[at] !== 0x1f || buf[at + 1] !== 0x8b) return 'not gzip';
  if (buf[at + 2] !== 8) return 'an unknown gzip compression method';
  const flags = buf[at + 3]!;
  let p = at + 10;
  if (flags & 4) {
    if (p + 2 > buf.length) return 'a gzip header cut short';
    p += 2 + buf.readUInt16LE(p);
  }
  for (const bit of [8, 16]) {
    if (flags & bit) {
      const zero = buf.indexOf(0, p);
      if (zero === -1) return 'a gzip header cut short';
      p = zero + 1;
    }
  }
  if (flags & 2) p += 2;
  return p > buf.length ? 'a gzip header cut short' : p;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * zlib's output chunk for a gzip whose trailer states its inflated size (ISIZE): the text then
 * lands in one buffer, where pieces joined at the end cost twice its size at the peak (100 MB
 * for a 50 MB object). One byte more than the size, so that zlib ends with room to spare
 * instead of asking for another chunk. Bounded by deflate's best ratio (1032:1), so a damaged
 * trailer cannot ask for a huge allocation; a wrong size only costs the pieces again.
 */
function outputChunk(gz: Buffer): number | undefined {
  if (gz.length < 18) return undefined;
  const isize = gz.readUInt32LE(gz.length - 4);
  return isize >= 64 * 1024 && isize <= gz.length * 1032 ? isize + 1 : undefined;
}

/**
 * The members of a gzip object that check out (CRC-32 and length), and what is wrong after
 * them. A whole object that gunzips cleanly costs one call; only a damaged one is taken apart.
 */
export function verifiedGunzip(gz: Buffer): VerifiedGzip {
  try {
    const chunkSize = outputChunk(gz);
    return { text: chunkSize ? zlib.gunzipSync(gz, { chunkSize }) : zlib.gunzipSync(gz), members: 1 };
  } catch {
    // Damaged somewhere: keep the members before the damage.
  }
  const parts: Buffer[] = [];
  let at = 0;
  let problem: string | undefined;
  for (;;) {
    if (at >= gz.length || (at > 0 && gz.subarray(at).every((b) => b === 0))) break;
    const where = parts.length === 0 ? '' : ` after ${plural(parts.length, 'complete gzip member')}`;
    const start = headerEnd(gz, at);
    if (typeof start === 'string') {
      problem = parts.length === 0 ? `corrupt: ${start}` : `corrupt: ${gz.length - at} bytes that are not gzip${where}`;
      break;
    }
    let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      inflated = zlib.inflateRawSync(gz.subarray(start), { info: true }) as unknown as typeof inflated;
    } catch (err) {
      const cut = (err as { code?: string }).code === 'Z_BUF_ERROR';
      problem = `corrupt: ${cut ? 'gzip data cut short' : `damaged gzip data (${(err as Error).message})`}${where}`;
      break;
    }
    const end = start + inflated.engine.bytesWritten;
    if (end + 8 > gz.length) {
      problem = `corrupt: gzip data cut short (no checksum)${where}`;
      break;
    }
    const data = inflated.buffer;
    if (gz.readUInt32LE(end) !== crc32(data) || gz.readUInt32LE(end + 4) !== data.length % 2 ** 32) {
      problem = `corrupt: gzip checksum mismatch (the inflated text is not what was written)${where}`;
      break;
    }
    parts.push(data);
    at = end + 8;
  }
  return { text: Buffer.concat(parts), members: parts.length, ...(problem ? { problem } : {}) };
}
