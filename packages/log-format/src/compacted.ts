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
import { parseFrameLine, timestampMs } from './logplex.js';
import { utcDate } from './object-key.js';

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
  /**
   * When the listing it was made from was taken, by S3's clock (the listing's Date header).
   * Taken after the day's acceptance horizon and no stale mark since, it is the whole day:
   * readers use it without listing (see trustedManifest). Absent: always verified by listing.
   */
  listedAt?: string;
  /** Each object's size as listed (same order as keys), for readers that skip the listing. */
  sizes?: number[];
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
  size?: number;
  /** LastModified, epoch ms (S3's clock). */
  modified?: number;
}

/** A listing and when S3 answered it (its Date header, S3's clock; undefined when not told). */
export interface Listing {
  objects: ListedObject[];
  serverTime: number | undefined;
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

/** The S3 calls compaction needs, and how it goes: compact-day.ts. */
export type { CompactOptions, CompactOutcome, CompactS3, ParquetExpectation, ReadLines } from './compact-day.js';

export async function readManifest(s3: { getObject(key: string): Promise<Buffer | undefined> }, app: string, day: number | string, root = COMPACTED_PREFIX): Promise<Manifest | undefined> {
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
