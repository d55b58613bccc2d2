// The stale-mark invariant, checked over the source instead of trusted: every S3 write in src/
// and packages/*/src is either one that cannot land in the drain layout (said why, below) or
// goes through writeIntoDrainDays, which marks the day stale before writing. A new write
// anywhere fails this test until it is classified.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { daysWritten } from '../../src/lib/shipping/drain-writes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WRITE = /new (PutObjectCommand|CopyObjectCommand|CreateMultipartUploadCommand|UploadPartCommand|UploadPartCopyCommand|CompleteMultipartUploadCommand|DeleteObjectCommand|DeleteObjectsCommand|RestoreObjectCommand|Upload)\(|\buploadVerified\(|\.(putObject|deleteObject)\(/;

/** Files whose writes cannot land in `<prefix><app>/YYYY/MM/DD/`, and why. */
const OUTSIDE_THE_LAYOUT: Record<string, string> = {
  'packages/log-drain-receiver/src/store.ts': 'the receiver: keyed by its acceptance rule, it writes into a day only before the day closes',
  'packages/log-format/src/compact-day.ts': 'compaction: under compacted/ only (records, lines, Parquet, manifest, stale marks)',
  'packages/log-format/src/compacted-s3.ts': "compaction's S3 calls: used by compact-day only",
  'packages/log-format/src/closed-days.ts': 'removes stale marks under compacted/stale/',
  'src/lib/attachments/attachments.ts': 'the attachments bucket (delete markers, key re-encryption), never the drain bucket',
  'src/lib/run/lease.ts': 'the lease object under raxx-ops/leases/',
  'src/lib/shipping/history.ts': 'shipping run records, outside the drain prefix',
  'src/lib/shipping/drain-writes.ts': 'the marked write itself',
  'src/lib/shipping/upload.ts': 'defines uploadVerified (its callers are checked)',
  'src/lib/shipping/bucket-setup.ts': 'a permission probe that writes nothing (If-Match no ETag can have)',
  'src/lib/attachments/restore.ts': 'the attachments bucket (delete markers only), never the drain bucket',
};

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'node_modules' || e.name === 'dist' ? [] : walk(join(dir, e.name))) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const sources = [join(root, 'src'), ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'src'))].flatMap(walk);

describe('writes into the drain layout', () => {
  it('every S3 write is classified: outside the layout (with a reason), or inside writeIntoDrainDays', () => {
    const bypass: string[] = [];
    for (const file of sources) {
      const name = relative(root, file);
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (!WRITE.test(line) || OUTSIDE_THE_LAYOUT[name]) return;
        // The write must be the body of a marked write: writeIntoDrainDays( on this line or the three before.
        const around = lines.slice(Math.max(0, i - 3), i + 1).join('\n');
        if (!/writeIntoDrainDays\(/.test(around)) bypass.push(`${name}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(bypass).toEqual([]);
  });

  it('the check sees the writes it must (a grep that matched nothing would pass anything)', () => {
    const marked = sources.filter((f) => /writeIntoDrainDays\(/.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f)).sort();
    expect(marked).toEqual(['src/lib/shipping/day.ts', 'src/lib/shipping/drain-writes.ts', 'src/lib/shipping/pulled-day.ts']);
    for (const name of Object.keys(OUTSIDE_THE_LAYOUT)) expect(WRITE.test(readFileSync(join(root, name), 'utf8')), `${name} still writes`).toBe(true);
  });

  it('the days a write may land in: every app-day of its keys, keys outside the layout none', () => {
    expect(
      daysWritten(['logs/raxx-api-prod/2025/06/01/1748736000000-shipped.gz', 'logs/raxx-api-prod/2025/06/01/1748739600000-a.gz', 'logs/auth/2025/06/02/1748822400000-shipped.gz', 'auth/2025-06-01/auth.log.gz'], 'logs/'),
    ).toEqual([
      { app: 'raxx-api-prod', day: Date.parse('2025-06-01') },
      { app: 'auth', day: Date.parse('2025-06-02') },
    ]);
  });
});
