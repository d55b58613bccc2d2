// Compacting one app-day (the layout and record format are compacted.ts's): list the day,
// compare with its manifest, read the objects in key order, write records, lines, Parquet when
// the caller can, then the manifest. Shared by the CLI's `logs compact` and the scheduled
// compactor handler. Closed days (closed-days.ts) are trusted without listing unless verified.
import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { clearCovered, differences, seenMark, staleMarkPrefix, trustedManifest } from './closed-days.js';
import { COMPACTED_PREFIX, compactedKeys, keysDigest, linesRecord, MANIFEST_VERSION, readManifest, recordsMatch, toRecord, type Listing, type Manifest } from './compacted.js';
import { verifiedGunzip } from './gzip-members.js';
import { DAY_MS, dayPrefix, parseObjectKey, utcDate } from './object-key.js';

/** The S3 calls compaction needs (an S3Client, or a stub). */
export interface CompactS3 {
  /** The objects under a prefix with their ETags, and S3's time of the first page. */
  listObjects(prefix: string): Promise<Listing>;
  getObject(key: string): Promise<Buffer | undefined>;
  putObject(key: string, body: Buffer, contentType: string, metadata: Record<string, string>): Promise<void>;
  /** Removes stale marks a new manifest covers; without it they stay (harmless: they are older than it). */
  deleteObject?(key: string): Promise<void>;
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
  /** List a closed day even when its manifest is trusted (finds manual uploads since). */
  verify?: boolean;
  dryRun?: boolean;
  /**
   * The records (gzip JSON lines) as Parquet, when the caller can write it; undefined when not.
   * It must check the file against `expect` (each object's lines, in order, hash to its
   * textSha256) and throw when it does not match: a Parquet returned is one grep may read.
   */
  toParquet?: (records: Buffer, expect: ParquetExpectation) => Promise<Buffer | undefined>;
}

/** What a day's Parquet must hold: these objects' lines, in this order, hashing to these checksums. */
export interface ParquetExpectation {
  keys: readonly string[];
  textSha256: readonly string[];
}

export type CompactOutcome =
  | { status: 'up-to-date'; app: string; day: string; objects: number; lines: number; closed?: boolean; changed?: number }
  | { status: 'compacted' | 'would-compact'; app: string; day: string; objects: number; lines: number; bytes: number; late: number; closed?: boolean; changed?: number }
  | { status: 'empty'; app: string; day: string }
  | { status: 'not-finished'; app: string; day: string };

/** The raw objects of one app-day in key order (time order), foreign keys left out, and S3's time of the listing. */
export async function dayKeys(s3: CompactS3, keyPrefix: string, app: string, day: number): Promise<Listing> {
  const listing = await s3.listObjects(dayPrefix(keyPrefix, app, day));
  const objects = listing.objects.filter((o) => parseObjectKey(o.key, keyPrefix)?.app === app).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { objects, serverTime: listing.serverTime };
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
    // A split of its own: this package is imported by the CLI and the receiver, and imports neither.
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
 * Compacted where Parquet could not be written (the Lambda): added now, records unchanged; the
 * manifest as it stands. A Parquet written before its lines were checked is written again
 * (grep reads only checked ones).
 */
async function addParquet(opts: CompactOptions, app: string, day: number, manifest: Manifest): Promise<Manifest> {
  if (!opts.toParquet || manifest.parquet?.linesVerified || opts.dryRun) return manifest;
  const names = compactedKeys(app, day, opts.compactedRoot ?? COMPACTED_PREFIX);
  const records = await opts.s3.getObject(names.records);
  if (!records || !recordsMatch(manifest, records)) return manifest;
  const parquet = await writeParquet(opts, names.parquet, records, manifest);
  if (!parquet) return manifest;
  const updated = { ...manifest, parquet };
  await opts.s3.putObject(names.manifest, Buffer.from(JSON.stringify(updated)), 'application/json', {});
  return updated;
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
  const previous = await readManifest(opts.s3, app, day, root);
  const marks = previous ? (await opts.s3.listObjects(staleMarkPrefix(app, day, root))).objects : [];
  const trusted = previous !== undefined && trustedManifest(previous, marks);
  // A closed day whose manifest is trusted is the whole day: no listing (--verify lists it anyway).
  if (previous && trusted && !opts.verify && !opts.force) {
    await addParquet(opts, app, day, previous);
    return { status: 'up-to-date', app, day: date, objects: previous.keys.length, lines: previous.lines, closed: true };
  }
  const { objects: listed, serverTime } = await dayKeys(opts.s3, opts.keyPrefix, app, day);
  const keys = listed.map((o) => o.key);
  if (keys.length === 0) return { status: 'empty', app, day: date };
  const digest = keysDigest(listed);
  const listedAt = serverTime === undefined ? {} : { listedAt: new Date(serverTime).toISOString(), ...(listed.every((o) => o.size !== undefined) ? { sizes: listed.map((o) => o.size!) } : {}) };
  const changed = previous ? differences(previous, listed) : 0;
  if (previous && previous.keysSha256 === digest && !opts.force) {
    const current = await addParquet(opts, app, day, previous);
    // Listed again after the day closed and found the same: stamped, readers need not list it.
    const sealed = { ...current, ...listedAt };
    const closed = trusted || trustedManifest(sealed, marks);
    if (!trusted && closed && !opts.dryRun) {
      await opts.s3.putObject(compactedKeys(app, day, root).manifest, Buffer.from(JSON.stringify(sealed)), 'application/json', {});
      await clearCovered(opts.s3, marks, serverTime!);
    }
    return { status: 'up-to-date', app, day: date, objects: keys.length, lines: previous.lines, closed };
  }
  // Changed under a manifest readers trust (a manual upload, a restore): marked stale before
  // anything else, so a run that stops before its new manifest leaves the day read raw.
  if (previous && trusted && changed > 0 && !opts.dryRun) await opts.s3.putObject(seenMark(app, day, root, serverTime ?? Date.parse(previous.listedAt!), randomUUID()), Buffer.alloc(0), 'application/octet-stream', {});
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
  if (opts.dryRun) return { status: 'would-compact', app, day: date, objects: keys.length, lines, bytes: gz.length + linesGz.length, late, ...(changed ? { changed } : {}) };
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
    ...listedAt,
  };
  await opts.s3.putObject(names.manifest, Buffer.from(JSON.stringify(manifest)), 'application/json', {});
  if (serverTime !== undefined) await clearCovered(opts.s3, marks, serverTime);
  return { status: 'compacted', app, day: date, objects: keys.length, lines, bytes: gz.length + linesGz.length, late, closed: trustedManifest(manifest, marks), ...(changed ? { changed } : {}) };
}
