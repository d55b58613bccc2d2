// grep and fetch over compacted days on the embedded engine: a day's Parquet (one GET, checked
// against its manifest) is queried with the selection pushed down, so only the selected lines
// reach JavaScript instead of the whole day's text. Rows come back in file order, which the
// compactor checked is the day's key order and each object's line order (query/parquet.ts):
// the same order a raw read prints. A day the engine cannot serve exactly (no checked Parquet,
// a pattern the two RE2s might read differently, a query that fails) returns undefined and is
// read from lines.gz.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { literal, loadDuckDb, openDuckDb } from './duckdb.js';
import { engineFilter, type Selection } from './engine-select.js';
import { saveChecked } from './checked-file.js';

/** A day's Parquet as a stream (undefined: not there). */
export type ParquetFetch = () => Promise<AsyncIterable<Buffer> | undefined>;

/** What a compacted day's manifest says, as the engine needs it. */
export interface EngineDayIndex {
  /** Each compacted key's place in the day's files. */
  order: ReadonlyMap<string, number>;
  parquet?: { sha256: string; linesVerified?: boolean } | undefined;
}

/** One object as the engine read it: its selected stored lines (or only their number), and how many lines it has. */
export interface EngineObject {
  lines: string[];
  selected: number;
  total: number;
}

type Db = Awaited<ReturnType<typeof openDuckDb>>;

/**
 * Days downloaded and counted at once: a day's count holds its key and line columns in the
 * engine's memory (~60 MB for 100,000 lines), so a month opened all at once would not stay
 * under the CLI's memory goal; four keep both cores busy.
 */
const DAYS_OPENING = 4;
type Row = [string, string, bigint];

