// Shipping history (the runbook's "success/failure tracking"): every run of a source's day —
// shipped, unchanged, skipped, empty or failed — is one small JSON object in the source's own
// bucket, under `shipping-history/<source>/<written ISO>-<id>.json`, so the keys sort by time
// and two runs at once never write the same key. Outside the drain's `logs/` prefix: its
// lifecycle rule does not expire them, and `logs grep` never reads them.
import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { awsSend } from '../aws/call.js';

export const HISTORY_PREFIX = 'shipping-history/';

export type RunOutcome = 'shipped' | 'replaced' | 'unchanged' | 'skipped' | 'empty' | 'failed';

export interface RunRecord {
  source: string;
  day: string;
  outcome: RunOutcome;
  lines: number | null;
  /** Bytes stored (gzipped). */
  bytes: number | null;
  sha256: string | null;
  attempts: number;
  durationMs: number;
  startedAt: string;
  finishedAt: string;
  /** The failure's message (already free of secrets); null when it did not fail. */
  error: string | null;
  /** Who ran it: user@host, or the function's name. */
  by: string;
  /** `cli`, `dashboard` or `schedule`. */
  via: string;
}

export function whoRuns(env: NodeJS.ProcessEnv): string {
  if (env.AWS_LAMBDA_FUNCTION_NAME) return `lambda:${env.AWS_LAMBDA_FUNCTION_NAME}`;
  let user = env.USER ?? env.LOGNAME ?? '';
  try {
    user ||= userInfo().username;
  } catch {
    /* no passwd entry (a container) */
  }
  return `${user || 'unknown'}@${hostname()}`;
}

/** Keyed by the time of writing, so listing order is the order the runs ended in. */
export function historyKey(source: string): string {
  return `${HISTORY_PREFIX}${source}/${new Date().toISOString()}-${randomBytes(4).toString('hex')}.json`;
}

const RECORD_DEADLINE_MS = 30_000;

/** Writes one run's record. A record that cannot be written does not undo the run: the caller warns. */
export async function recordRun(s3: S3Client, bucket: string, record: RunRecord, signal?: AbortSignal): Promise<string> {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const key = historyKey(record.source);
  // Without a signal (a failed or interrupted run's record, written after the run's signal has
  // fired) it is bounded by a deadline of its own.
  await awsSend(s3, new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(record), ContentType: 'application/json' }), { signal: signal ?? AbortSignal.timeout(RECORD_DEADLINE_MS) });
  return key;
}

/** The last `limit` runs of a source, newest first; records that cannot be read are left out and counted. */
export async function lastRuns(s3: S3Client, bucket: string, source: string, limit: number, signal?: AbortSignal): Promise<{ runs: RunRecord[]; unreadable: number; total: number }> {
  const { paginateListObjectsV2, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: `${HISTORY_PREFIX}${source}/` }, signal ? { abortSignal: signal } : {})) {
    for (const o of page.Contents ?? []) if (o.Key?.endsWith('.json')) keys.push(o.Key);
  }
  keys.sort();
  const wanted = keys.slice(-limit).reverse();
  let unreadable = 0;
  const runs = await Promise.all(
    wanted.map(async (Key) => {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }), signal ? { abortSignal: signal } : {});
        const r = JSON.parse(await res.Body!.transformToString()) as RunRecord;
        return typeof r.outcome === 'string' && typeof r.day === 'string' ? r : undefined;
      } catch (err) {
        if (signal?.aborted) throw err;
        unreadable += 1;
        return undefined;
      }
    }),
  );
  return { runs: runs.filter((r): r is RunRecord => r !== undefined), unreadable, total: keys.length };
}
