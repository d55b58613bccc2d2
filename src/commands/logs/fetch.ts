// `raxx-ops logs fetch`: the runbook's `aws s3 cp s3://…/<key> - | gunzip` for a whole window,
// in time order on stdout, or one decompressed file per object under -o DIR.
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { buildObjectKey } from '@raxx/log-format/object-key';
import { UsageError } from '../../lib/core/errors.js';
import type { LogObject } from '../../lib/logs/store.js';
import { lineBatches, textKeeper } from '../../lib/logs/text.js';
import { createCommand, option } from '../define.js';
import { resolveApps } from '../apps.js';
import { formatBytes, printOptions, printText, WINDOW_HELP, windowOptions, windowOf } from './shared.js';
import { scanWindow } from '../../lib/logs/scan.js';

export default createCommand({
  description: 'the decompressed lines of the window, in time order, on stdout, or one file per object under -o DIR',
  notes: WINDOW_HELP,
  examples: [
    ['raxx-ops logs fetch --app raxx-api-prod --since 30m | less', 'the last half hour'],
    ['raxx-ops logs fetch --app raxx-api-prod --date 2025-06-01 -o ./logs', 'one file per object'],
    ['raxx-ops logs fetch --app raxx-api-prod --since 10m --json', 'NDJSON with the parsed syslog fields'],
  ],
  options: {
    ...windowOptions,
    ...printOptions,
    output: option(z.string().min(1, 'needs a directory').optional(), 'write one file per object under DIR (<app>/<YYYY>/<MM>/<DD>/<epoch_ms>-<id>.log)', { short: 'o', value: '<dir>' }),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const apps = resolveApps(args.app, ctx);
    const window = windowOf(args, ctx);
    const dir = args.output ? resolve(args.output) : undefined;
    const files = dir ? new ObjectFiles(dir) : undefined;
    const written: string[] = [];

    // Each object's text is kept as its inflated bytes until its turn, then printed a piece at a time.
    const stats = await scanWindow<Buffer[]>(
      ctx,
      { apps, window, concurrency: args.concurrency, verb: 'fetch', compacted: args.compacted, engine: args.engine },
      textKeeper,
      async (obj, { value: text }) => {
        if (files) written.push(files.pathOf(obj));
        else await printText(out, obj, text, apps.length > 1, args, ctx.signal);
      },
      // Files are written as each download finishes, concurrently; only the list is in time order.
      files ? (obj, { value: text }) => files.write(obj, text) : undefined,
    );

    if (dir) {
      if (out.json) out.data({ dir, files: written, objects: stats.done, lines: stats.lines, bytes: stats.bytes });
      else out.info(`wrote ${written.length} file(s), ${stats.lines} lines from ${formatBytes(stats.bytes)} compressed, under ${dir}`);
    }
  },
});

/** `DIR/<app>/<YYYY>/<MM>/<DD>/<epoch_ms>-<id>.log`: the object's key without the prefix, decompressed. */
class ObjectFiles {
  /** One mkdir per day folder, not one per object. */
  private readonly folders = new Map<string, Promise<unknown>>();
  constructor(private readonly dir: string) {}

  pathOf(obj: LogObject): string {
    return join(this.dir, buildObjectKey({ prefix: '', app: obj.app, epochMs: obj.time, id: obj.id }).replace(/\.gz$/, '.log'));
  }

  /**
   * Written to a `.partial` file, a batch of lines at a time (the stored lines, decoded as when
   * printed), then renamed into place: a file that exists is complete.
   */
  async write(obj: LogObject, text: readonly Buffer[]): Promise<void> {
    const path = this.pathOf(obj);
    try {
      const folder = dirname(path);
      let made = this.folders.get(folder);
      if (!made) {
        made = mkdir(folder, { recursive: true });
        this.folders.set(folder, made);
      }
      await made;
      const tmp = `${path}.partial`;
      const file = await open(tmp, 'w');
      try {
        for (const lines of lineBatches(text)) await file.write(`${lines.join('\n')}\n`);
      } finally {
        await file.close();
      }
      await rename(tmp, path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(`cannot write ${path}: ${e.code ?? e.message}`, { hint: 'pass a directory you can write to with -o' });
    }
  }
}
