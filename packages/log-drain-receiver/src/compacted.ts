// Compacted days: the objects of one app and UTC day as three objects under `compacted/`:
//   records/app=<app>/day=<YYYY-MM-DD>/records.jsonl.gz   one JSON record per line, for SQL:
//       DuckDB (read_json) and Athena (JSON SerDe, partition projection on app= and day=);
//   lines/app=<app>/day=<YYYY-MM-DD>/lines.gz             the stored lines, object by object,
//       for grep and fetch (no JSON to parse: as fast to search as the raw objects);
//   manifests/app=<app>/day=<YYYY-MM-DD>/manifest.json    what was compacted.
// Months of logs are then one GET per app-day instead of ~2,000. The three live under separate
// folders so Athena's table location holds nothing but records.
// This module owns that layout, the record format and the compaction itself, for the CLI's
// `logs compact` and the scheduled compactor handler alike.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseFrameLine, timestampMs } from './logplex.js';
import { DAY_MS, dayPrefix, parseObjectKey, utcDate } from './object-key.js';

export const COMPACTED_PREFIX = 'compacted/';
export const RECORDS_FILE = 'records.jsonl.gz';
export const LINES_FILE = 'lines.gz';
export const MANIFEST_FILE = 'manifest.json';
export const PARQUET_FILE = 'records.parquet';
/**
 * In lines.gz, each object's lines follow a header line of this character and its key. A
 * Logplex frame starts with its octet count, so no stored line starts with it.
 */
export const OBJECT_MARK = '\u0000';
export const MANIFEST_VERSION = 1;

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
  /** SHA-256 of the compacted keys, one per line in key order: a listing that differs is not covered. */
  keysSha256: string;
  /** The compacted keys themselves, so raw objects that arrived later can be read beside it. */
  keys: string[];
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
   * needs instead of parsing every record.
   */
  parquet?: { sha256: string; bytes: number };
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

export function keysDigest(keys: readonly string[]): string {
  return createHash('sha256').update(keys.join('\n')).digest('hex');
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
  listKeys(prefix: string): Promise<string[]>;
  getObject(key: string): Promise<Buffer | undefined>;
  putObject(key: string, body: Buffer, contentType: string, metadata: Record<string, string>): Promise<void>;
}

/** Reads objects in the order given, each as its lines; the CLI passes its concurrent reader. */
export type ReadLines = (keys: readonly string[]) => AsyncIterable<{ key: string; lines: readonly string[] }>;

export interface CompactOptions {
  s3: CompactS3;
  keyPrefix: string;
  compactedRoot?: string;
  read?: ReadLines;
  now?: number;
  /** Compact even when the manifest matches the listing. */
  force?: boolean;
  dryRun?: boolean;
  /** The records (gzip JSON lines) as Parquet, when the caller can write it; undefined when not. */
  toParquet?: (records: Buffer) => Promise<Buffer | undefined>;
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
    return m.version === MANIFEST_VERSION && Array.isArray(m.keys) ? m : undefined;
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

/** The raw keys of one app-day in key order (time order), foreign keys left out. */
export async function dayKeys(s3: CompactS3, keyPrefix: string, app: string, day: number): Promise<string[]> {
  const keys = await s3.listKeys(dayPrefix(keyPrefix, app, day));
  return keys.filter((k) => parseObjectKey(k, keyPrefix)?.app === app).sort();
}

async function* readSequentially(s3: CompactS3, keys: readonly string[]): AsyncIterable<{ key: string; lines: readonly string[] }> {
  for (const key of keys) {
    const body = await s3.getObject(key);
    let text = '';
    try {
      text = body && body.length > 0 ? gunzipSync(body).toString('utf8') : '';
    } catch {
      // A corrupt object is stored as-is by the receiver; grep reports it, compaction keeps
      // what it can: nothing here.
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    yield { key, lines };
  }
}

/** The records as Parquet beside them, when the compactor can write it; what the manifest says of it. */
async function writeParquet(opts: CompactOptions, key: string, records: Buffer): Promise<Manifest['parquet']> {
  const parquet = await opts.toParquet?.(records);
  if (!parquet) return undefined;
  await opts.s3.putObject(key, parquet, 'application/vnd.apache.parquet', {});
  return { sha256: createHash('sha256').update(parquet).digest('hex'), bytes: parquet.length };
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
  const keys = await dayKeys(opts.s3, opts.keyPrefix, app, day);
  if (keys.length === 0) return { status: 'empty', app, day: date };
  const digest = keysDigest(keys);
  const previous = await readManifest(opts.s3, app, day, root);
  if (previous && previous.keysSha256 === digest && !opts.force) {
    // Compacted where Parquet could not be written (the Lambda): add it now, records unchanged.
    if (opts.toParquet && !previous.parquet && !opts.dryRun) {
      const names = compactedKeys(app, day, root);
      const records = await opts.s3.getObject(names.records);
      if (records && recordsMatch(previous, records)) {
        const parquet = await writeParquet(opts, names.parquet, records);
        if (parquet) await opts.s3.putObject(names.manifest, Buffer.from(JSON.stringify({ ...previous, parquet })), 'application/json', {});
      }
    }
    return { status: 'up-to-date', app, day: date, objects: keys.length, lines: previous.lines };
  }
  const late = previous ? keys.filter((k) => !previous.keys.includes(k)).length : 0;

  const chunks: string[] = [];
  const raw: string[] = [];
  let lines = 0;
  const hash = createHash('sha256');
  const read = opts.read ?? ((k) => readSequentially(opts.s3, k));
  for await (const obj of read(keys)) {
    let block = '';
    for (const line of obj.lines) {
      block += `${JSON.stringify(toRecord(line, app, obj.key))}\n`;
      lines += 1;
    }
    hash.update(block);
    chunks.push(block);
    raw.push(`${OBJECT_MARK}${obj.key}\n${obj.lines.length > 0 ? `${obj.lines.join('\n')}\n` : ''}`);
  }
  const content = Buffer.from(chunks.join(''), 'utf8');
  const gz = gzipSync(content);
  const linesGz = gzipSync(Buffer.from(raw.join(''), 'utf8'));
  if (opts.dryRun) return { status: 'would-compact', app, day: date, objects: keys.length, lines, bytes: gz.length + linesGz.length, late };
  const sha256 = hash.digest('hex');
  const names = compactedKeys(app, day, root);
  await opts.s3.putObject(names.records, gz, 'application/gzip', { sha256, 'source-objects': String(keys.length) });
  await opts.s3.putObject(names.lines, linesGz, 'application/gzip', { 'source-objects': String(keys.length) });
  const parquet = await writeParquet(opts, names.parquet, gz);
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    app,
    day: date,
    sourceObjects: keys.length,
    lastSourceKey: keys.at(-1) ?? null,
    keysSha256: digest,
    keys,
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
