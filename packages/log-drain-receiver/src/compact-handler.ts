// The daily compactor: a second handler in the same zip (`index.compact`), run by an
// EventBridge schedule shortly after midnight UTC. It compacts yesterday and the days before
// it back to COMPACT_LOOKBACK_DAYS (default 3), so objects that arrived late are picked up;
// a day whose manifest matches its listing costs one listing and one GET.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { compactDay } from '@raxx/log-format/compact-day';
import type { CompactOutcome } from '@raxx/log-format/compacted';
import { s3ForCompaction } from '@raxx/log-format/compacted-s3';
import { DAY_MS, DEFAULT_KEY_PREFIX, isAppName, keyPrefixProblem, normalizePrefix, startOfUtcDay } from '@raxx/log-format/object-key';
import { createS3Client } from './store.js';

export interface CompactEnv {
  BUCKET_NAME?: string;
  KEY_PREFIX?: string;
  COMPACTED_PREFIX?: string;
  ALLOWED_APPS?: string;
  COMPACT_LOOKBACK_DAYS?: string;
}

/** The apps to compact: ALLOWED_APPS, else every app folder under the key prefix. */
async function appsOf(s3: Pick<S3Client, 'send'>, bucket: string, prefix: string, allowed: string | undefined): Promise<string[]> {
  if (allowed) return allowed.split(',').map((a) => a.trim()).filter(isAppName);
  const apps: string[] = [];
  // A loop, not paginateListObjectsV2: that one refuses anything but an S3Client instance, and
  // this takes any object with send().
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }));
    for (const p of page.CommonPrefixes ?? []) {
      const app = p.Prefix?.slice(prefix.length, -1);
      if (app && isAppName(app)) apps.push(app);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return apps;
}

export async function runCompaction(env: CompactEnv, deps: { s3: Pick<S3Client, 'send'>; now?: number; log?: (line: string) => void }): Promise<CompactOutcome[]> {
  const bucket = env.BUCKET_NAME;
  if (!bucket) throw new Error('BUCKET_NAME is not set');
  const keyPrefix = normalizePrefix(env.KEY_PREFIX ?? DEFAULT_KEY_PREFIX);
  const problem = keyPrefixProblem(keyPrefix);
  if (problem) throw new Error(`KEY_PREFIX ${problem}`);
  const lookback = Math.min(Math.max(Number(env.COMPACT_LOOKBACK_DAYS ?? 3) || 3, 1), 31);
  const now = deps.now ?? Date.now();
  const s3 = s3ForCompaction(deps.s3, bucket);
  const apps = await appsOf(deps.s3, bucket, keyPrefix, env.ALLOWED_APPS);
  const today = startOfUtcDay(now);
  const results: CompactOutcome[] = [];
  for (const app of apps) {
    for (let i = lookback; i >= 1; i--) {
      const r = await compactDay({ s3, keyPrefix, compactedRoot: env.COMPACTED_PREFIX, now }, app, today - i * DAY_MS);
      results.push(r);
      (deps.log ?? ((line: string) => process.stdout.write(`${line}\n`)))(JSON.stringify({ level: 'info', msg: 'compaction', ...r }));
    }
  }
  return results;
}

let client: S3Client | undefined;

/** The scheduled entry point (handler `index.compact`). */
export async function compact(): Promise<{ compacted: number; upToDate: number; days: number }> {
  client ??= createS3Client(process.env);
  const results = await runCompaction(process.env, { s3: client });
  return {
    compacted: results.filter((r) => r.status === 'compacted').length,
    upToDate: results.filter((r) => r.status === 'up-to-date').length,
    days: results.length,
  };
}
