// Logplex HTTPS drain bodies (`application/logplex-1`): RFC 6587 octet-counted frames, each
// holding an RFC 5424-style syslog message without the structured-data field:
//
//   <octets> SP <PRI>1 TIMESTAMP host APP-NAME PROCID MSGID MSG
//
// What heroku/logplex does (src/logplex_syslog_utils.erl frame/1 and rfc5424/8,
// src/logplex_http_drain.erl, doc/README.http_drains.md):
// - a frame is the decimal byte count of the message, one space, the message; nothing
//   separates frames;
// - a dyno line keeps its own "\n" at the end of MSG, so the count includes it: the README's
//   ten `70 <174>1 2012-07-22T00:06:26+00:00 host erlang console - Hi from erlang` frames
//   make its Content-Length of 730, each message being 69 bytes plus the newline. Logplex's
//   own notices (`Error L10 (output buffer overflow)`) carry no newline, so the next frame
//   follows on the same line;
// - HOST is `host`, MSGID `-`, and there is no structured data;
// - TIMESTAMP is RFC 3339 with an offset: `2012-11-30T06:45:29+00:00` from Logplex itself,
//   with microseconds (`…:07.512034+00:00`) on router and dyno lines.
// Other senders count without the newline and put one between frames; both are read here.
//
// parse() never throws: what it cannot read is reported (offset and reason) and skipped up
// to the next plausible frame, because the receiver stores every body regardless and only
// needs the parse to flag it.

export interface SyslogMessage {
  pri: number;
  /** pri >> 3; always set by parse(). */
  facility?: number;
  /** pri & 7; always set by parse(). */
  severity?: number;
  version: number;
  /** As sent (RFC 3339, e.g. `2012-11-30T06:45:29.123456+00:00`); see timestampMs(). */
  timestamp: string;
  host: string;
  /** `app` for dyno output, `heroku` for platform lines: not the Heroku app's name. */
  appName: string;
  /** The dyno or process: `web.1`, `router`, `postgres.1234`. */
  procid: string;
  msgid: string;
  /** The message, without the frame's trailing newline. */
  text: string;
}

export interface ParseError {
  /** Byte offset in the body where the problem starts. */
  offset: number;
  reason: string;
}

export interface ParseResult {
  messages: SyslogMessage[];
  errors: ParseError[];
  /** Bytes that are in no parsed message (separators between frames excluded). */
  bytesUnparsed: number;
}

/** One stored line read for display: what `logs grep` / `logs fetch --json` show. */
export interface FrameLine {
  pri: number;
  timestamp: string;
  host: string;
  appName: string;
  /** The syslog PROCID (the dyno). */
  procId: string;
  msgid: string;
  message: string;
}

const SP = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const LT = 0x3c;
const ZERO = 0x30;
const NINE = 0x39;
/** A Function URL body is at most 6 MB, a 7-digit count; a longer run of digits than this is not a count. */
const MAX_COUNT_DIGITS = 8;
const MAX_PRI = 191;

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= ZERO && c <= NINE;

/** Parse an `application/logplex-1` body. Never throws. */
export function parse(body: Uint8Array | string): ParseResult {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const messages: SyslogMessage[] = [];
  const errors: ParseError[] = [];
  let bytesUnparsed = 0;
  const end = buf.length;
  let pos = 0;

  const skipTo = (offset: number, reason: string): void => {
    errors.push({ offset, reason });
    const next = nextFrameStart(buf, offset + 1);
    bytesUnparsed += next - offset;
    pos = next;
  };

  while (pos < end) {
    const c = buf[pos];
    // Whitespace between frames: the newline (or CRLF) some senders put there, outside any count.
    if (c === LF || c === CR || c === SP || c === TAB) {
      pos += 1;
      continue;
    }
    const start = pos;
    let count = 0;
    let digits = 0;
    while (pos < end && isDigit(buf[pos]) && digits <= MAX_COUNT_DIGITS) {
      count = count * 10 + (buf[pos]! - ZERO);
      pos += 1;
      digits += 1;
    }
    if (digits === 0) {
      skipTo(start, 'expected an octet count');
      continue;
    }
    if (digits > MAX_COUNT_DIGITS || buf[pos] !== SP) {
      skipTo(start, 'octet count not followed by a space');
      continue;
    }
    const from = pos + 1;
    if (count === 0) {
      skipTo(start, 'zero-length frame');
      continue;
    }
    let to = from + count;
    if (to > end) {
      // Cut short (or over-counted by a sender): read what is there, and say so.
      errors.push({ offset: start, reason: `frame of ${count} bytes has only ${end - from}` });
      to = end;
    }
    const msg = parseSyslog(buf, from, to);
    if (typeof msg === 'string') {
      errors.push({ offset: from, reason: msg });
      bytesUnparsed += to - start;
    } else {
      messages.push(msg);
    }
    pos = to;
  }
  return { messages, errors, bytesUnparsed };
}