/** The engine's side of a scan: one in-memory database, one connection per compacted day read. */
export class EngineDays {
  private readonly servedDays = new Set<string>();
  private runs: Promise<boolean> | undefined;
  private missing = false;
  private readonly days = new Map<string, Promise<EngineDay | undefined>>();
  private db: Promise<Db> | undefined;
  private dir: Promise<string> | undefined;
  private n = 0;
  private readonly filter;
  private opening = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly selection: Selection,
    private readonly note: (message: string) => void,
    private readonly signal: AbortSignal,
  ) {
    this.filter = engineFilter(selection);
    if ('unsupported' in this.filter) note(`the embedded engine does not run this pattern (${this.filter.unsupported}): compacted days are read from lines.gz`);
  }

  /** Days the engine served. */
  get served(): number {
    return this.servedDays.size;
  }

  /** Whether any day can be served (the pattern is one both engines read alike). */
  get usable(): boolean {
    return !('unsupported' in this.filter);
  }

  /**
   * Starts opening a day before its objects are asked for (its Parquet downloaded and checked,
   * its counts queried): the scan hands over the days it already knows whole (closed days), so
   * a month's downloads and queries overlap instead of waiting for each day's first object.
   */
  prefetch(id: string, index: EngineDayIndex, fetch: ParquetFetch): void {
    void this.day(id, index, fetch);
  }

  /**
   * The objects of one app-day, asked for in key order, as the engine reads them; undefined
   * when it cannot serve the day (the caller reads lines.gz). `fetch` GETs the day's Parquet.
   */
  async take(id: string, index: EngineDayIndex, keys: readonly string[], fetch: ParquetFetch): Promise<EngineObject[] | undefined> {
    const d = await this.day(id, index, fetch);
    if (!d) return undefined;
    try {
      const found = await d.take(keys);
      this.servedDays.add(id);
      return found;
    } catch (err) {
      // The rows handed over so far were in order; this ask and the rest of the day go to lines.gz.
      this.note(`${id}: the embedded engine stopped (${(err as Error).message.split('\n')[0]}); the rest of the day is read from lines.gz`);
      this.days.set(id, Promise.resolve(undefined));
      return undefined;
    }
  }

  private day(id: string, index: EngineDayIndex, fetch: ParquetFetch): Promise<EngineDay | undefined> {
    let day = this.days.get(id);
    if (!day) {
      day = this.open(id, index, fetch).catch((err: unknown) => {
        if (!this.signal.aborted) this.note(`${id}: the embedded engine could not open the day (${(err as Error).message.split('\n')[0]}); read from lines.gz`);
        return undefined;
      });
      this.days.set(id, day);
    }
    return day;
  }

  private async open(id: string, index: EngineDayIndex, fetch: ParquetFetch): Promise<EngineDay | undefined> {
    if ('unsupported' in this.filter) return undefined;
    if (!index.parquet?.linesVerified) {
      this.note(`${id}: no checked Parquet beside the compacted day (\`logs compact --force\` with the engine installed writes one); read from lines.gz`);
      return undefined;
    }
    // Loaded only now, for a day it can serve: a grep of the last hours never pays for it.
    const db = await this.database().catch((err: unknown) => {
      if (!this.missing) this.note(`the embedded engine is not installed (${(err as Error).message.split('\n')[0]}): compacted days are read from lines.gz`);
      this.missing = true;
      return undefined;
    });
    if (!db || !(await this.patternRuns(this.filter.params[0]))) return undefined;
    const dir = await this.folder();
    while (this.opening >= DAYS_OPENING) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.opening += 1;
    try {
      return await this.download(id, index.parquet.sha256, index.order, fetch, db, dir, this.filter);
    } finally {
      this.opening -= 1;
      this.waiting.shift()?.();
    }
  }

  private async download(id: string, sha256: string, order: EngineDayIndex['order'], fetch: ParquetFetch, db: Db, dir: string, filter: { where: string; params: string[] }): Promise<EngineDay | undefined> {
    const body = await fetch();
    const file = join(dir, `${this.n++}.parquet`);
    const saved = await saveChecked(body, file, sha256, this.signal);
    if (saved !== 'ok') {
      this.note(saved === 'missing' ? `${id}: its Parquet could not be read; read from lines.gz` : `${id}: the Parquet file is not the one its manifest names; read from lines.gz`);
      return undefined;
    }
    const day = new EngineDay(await db.instance.connect(), file, order, filter, this.selection);
    // Counting is a pass over the day's key column (and with -c its selection): done now, it
    // runs while earlier days print.
    try {
      await day.counted();
    } catch (err) {
      day.close();
      throw err;
    }
    return day;
  }

  /** Whether the engine's RE2 compiles the pattern (RE2JS accepts some it rejects: `(?<name>…)`, `\p{Emoji}`), asked once. */
  private patternRuns(pattern: string | undefined): Promise<boolean> {
    this.runs ??= (async () => {
      if (pattern === undefined || !this.selection.pattern || (this.selection.fixed && !this.selection.ignoreCase)) return true;
      const { conn } = await this.database();
      try {
        await conn.run('SELECT regexp_matches(\'\', $1)', [pattern]);
        return true;
      } catch (err) {
        this.note(`the embedded engine does not run this pattern (its RE2 rejects it: ${(err as Error).message.split('\n')[0]}): compacted days are read from lines.gz`);
        return false;
      }
    })();
    return this.runs;
  }

  private database(): Promise<Db> {
    this.db ??= (async () => openDuckDb(await loadDuckDb()))();
    return this.db;
  }

  private folder(): Promise<string> {
    // The engine reads these files and nothing else: its SQL is ours, the pattern only a parameter.
    this.dir ??= (async () => {
      const dir = await mkdtemp(join(tmpdir(), 'raxx-ops-grep-'));
      const { conn } = await this.database();
      await conn.run("SET temp_directory = ''");
      await conn.run(`SET allowed_directories = [${literal(`${dir}/`)}]`);
      await conn.run('SET enable_external_access = false');
      await conn.run('SET lock_configuration = true');
      return dir;
    })();
    return this.dir;
  }

  async close(): Promise<void> {
    const days = await Promise.all(this.days.values());
    for (const d of days) d?.close();
    if (this.db) (await this.db.catch(() => undefined))?.close();
    if (this.dir) await rm(await this.dir.catch(() => ''), { recursive: true, force: true }).catch(() => undefined);
  }
}

type Connection = Awaited<ReturnType<Db['instance']['connect']>>;

/**
 * One day's query, read forward: asks come in key order (as DayCursor's do), rows are
 * `(key, line, file_row_number)` in file order. Rows of keys nobody asks for (outside the
 * window) are passed over.
 */
