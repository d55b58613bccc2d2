// Compacted days as the reading commands use them: each app-day's manifest read once, the day's
// objects served from lines.gz (or its checked Parquet) in place of their raw GETs, and the
// closed days whose manifests are trusted without listing.
import { createHash } from 'node:crypto';
import { compactedKeys, readManifest, type Manifest } from '@raxx/log-format/compacted';
import { acceptanceHorizon, parseObjectKey, startOfUtcDay, utcDate } from '@raxx/log-format/object-key';
import { staleMarkPrefix, trustedManifest, type ListedMark } from '@raxx/log-format/closed-days';
import type { Context } from '../run/context.js';
import type { LogObject, LogStore } from './store.js';
import { DayCursor, gunzipBytes, ReadAhead } from './day-cursor.js';

/** What CompactedDays reads: a small object whole, and a gzip object's text in chunks (undefined: not there). */
export interface CompactedSource {
  getObject(key: string): Promise<Buffer | undefined>;
  /** The keys under a prefix with LastModified (a day's stale marks). */
  listMarks(prefix: string): Promise<ListedMark[]>;
  /** A gzip object's inflated bytes, in chunks (a Readable is destroyed when the reader stops). */
  openBytes(key: string): Promise<AsyncIterable<Buffer> | undefined>;
}

/** An object's text as a compacted day holds it, and the problem reading its raw object had. */
export interface CompactedText {
  text: Buffer;
  problem?: string;
}

/** What a reader needs of a manifest: per key, the ETag compacted, the text's checksum and its place in the day's files. */
export interface DayIndex {
  entries: Map<string, { etag: string; sha256: string; problem: string | undefined }>;
  order: Map<string, number>;
  parquet: Manifest['parquet'];
}

/**
 * Serves `logs grep` and `fetch` from compacted days: an object whose key and ETag a day's
 * manifest lists is read from that day's lines.gz (one GET for the whole day, streamed)
 * instead of its own GET, once its text matches the manifest's checksum. The lines are the
 * ones a raw read verifies, so the output is the same either way, warnings included; objects a
 * manifest does not list (late arrivals, days not compacted), objects uploaded again since (another
 * ETag) and text that does not match are read raw.
 */
export class CompactedDays {
  private readonly manifests = new Map<string, Promise<DayIndex | undefined>>();
  /** The manifests of `manifests` that have come, by the same key. */
  private readonly indexes = new Map<string, DayIndex | undefined>();
  private readonly read = new Map<string, Promise<Manifest | undefined>>();
  /** Closed days served without listing their raw objects. */
  closedDays = 0;
  private readonly cursors = new Map<string, DayCursor>();
  /** What the days' files hold ahead of their readers, together. */
  private readonly readAhead = new ReadAhead();
  private readonly warned = new Set<string>();
  /** Objects served from compacted days, and days opened. */
  served = 0;
  private readonly opened = new Set<string>();
  get daysOpened(): number {
    return this.opened.size;
  }

  constructor(
    private readonly source: CompactedSource,
    private readonly root: string,
    private readonly warn: (message: string) => void = () => undefined,
    private readonly keyPrefix = 'logs/',
  ) {}

  /** The app-day an object belongs to (the unit of compaction), as a map key. */
  dayOf(obj: LogObject): string {
    return `${obj.app}/${startOfUtcDay(obj.time)}`;
  }

  /** The manifest of an app-day as read (fetched once; undefined when there is none or it cannot be read). */
  manifest(app: string, day: number): Promise<Manifest | undefined> {
    return this.rawManifest(app, startOfUtcDay(day));
  }

  /** Asks for the manifest of an app-day before its first object comes (they are fetched at once). */
  prefetch(app: string, day: number): void {
    void this.manifestOf(app, startOfUtcDay(day));
  }

  /**
   * Whether the object's day has a manifest that lists it with the ETag listed now (404 → not
   * compacted). Answered at once when the manifest is in: it is asked for every object of a
   * window, and a promise per object cost more than the answer.
   */
  covers(obj: LogObject): boolean | Promise<boolean> {
    const day = startOfUtcDay(obj.time);
    const id = `${obj.app}/${day}`;
    const listed = (index: DayIndex | undefined) => {
      const entry = index?.entries.get(obj.key);
      return entry !== undefined && obj.etag !== undefined && entry.etag === obj.etag;
    };
    return this.indexes.has(id) ? listed(this.indexes.get(id)) : this.manifestOf(obj.app, day).then(listed);
  }

  /** Objects of one day served another way (the embedded engine), for the counts. */
  servedElsewhere(objs: readonly LogObject[]): void {
    if (objs.length === 0) return;
    this.served += objs.length;
    this.opened.add(this.dayOf(objs[0]!));
  }

  /** What the manifest of an object's day says (already fetched by covers()), for the embedded engine's read. */
  async indexOf(obj: LogObject): Promise<DayIndex | undefined> {
    return this.manifestOf(obj.app, startOfUtcDay(obj.time));
  }

