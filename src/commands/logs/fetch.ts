// `raxx-ops logs fetch`: the runbook's `aws s3 cp s3://…/<key> - | gunzip` for a whole window,
// in time order on stdout, or one decompressed file per object under -o DIR.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../../lib/errors.js';
import type { LineVisitor, LogObject } from '../../lib/log-store.js';
import { defineCommand } from '../command.js';
import { logRecord } from './record.js';
import { formatBytes, scanWindow, unique, windowArgs, windowOf } from './shared.js';

export default defineCommand({
  args: z.object({
    ...windowArgs,
    output: z.string().min(1, 'needs a directory').optional(),
  }),
  async run(args, ctx) {
    const { out, config } = ctx;
    const apps = unique(args.app);
    const window = windowOf(args, ctx);
    const dir = args.output ? resolve(args.output) : undefined;
    const prefix = apps.length > 1 && !out.json;
    const files: string[] = [];

    const stats = await scanWindow<string[]>(
      ctx,
      { apps, window, concurrency: args.concurrency, verb: 'fetch' },
      (): LineVisitor<string[]> => {
        const lines: string[] = [];
        return { line: (text) => void lines.push(text), result: () => lines };
      },
      (obj, { value: lines }) => {
        if (dir) return;
        if (out.json) for (const l of lines) out.record(logRecord(obj, l));
        else if (lines.length > 0) out.raw(`${(prefix ? lines.map((l) => `${obj.app}:${l}`) : lines).join('\n')}\n`);
      },
      dir
        ? async (obj, { value: lines }) => {
            const path = join(dir, fileName(obj, config.drain.keyPrefix));
            await writeAtomically(path, lines.length > 0 ? `${lines.join('\n')}\n` : '');
            files.push(path);
          }
        : undefined,
    );

    if (dir) {
      if (out.json) out.data({ dir, files, objects: stats.done, lines: stats.lines, bytes: stats.bytes });
      else out.info(`wrote ${files.length} file(s), ${stats.lines} lines from ${formatBytes(stats.bytes)} compressed, under ${dir}`);
    }
  },
});

/** `<app>/<YYYY>/<MM>/<DD>/<epoch_ms>-<id>.log`: the key below the prefix, decompressed. */
export function fileName(obj: LogObject, keyPrefix: string): string {
  const rel = obj.key.startsWith(keyPrefix) ? obj.key.slice(keyPrefix.length) : obj.key;
  return rel.replace(/\.gz$/, '') + '.log';
}

async function writeAtomically(path: string, text: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.partial`;
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot write ${path}: ${e.code ?? e.message}`, { hint: 'pass a directory you can write to with -o' });
  }
}
