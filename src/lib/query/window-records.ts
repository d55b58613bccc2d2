// The records of a window, as gzip JSON-lines files an embedded engine reads: a compacted
// day is one download; the raw objects its manifest does not cover (late arrivals, or a day
// not compacted yet) are read through the grep path and turned into the same records.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { compactedKeys, dayKeys, readManifest, recordsMatch, toRecord } from '@raxx/log-drain-receiver/compacted';
import { compactS3, concurrentReader } from '../compaction.js';
import type { Context } from '../context.js';
import type { LogStore } from '../log-store.js';
import { DAY_MS, startOfDay, type TimeWindow } from '../time-window.js';
import { writeFile } from 'node:fs/promises';

export interface GatherStats {
  files: string[];
  compactedDays: number;
  rawObjects: number;
}

export async function gatherWindow(
  ctx: Context,
  store: LogStore,
  opts: { apps: string[]; window: TimeWindow; dir: string; concurrency: number; onProgress?: (text: string) => void },
): Promise<GatherStats> {
  const s3 = await compactS3(ctx, ctx.config.drain.bucket);
  const root = ctx.config.query.compactedPrefix;
  const keyPrefix = ctx.config.drain.keyPrefix;
  const read = concurrentReader(store, keyPrefix, ctx.signal, opts.concurrency);
  const stats: GatherStats = { files: [], compactedDays: 0, rawObjects: 0 };
  const days: number[] = [];
  for (let d = startOfDay(opts.window.start); d < opts.window.end; d += DAY_MS) days.push(d);
  let n = 0;
  for (const app of opts.apps) {
    for (const day of days) {
      ctx.checkInterrupted();
      opts.onProgress?.(`query: reading ${app} ${new Date(day).toISOString().slice(0, 10)} (${++n}/${opts.apps.length * days.length})`);
      const [manifest, keys] = await Promise.all([readManifest(s3, app, day, root), dayKeys(s3, keyPrefix, app, day)]);
      let raw = keys;
      if (manifest) {
        const body = await s3.getObject(compactedKeys(app, day, root).records);
        // Records of another run than the manifest: the raw objects are the truth.
        if (body && recordsMatch(manifest, body)) {
          const file = join(opts.dir, `${stats.files.length}-${app}-${day}-compacted.jsonl.gz`);
          await writeFile(file, body);
          stats.files.push(file);
          stats.compactedDays += 1;
          const covered = new Set(manifest.keys);
          raw = keys.filter((k) => !covered.has(k));
        }
      }
      if (raw.length === 0) continue;
      const file = join(opts.dir, `${stats.files.length}-${app}-${day}-raw.jsonl.gz`);
      const gz = createGzip();
      const sink = createWriteStream(file);
      gz.pipe(sink);
      for await (const obj of read(raw)) {
        let block = '';
        for (const line of obj.lines) block += `${JSON.stringify(toRecord(line, app, obj.key))}\n`;
        if (!gz.write(block)) await once(gz, 'drain');
      }
      gz.end();
      await once(sink, 'close');
      stats.files.push(file);
      stats.rawObjects += raw.length;
    }
  }
  return stats;
}