  /** The S3 key of the Parquet file of an object's day. */
  parquetKey(obj: LogObject): string {
    return compactedKeys(obj.app, startOfUtcDay(obj.time), this.root).parquet;
  }

  /** The manifest of an app-day, fetched once (one that cannot be read, or of another version, means raw reads). */
  private manifestOf(app: string, day: number): Promise<DayIndex | undefined> {
    const id = `${app}/${day}`;
    let m = this.manifests.get(id);
    if (!m) {
      m = this.rawManifest(app, day).then((x) => {
        const index = x ? indexOf(x) : undefined;
        this.indexes.set(id, index);
        return index;
      });
      this.manifests.set(id, m);
    }
    return m;
  }

  private rawManifest(app: string, day: number): Promise<Manifest | undefined> {
    const id = `${app}/${day}`;
    let m = this.read.get(id);
    if (!m) {
      m = readManifest(this.source, app, day, this.root).catch(() => undefined);
      this.read.set(id, m);
    }
    return m;
  }

  /**
   * The objects of a closed app-day as its manifest lists them, when that manifest holds the
   * whole day (closed-days.ts: listed after the day's horizon, no stale mark since); undefined
   * when the day must be listed. Marks that cannot be listed mean listing the day.
   */
  async closedDay(app: string, day: number): Promise<LogObject[] | undefined> {
    const m = await this.rawManifest(app, startOfUtcDay(day));
    if (!m || m.listedAt === undefined || Date.parse(m.listedAt) < acceptanceHorizon(day)) return undefined;
    const marks = await this.source.listMarks(staleMarkPrefix(app, startOfUtcDay(day), this.root)).catch(() => undefined);
    if (!marks || !trustedManifest(m, marks)) return undefined;
    const objects: LogObject[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const p = parseObjectKey(m.keys[i]!, this.keyPrefix);
      // A key the layout does not hold (another prefix): the manifest is not this reader's.
      if (!p || p.app !== app) return undefined;
      objects.push({ app, key: m.keys[i]!, time: p.epochMs, id: p.id, size: m.sizes![i]!, etag: m.etags[i]!, flags: p.flags });
    }
    this.closedDays += 1;
    return objects;
  }

  /**
   * The stored text of objects of one app-day (their lines, newline-ended, as UTF-8), asked
   * for in key order; undefined for one the day's lines.gz does not hold or holds other text
   * than its manifest says (the caller reads it raw).
   */
  async textsOf(objs: readonly LogObject[]): Promise<(CompactedText | undefined)[]> {
    if (objs.length === 0) return [];
    const first = objs[0]!;
    const id = this.dayOf(first);
    let cursor = this.cursors.get(id);
    if (!cursor) {
      this.opened.add(id);
      cursor = new DayCursor(() => this.source.openBytes(compactedKeys(first.app, startOfUtcDay(first.time), this.root).lines), this.readAhead);
      this.cursors.set(id, cursor);
    }
    const index = await this.manifestOf(first.app, startOfUtcDay(first.time));
    const found = await cursor.take(objs.map((o) => o.key));
    return found.map((text, i) => {
      const entry = index?.entries.get(objs[i]!.key);
      if (text === undefined || !entry) return undefined;
      if (createHash('sha256').update(text).digest('hex') !== entry.sha256) {
        if (!this.warned.has(id)) {
          this.warned.add(id);
          this.warn(`${first.app} ${utcDate(first.time)}: the compacted lines do not match their manifest (written by another run, or damaged); the day's objects are read raw, run \`raxx-ops logs compact --force --app ${first.app} --date ${utcDate(first.time)}\``);
        }
        return undefined;
      }
      this.served += 1;
      return { text, ...(entry.problem ? { problem: entry.problem } : {}) };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.cursors.values()].map((c) => c.close()));
  }
}

export function indexOf(m: Manifest): DayIndex {
  const entries: DayIndex['entries'] = new Map();
  const order: DayIndex['order'] = new Map();
  m.keys.forEach((key, i) => {
    entries.set(key, { etag: m.etags[i]!, sha256: m.textSha256[i]!, problem: m.problems[key] });
    order.set(key, i);
  });
  return { entries, order, parquet: m.parquet };
}

/** Compacted days read through the store's GETs; a file not there or unreadable means raw reads. */
export function openCompactedDays(ctx: Context, store: LogStore): CompactedDays {
  const orRaw = <T>(p: Promise<T>) => p.catch(() => undefined);
  return new CompactedDays(
    {
      getObject: (key) => orRaw(store.fetchBytes(key, ctx.signal)),
      listMarks: (prefix) => store.listAll(prefix, ctx.signal),
      async openBytes(key) {
        const body = await orRaw(store.fetch(key, ctx.signal));
        return body ? gunzipBytes(body as AsyncIterable<Buffer>) : undefined;
      },
    },
    ctx.config.query.compactedPrefix,
    (message) => ctx.out.warn(message),
    ctx.config.drain.keyPrefix,
  );
}
