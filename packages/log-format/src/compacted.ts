// Compacted days: the objects of one app and UTC day as three objects under `compacted/`:
//   records/app=<app>/day=<YYYY-MM-DD>/records.jsonl.gz   one JSON record per line, for SQL:
//       DuckDB (read_json) and Athena (JSON SerDe, partition projection on app= and day=);
//   lines/app=<app>/day=<YYYY-MM-DD>/lines.gz             the stored lines, object by object,
//       for grep and fetch (no JSON to parse: as fast to search as the raw objects), each
//       object a length-prefixed record, so any byte content frames unambiguously;
//   manifests/app=<app>/day=<YYYY-MM-DD>/manifest.json    what was compacted.
// Months of logs are then one GET per app-day instead of ~2,000. The three live under separate
// folders so Athena's table location holds nothing but records.
// This module owns that layout, the record format and the compaction itself, for the CLI's
// `logs compact` and the scheduled compactor handler alike.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { verifiedGunzip } from './gzip-members.js';
import { parseFrameLine, timestampMs } from './logplex.js';
import { DAY_MS, dayPrefix, parseObjectKey, utcDate } from './object-key.js';

export const COMPACTED_PREFIX = 'compacted/';
export const RECORDS_FILE = 'records.jsonl.gz';
export const LINES_FILE = 'lines.gz';
export const MANIFEST_FILE = 'manifest.json';
export const PARQUET_FILE = 'records.parquet';
/**
 * In lines.gz, each object is a record: this character, its key and a newline, the byte length
 * of its text and a newline, then exactly that many bytes (its lines, each ending in a
 * newline). The length, not a marker, ends a record: a stored line may hold any byte, a NUL
 * at its start included.
 */
export const OBJECT_MARK = '\u0000';
/**
 * 2: per-object ETags, text checksums and read problems, length-prefixed lines.gz. A manifest
 * of another version is stale: the day is read raw until it is compacted again.
 */
export const MANIFEST_VERSION = 2;

/** One log line as a row: the `logs` table of `logs query`, in Athena and DuckDB alike. */
export interface LogRecord {
  /** The frame's own timestamp, UTC, `YYYY-MM-DD HH:MM:SS.mmm` (a TIMESTAMP to both engines); null when unreadable. */
  time: string | null;
  app: string;
  /** Syslog APP-NAME: `app` for dyno output, `heroku` for platform lines. */
  host: string | null;
  /** Syslog PROCID: `web.1`, `router`, `postgres.1234`. */
  proc: string | null;
  message: string | null;
  /** The drain object the line came from. */
  key: string;
  /** Router lines (`heroku router`): their key=value fields. */
  method: string | null;
  path: string | null;
  status: number | null;
  service_ms: number | null;
  bytes: number | null;
  /** The line exactly as stored, so a compacted day prints what its raw objects print. */
  line: string;
}

/** The columns and their SQL types, in order: the DuckDB read and the Glue table share them. */
export const RECORD_COLUMNS: readonly { name: keyof LogRecord; type: 'timestamp' | 'string' | 'int' | 'bigint' }[] = [
  { name: 'time', type: 'timestamp' },
  { name: 'app', type: 'string' },
  { name: 'host', type: 'string' },
  { name: 'proc', type: 'string' },
  { name: 'message', type: 'string' },
  { name: 'key', type: 'string' },
  { name: 'method', type: 'string' },
  { name: 'path', type: 'string' },
  { name: 'status', type: 'int' },
  { name: 'service_ms', type: 'int' },
  { name: 'bytes', type: 'bigint' },
  { name: 'line', type: 'string' },
];

export interface Manifest {
  version: number;
  app: string;
  day: string;
  /** How many raw objects were compacted, and the last of their keys (in key order). */
  sourceObjects: number;
  lastSourceKey: string | null;
  /** SHA-256 of the compacted keys and their ETags (`key etag` per line, key order): a listing that differs is not up to date. */
  keysSha256: string;
  /** The compacted keys themselves, so raw objects that arrived later can be read beside it. */
  keys: string[];
  /**
   * Each key's ETag as listed when it was compacted (same order as keys): an object uploaded
   * again under the same key (a day shipped again) has another ETag, and is read raw.
   */
  etags: string[];
  /** SHA-256 of each object's record text in lines.gz (same order): checked before the text is used. */
  textSha256: string[];
  /** Objects that could not be read completely, and what was wrong: warned about on every read of the day. */
  problems: Record<string, string>;
  lines: number;
  /** SHA-256 of the uncompressed JSON-lines content. */
  sha256: string;
  /** SHA-256 of the records object as stored (absent in manifests of older versions). */
  gzipSha256?: string;
  /** Sizes of the records object and of lines.gz. */
  bytes: number;
  linesBytes?: number;
  /**
   * The same records as Parquet, when the compactor could write it (the CLI's, with its
   * embedded engine; the Lambda's cannot): the embedded engine reads the columns a query
   * needs instead of parsing every record. `linesVerified`: the writer read it back and each
   * object's lines, in file order, hash to its textSha256, so grep and fetch may serve the
   * day from it (a Parquet without it serves `logs query` alone).
   */
  parquet?: { sha256: string; bytes: number; linesVerified?: boolean };
  compactedAt: string;
}