/**
 * Where the next frame plausibly starts at or after `from`: digits not preceded by a digit,
 * a space, then `<` and a digit, with a count that fits in the body. The body's end if none.
 */
function nextFrameStart(buf: Buffer, from: number): number {
  for (let hit = buf.indexOf(' <', from, 'latin1'); hit !== -1; hit = buf.indexOf(' <', hit + 1, 'latin1')) {
    let d = hit;
    while (d > from && hit - d < MAX_COUNT_DIGITS && isDigit(buf[d - 1])) d -= 1;
    if (d === hit || (d > 0 && isDigit(buf[d - 1])) || !isDigit(buf[hit + 2])) continue;
    const count = Number(buf.toString('latin1', d, hit));
    if (count > 0 && hit + 1 + count <= buf.length) return d;
  }
  return buf.length;
}

function parseSyslog(buf: Buffer, from: number, to: number): SyslogMessage | string {
  if (buf[from] !== LT) return 'not a syslog message: no <PRI>';
  // The frame's own newline is not part of the message text.
  const end = buf[to - 1] === LF ? to - 1 : to;
  return parseHeader(buf.toString('utf8', from, end), 0);
}

/** The syslog header and text of `s` from `at`; a reason string when it is not one. */
function parseHeader(s: string, at: number): SyslogMessage | string {
  if (s.charCodeAt(at) !== LT) return 'not a syslog message: no <PRI>';
  const gt = s.indexOf('>', at + 1);
  if (gt < at + 2 || gt > at + 4) return 'bad <PRI>';
  const pri = digitsValue(s, at + 1, gt);
  if (pri === undefined || pri > MAX_PRI) return 'bad <PRI>';
  const fields: string[] = [];
  let p = gt + 1;
  // VERSION TIMESTAMP HOST APP-NAME PROCID are space-terminated; MSGID ends at a space or the end.
  for (let i = 0; i < 6; i++) {
    const sp = s.indexOf(' ', p);
    const stop = sp === -1 ? s.length : sp;
    if (stop === p) return 'empty header field';
    if (sp === -1 && i < 5) return 'header cut short';
    fields.push(s.slice(p, stop));
    p = stop + 1;
  }
  const version = digitsValue(fields[0]!, 0, fields[0]!.length);
  if (version === undefined || version === 0 || fields[0]!.length > 3) return 'bad syslog version';
  return {
    pri,
    facility: pri >> 3,
    severity: pri & 7,
    version,
    timestamp: fields[1]!,
    host: fields[2]!,
    appName: fields[3]!,
    procid: fields[4]!,
    msgid: fields[5]!,
    text: p <= s.length ? s.slice(p) : '',
  };
}

function digitsValue(s: string, from: number, to: number): number | undefined {
  if (to <= from) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) return undefined;
    n = n * 10 + (c - ZERO);
  }
  return n;
}

/** RFC 5424 PRINTUSASCII: what a header field may hold for the frame to read back. */
const HEADER_FIELD = /^[\x21-\x7e]+$/;

/** One message as Logplex writes it: `<PRI>VERSION TIMESTAMP HOST APP PROCID MSGID TEXT\n`. */
export function formatMessage(m: SyslogMessage): string {
  if (!Number.isInteger(m.pri) || m.pri < 0 || m.pri > MAX_PRI) throw new RangeError(`pri must be 0..${MAX_PRI}: ${m.pri}`);
  if (!Number.isInteger(m.version) || m.version < 1 || m.version > 999) throw new RangeError(`version must be 1..999: ${m.version}`);
  for (const field of ['timestamp', 'host', 'appName', 'procid', 'msgid'] as const) {
    if (!HEADER_FIELD.test(m[field])) throw new RangeError(`${field} must be printable ASCII without spaces: ${JSON.stringify(m[field])}`);
  }
  return `<${m.pri}>${m.version} ${m.timestamp} ${m.host} ${m.appName} ${m.procid} ${m.msgid} ${m.text}\n`;
}