class EngineDay {
  private chain: Promise<unknown> = Promise.resolve();
  private rows: AsyncIterator<Row[]> | undefined;
  private buf: Row[] = [];
  private pos = 0;
  private ended = false;
  private lastRow = -1n;
  private totals: Promise<Map<string, { total: number; selected: number }>> | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly file: string,
    private readonly order: ReadonlyMap<string, number>,
    private readonly filter: { where: string; params: string[] },
    private readonly sel: Selection,
  ) {}

  /** The day's counts, taken before its first take. */
  async counted(): Promise<void> {
    this.totals ??= this.count();
    await this.totals;
  }

  take(keys: readonly string[]): Promise<EngineObject[]> {
    const p = this.chain.then(() => this.advance(keys));
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private async advance(keys: readonly string[]): Promise<EngineObject[]> {
    // Per object: its lines, and with -c how many it selects (no text leaves the engine).
    this.totals ??= this.count();
    const totals = await this.totals;
    const out: EngineObject[] = [];
    for (const key of keys) {
      const t = totals.get(key) ?? { total: 0, selected: 0 };
      if (this.sel.countOnly) out.push({ lines: [], selected: t.selected, total: t.total });
      else out.push({ lines: await this.linesOf(key), selected: 0, total: t.total });
    }
    return out;
  }

  private async count(): Promise<Map<string, { total: number; selected: number }>> {
    const src = `read_parquet(${literal(this.file)})`;
    // Two passes, not one with count(*) FILTER: a WHERE is pushed into the scan (the literal's
    // contains() first), which made -c over a month 2-3× faster than evaluating it per group.
    const map = new Map<string, { total: number; selected: number }>();
    for (const [key, total] of await this.keyCounts(`SELECT key, count(*) AS n FROM ${src} GROUP BY key`, [])) map.set(key, { total, selected: 0 });
    if (this.sel.countOnly) {
      for (const [key, n] of await this.keyCounts(`SELECT key, count(*) AS n FROM ${src} WHERE ${this.filter.where} GROUP BY key`, this.filter.params)) {
        const t = map.get(key);
        if (t) t.selected = n;
      }
    }
    return map;
  }

  /**
   * `(key, n)` rows as one string: a day's 2,000 rows converted one by one cost more than the
   * query. Keys in the receiver's layout hold no newline; a row whose key the manifest does not
   * list (one that did) stops the day, which is then read from lines.gz.
   */
  private async keyCounts(sql: string, params: string[]): Promise<[string, number][]> {
    const reader = await this.conn.runAndReadAll(`SELECT coalesce(string_agg(n::VARCHAR || ' ' || key, chr(10)), '') FROM (${sql})`, params);
    const all = (reader.getRows()[0]?.[0] as string | undefined) ?? '';
    if (all === '') return [];
    return all.split('\n').map((row) => {
      const space = row.indexOf(' ');
      const key = row.slice(space + 1);
      if (space < 1 || !this.order.has(key)) throw new Error(`the Parquet file holds ${key}, which its manifest does not list`);
      return [key, Number(row.slice(0, space))];
    });
  }

  private async next(): Promise<Row | undefined> {
    if (this.pos < this.buf.length) return this.buf[this.pos];
    if (this.ended) return undefined;
    if (!this.rows) {
      const limit = this.sel.limit !== undefined ? ` LIMIT ${Math.floor(this.sel.limit)}` : '';
      // No ORDER BY: a scan and a filter keep the file's order (preserve_insertion_order);
      // the row numbers returned prove it, row by row.
      const result = await this.conn.stream(`SELECT key, line, file_row_number FROM read_parquet(${literal(this.file)}, file_row_number = true) WHERE ${this.filter.where}${limit}`, this.filter.params);
      this.rows = (result.yieldRows() as AsyncIterableIterator<Row[]>)[Symbol.asyncIterator]();
    }
    for (;;) {
      const r = await this.rows.next();
      if (r.done) {
        this.ended = true;
        this.buf = [];
        this.pos = 0;
        return undefined;
      }
      if (r.value.length === 0) continue;
      this.buf = r.value;
      this.pos = 0;
      return this.buf[0];
    }
  }

  /** The selected stored lines of one key, reading on past the keys before it. */
  private async linesOf(key: string): Promise<string[]> {
    const at = this.order.get(key);
    if (at === undefined) throw new Error(`${key} is not in the day's manifest`);
    const lines: string[] = [];
    for (;;) {
      const row = await this.next();
      if (!row) return lines;
      const [k, line, n] = row;
      if (n <= this.lastRow) throw new Error('rows came back out of file order');
      const rowAt = this.order.get(k);
      if (rowAt === undefined) throw new Error(`the Parquet file holds ${k}, which its manifest does not list`);
      if (rowAt > at) return lines;
      this.lastRow = n;
      this.pos += 1;
      if (rowAt === at) lines.push(line);
    }
  }

  close(): void {
    this.conn.closeSync();
  }
}