/** Where Athena's table points: the records folders alone. */
export function recordsRoot(root = COMPACTED_PREFIX): string {
  return `${root}records/`;
}

/** A compacted day's objects. Parquet is not under records/: Athena's JSON table reads every file there. */
export function compactedKeys(app: string, day: number | string, root = COMPACTED_PREFIX): { records: string; lines: string; manifest: string; parquet: string } {
  const part = `app=${app}/day=${typeof day === 'string' ? day : utcDate(day)}/`;
  return {
    records: `${root}records/${part}${RECORDS_FILE}`,
    lines: `${root}lines/${part}${LINES_FILE}`,
    manifest: `${root}manifests/${part}${MANIFEST_FILE}`,
    parquet: `${root}parquet/${part}${PARQUET_FILE}`,
  };
}

/** A raw object as the day's listing shows it. */
export interface ListedObject {
  key: string;
  etag: string;
}

export function keysDigest(objects: readonly ListedObject[]): string {
  return createHash('sha256').update(objects.map((o) => `${o.key} ${o.etag}`).join('\n')).digest('hex');
}

/** One object's record in lines.gz: header, length, text. */
export function linesRecord(key: string, text: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${OBJECT_MARK}${key}\n${text.length}\n`, 'utf8'), text]);
}

/**
 * What a manifest says of the objects a reader listed: the keys whose compacted text is
 * theirs (same key, same ETag), and whether the day's whole-day files (records, Parquet) hold
 * exactly the listed content: false when an object was uploaded again or deleted since, so a
 * reader of those files would mix old text in. Keys not in the manifest (late) are read raw.
 */
export function coverage(manifest: Manifest, listed: readonly { key: string; etag?: string | undefined }[]): { covered: Set<string>; wholeDay: boolean } {
  const etagOf = new Map(manifest.keys.map((k, i) => [k, manifest.etags[i]]));
  const covered = new Set<string>();
  let changed = false;
  for (const o of listed) {
    const etag = etagOf.get(o.key);
    if (etag === undefined) continue;
    if (o.etag !== undefined && o.etag === etag) covered.add(o.key);
    else changed = true;
  }
  return { covered, wholeDay: !changed && covered.size === manifest.keys.length };
}

const ROUTER_FIELD = /([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)/g;

function routerFields(message: string): Pick<LogRecord, 'method' | 'path' | 'status' | 'service_ms' | 'bytes'> {
  const f: Record<string, string> = {};
  for (const m of message.matchAll(ROUTER_FIELD)) {
    const v = m[2]!;
    f[m[1]!] = v.startsWith('"') ? v.slice(1, -1) : v;
  }
  const int = (v: string | undefined, suffix = ''): number | null => {
    if (v === undefined) return null;
    const n = Number(suffix && v.endsWith(suffix) ? v.slice(0, -suffix.length) : v);
    return Number.isFinite(n) && v !== '' ? Math.trunc(n) : null;
  };
  return { method: f.method ?? null, path: f.path ?? null, status: int(f.status), service_ms: int(f.service, 'ms'), bytes: int(f.bytes) };
}

function sqlTime(ms: number | undefined): string | null {
  if (ms === undefined || !Number.isFinite(ms)) return null;
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** A stored line (an octet-counted frame, or anything else the batch held) as a record. */
export function toRecord(line: string, app: string, key: string): LogRecord {
  const m = parseFrameLine(line);
  const router = m && m.appName === 'heroku' && m.procId === 'router';
  return {
    time: sqlTime(m ? timestampMs(m.timestamp) : undefined),
    app,
    host: m?.appName ?? null,
    proc: m?.procId ?? null,
    message: m?.message ?? null,
    key,
    ...(router ? routerFields(m.message) : { method: null, path: null, status: null, service_ms: null, bytes: null }),
    line,
  };
}

/** The S3 calls compaction needs (an S3Client, or a stub). */
export interface CompactS3 {
  /** The objects under a prefix with their ETags. */
  listObjects(prefix: string): Promise<ListedObject[]>;
  getObject(key: string): Promise<Buffer | undefined>;
  putObject(key: string, body: Buffer, contentType: string, metadata: Record<string, string>): Promise<void>;
}

/** What a day's Parquet must hold: these objects' lines, in this order, hashing to these checksums. */
export interface ParquetExpectation {
  keys: readonly string[];
  textSha256: readonly string[];
}

/** Reads objects in the order given, each as its lines; the CLI passes its concurrent reader. */
export type ReadLines = (keys: readonly string[]) => AsyncIterable<{ key: string; lines: readonly string[]; problem?: string | undefined }>;

export interface CompactOptions {
  s3: CompactS3;
  keyPrefix: string;
  compactedRoot?: string;
  read?: ReadLines;
  now?: number;
  /** Compact even when the manifest matches the listing. */
  force?: boolean;
  dryRun?: boolean;
  /**
   * The records (gzip JSON lines) as Parquet, when the caller can write it; undefined when not.
   * It must check the file against `expect` (each object's lines, in order, hash to its
   * textSha256) and throw when it does not match: a Parquet returned is one grep may read.
   */
  toParquet?: (records: Buffer, expect: ParquetExpectation) => Promise<Buffer | undefined>;
}

export type CompactOutcome =
  | { status: 'up-to-date'; app: string; day: string; objects: number; lines: number }
  | { status: 'compacted' | 'would-compact'; app: string; day: string; objects: number; lines: number; bytes: number; late: number }
  | { status: 'empty'; app: string; day: string }
  | { status: 'not-finished'; app: string; day: string };

export async function readManifest(s3: Pick<CompactS3, 'getObject'>, app: string, day: number | string, root = COMPACTED_PREFIX): Promise<Manifest | undefined> {
  const body = await s3.getObject(compactedKeys(app, day, root).manifest);
  if (!body) return undefined;
  try {
    const m = JSON.parse(body.toString('utf8')) as Manifest;
    const complete = Array.isArray(m.keys) && Array.isArray(m.etags) && Array.isArray(m.textSha256) && m.etags.length === m.keys.length && m.textSha256.length === m.keys.length;
    return m.version === MANIFEST_VERSION && complete ? { ...m, problems: m.problems ?? {} } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a records object is the one its manifest describes. Records and manifest are two
 * writes: a run stopped between them, or two runs at once, leave a manifest beside records of
 * another listing, and reading those with the manifest's key list duplicates or drops lines.
 */
export function recordsMatch(manifest: Manifest, body: Buffer): boolean {
  if (body.length !== manifest.bytes) return false;
  return manifest.gzipSha256 === undefined || createHash('sha256').update(body).digest('hex') === manifest.gzipSha256;
}

/** The raw objects of one app-day in key order (time order), foreign keys left out. */
export async function dayKeys(s3: CompactS3, keyPrefix: string, app: string, day: number): Promise<ListedObject[]> {
  const listed = await s3.listObjects(dayPrefix(keyPrefix, app, day));
  return listed.filter((o) => parseObjectKey(o.key, keyPrefix)?.app === app).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function* readSequentially(s3: CompactS3, keys: readonly string[]): AsyncIterable<{ key: string; lines: readonly string[]; problem?: string }> {
  for (const key of keys) {
    const body = await s3.getObject(key);
    if (!body) {
      yield { key, lines: [], problem: 'deleted since it was listed (NoSuchKey)' };
      continue;
    }
    if (body.length === 0) {
      yield { key, lines: [], problem: 'empty object (0 bytes)' };
      continue;
    }
    // Only what the gzip checksums verified, as grep reads it; the rest is a problem to report.
    const { text, problem } = verifiedGunzip(body);
    const lines = text.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    yield { key, lines, ...(problem ? { problem: `${problem}; ${lines.length === 0 ? 'no line of it was read' : `only the ${lines.length} line${lines.length === 1 ? '' : 's'} its checksum verified were read`}` } : lines.length === 0 ? { problem: 'empty object (no lines)' } : {}) };
  }
}

/** The records as Parquet beside them, when the compactor can write it; what the manifest says of it. */
async function writeParquet(opts: CompactOptions, key: string, records: Buffer, expect: ParquetExpectation): Promise<Manifest['parquet']> {
  const parquet = await opts.toParquet?.(records, expect);
  if (!parquet) return undefined;
  await opts.s3.putObject(key, parquet, 'application/vnd.apache.parquet', {});
  return { sha256: createHash('sha256').update(parquet).digest('hex'), bytes: parquet.length, linesVerified: true };
}

/**
 * Compact one finished UTC day of one app: idempotent (a manifest matching the day's listing
 * means nothing to do), picks up late objects on the next run, never deletes raw objects.
 * The records object is written before the manifest, so a manifest always describes a
 * complete records object.
 */
export async function compactDay(opts: CompactOptions, app: string, day: number): Promise<CompactOutcome> {
  const date = utcDate(day);
  const now = opts.now ?? Date.now();
  if (day + DAY_MS > now) return { status: 'not-finished', app, day: date };
  const root = opts.compactedRoot ?? COMPACTED_PREFIX;
  const listed = await dayKeys(opts.s3, opts.keyPrefix, app, day);
  const keys = listed.map((o) => o.key);
  if (keys.length === 0) return { status: 'empty', app, day: date };
  const digest = keysDigest(listed);
  const previous = await readManifest(opts.s3, app, day, root);
  if (previous && previous.keysSha256 === digest && !opts.force) {
    // Compacted where Parquet could not be written (the Lambda): add it now, records unchanged.
    // A Parquet written before its lines were checked is written again (grep reads only checked ones).
    if (opts.toParquet && !previous.parquet?.linesVerified && !opts.dryRun) {
      const names = compactedKeys(app, day, root);
      const records = await opts.s3.getObject(names.records);
      if (records && recordsMatch(previous, records)) {
        const parquet = await writeParquet(opts, names.parquet, records, previous);
        if (parquet) await opts.s3.putObject(names.manifest, Buffer.from(JSON.stringify({ ...previous, parquet })), 'application/json', {});
      }
    }
    return { status: 'up-to-date', app, day: date, objects: keys.length, lines: previous.lines };
  }
  const known = new Set(previous?.keys ?? []);
  const late = previous ? keys.filter((k) => !known.has(k)).length : 0;

  const chunks: string[] = [];
  const raw: Buffer[] = [];
  const textSha256: string[] = [];
  const problems: Record<string, string> = {};
  let lines = 0;
  const hash = createHash('sha256');
  const read = opts.read ?? ((k) => readSequentially(opts.s3, k));
  let at = 0;
  for await (const obj of read(keys)) {
    // The reader hands objects back in the order asked for; anything else would file text under another key.
    if (obj.key !== keys[at++]) throw new Error(`compaction read ${obj.key} where ${keys[at - 1]} was expected`);
    let block = '';
    for (const line of obj.lines) {
      block += `${JSON.stringify(toRecord(line, app, obj.key))}\n`;
      lines += 1;
    }
    hash.update(block);
    chunks.push(block);
    const text = Buffer.from(obj.lines.length > 0 ? `${obj.lines.join('\n')}\n` : '', 'utf8');
    raw.push(linesRecord(obj.key, text));
    textSha256.push(createHash('sha256').update(text).digest('hex'));
    if (obj.problem) problems[obj.key] = obj.problem;
  }
  if (at !== keys.length) throw new Error(`compaction read ${at} of ${keys.length} objects`);
  const content = Buffer.from(chunks.join(''), 'utf8');
  const gz = gzipSync(content);
  const linesGz = gzipSync(Buffer.concat(raw));
  if (opts.dryRun) return { status: 'would-compact', app, day: date, objects: keys.length, lines, bytes: gz.length + linesGz.length, late };
  const sha256 = hash.digest('hex');
  const names = compactedKeys(app, day, root);
  await opts.s3.putObject(names.records, gz, 'application/gzip', { sha256, 'source-objects': String(keys.length) });
  await opts.s3.putObject(names.lines, linesGz, 'application/gzip', { 'source-objects': String(keys.length) });
  const parquet = await writeParquet(opts, names.parquet, gz, { keys, textSha256 });
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    app,
    day: date,
    sourceObjects: keys.length,
    lastSourceKey: keys.at(-1) ?? null,
    keysSha256: digest,
    keys,
    etags: listed.map((o) => o.etag),
    textSha256,
    problems,
    lines,
    sha256,
    gzipSha256: createHash('sha256').update(gz).digest('hex'),
    bytes: gz.length,
    linesBytes: linesGz.length,
    ...(parquet ? { parquet } : {}),
    compactedAt: new Date(now).toISOString(),
  };
  await opts.s3.putObject(names.manifest, Buffer.from(JSON.stringify(manifest)), 'application/json', {});
  return { status: 'compacted', app, day: date, objects: keys.length, lines, bytes: gz.length + linesGz.length, late };
}