/**
 * A Logplex body: each message counted in bytes and framed. A message object is formatted
 * (and ends in "\n", counted, as a dyno line does); a string is taken as a ready syslog
 * message and gets a newline when it lacks one. parse(frame(msgs)).messages equals msgs for
 * message objects whose text is well-formed Unicode (no lone surrogates) and whose
 * facility/severity are those of pri (parse() always sets them).
 */
export function frame(msgs: ReadonlyArray<SyslogMessage | string>): string {
  let out = '';
  for (const m of msgs) {
    const line = typeof m === 'string' ? (m.endsWith('\n') ? m : `${m}\n`) : formatMessage(m);
    out += `${Buffer.byteLength(line, 'utf8')} ${line}`;
  }
  return out;
}

/**
 * Read one newline-delimited line of a stored body (a frame with or without its octet count)
 * for display. Cheap: no regular expressions, no copies beyond the fields. When a frame
 * without its own newline (an L10 notice) runs into the next one on the same line, the count
 * says where the first ends. Undefined when the line is not a syslog message (e.g. the
 * continuation of a message that contained a newline).
 */
export function parseFrameLine(line: string): FrameLine | undefined {
  let at = 0;
  while (at < line.length && isDigit(line.charCodeAt(at))) at += 1;
  let s = line;
  if (at > 0) {
    if (line.charCodeAt(at) !== SP || at > MAX_COUNT_DIGITS) return undefined;
    const count = Number(line.slice(0, at));
    at += 1;
    s = cutAtCount(line, at, count);
  }
  const m = parseHeader(s, at);
  if (typeof m === 'string') return undefined;
  return { pri: m.pri, timestamp: m.timestamp, host: m.host, appName: m.appName, procId: m.procid, msgid: m.msgid, message: m.text };
}

/** `line` ending where the frame whose message starts at `from` ends, when another frame follows it there. */
function cutAtCount(line: string, from: number, count: number): string {
  // The count prefix is ASCII, so `from` is a byte offset too.
  if (Buffer.byteLength(line, 'utf8') - from <= count) return line;
  const bytes = Buffer.from(line, 'utf8');
  const cut = from + count;
  // Only trust the count when a frame visibly starts right after it.
  let d = cut;
  while (d < bytes.length && isDigit(bytes[d])) d += 1;
  if (d === cut || bytes[d] !== SP || bytes[d + 1] !== LT) return line;
  return bytes.toString('utf8', 0, cut);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Milliseconds since the epoch of an RFC 3339 timestamp; undefined for anything else (`-`). */
export function timestampMs(ts: string): number | undefined {
  const m = RFC3339.exec(ts);
  if (!m) return undefined;
  const field = (i: number): number => Number(m[i]);
  const [y, mo, d, h, mi, sec] = [field(1), field(2), field(3), field(4), field(5), field(6)];
  // Years below 100 would be read as 19xx by Date.UTC; no log line is that old.
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return undefined;
  const day = Date.UTC(y, mo - 1, d);
  // Date.UTC rolls 2025-02-30 over into March: such a date does not exist.
  if (new Date(day).getUTCDate() !== d) return undefined;
  const fraction = m[7];
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const zone = m[8]!;
  const offset = zone === 'Z' || zone === 'z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return day + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offset;
}

/**
 * A stored line as a person reads it: the frame without its octet count
 * (`83 <40>1 2012-…` → `<40>1 2012-…`). Lines that do not start with a count are kept.
 */
export function withoutOctetCount(line: string): string {
  let at = 0;
  while (at < line.length && at <= MAX_COUNT_DIGITS && isDigit(line.charCodeAt(at))) at += 1;
  if (at === 0 || at > MAX_COUNT_DIGITS || line.charCodeAt(at) !== SP || line.charCodeAt(at + 1) !== LT) return line;
  return line.slice(at + 1);
}
