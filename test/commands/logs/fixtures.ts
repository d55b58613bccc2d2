// Drain objects for the logs tests, written the receiver's way: its key layout and Logplex
// framing, gzip, into moto. `reference()` is what `aws s3 cp - | gunzip | grep` over the
// same objects, in key order, would give.
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildObjectKey } from '@raxx/log-format/object-key';
import { frame } from '@raxx/log-format/logplex';
import type { AwsClients } from '../../../src/lib/aws/clients.js';

export const BUCKET = 'raxx-heroku-logs-prod';

export interface Stored {
  app: string;
  key: string;
  time: number;
  body: Buffer;
}

export function syslog(ts: number, text: string, opts: { source?: string; dyno?: string } = {}): string {
  const stamp = new Date(ts).toISOString().replace(/\.\d{3}Z$/, '+00:00');
  return `<190>1 ${stamp} host ${opts.source ?? 'app'} ${opts.dyno ?? 'web.1'} - ${text}\n`;
}

let counter = 0;
export function objectId(): string {
  counter += 1;
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, '0')}`;
}

/** A gzip object of Logplex frames, as the receiver stores a batch. */
export function batch(app: string, time: number, texts: string[], opts: { dyno?: string; source?: string } = {}): Stored {
  const body = gzipSync(Buffer.from(frame(texts.map((t, i) => syslog(time + i, t, opts)))));
  return { app, key: buildObjectKey({ app, epochMs: time, id: objectId() }), time, body };
}

/** An object at a key of the layout with any bytes (empty, corrupt). */
export function rawObject(app: string, time: number, body: Buffer): Stored {
  return { app, key: buildObjectKey({ app, epochMs: time, id: objectId() }), time, body };
}

export async function put(aws: AwsClients, objects: Stored[], concurrency = 16): Promise<void> {
  const s3 = await aws.s3();
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < objects.length) {
        const o = objects[next++]!;
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: o.key, Body: o.body }));
      }
    }),
  );
}

/**
 * Objects that arrive after a day was compacted. Past the day's horizon only a writer that
 * marks the day stale can add one (the receiver no longer keys into it), so they go through
 * the CLI's own marked write, as `logs ship` and `attachments url` do.
 */
export async function putLate(aws: AwsClients, objects: Stored[]): Promise<void> {
  const { writeIntoDrainDays } = await import('../../../src/lib/shipping/drain-writes.js');
  const s3 = await aws.s3();
  const deps = { s3, keyPrefix: 'logs/', compactedRoot: 'compacted/', signal: new AbortController().signal, endpoint: 'moto', warn: () => undefined };
  await writeIntoDrainDays(deps, { bucket: BUCKET, keys: objects.map((o) => o.key) }, () => put(aws, objects));
}

export async function createDrainBucket(aws: AwsClients): Promise<void> {
  const s3 = await aws.s3();
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}

/** The lines of an object as `gunzip` prints them; undefined when it is not gzip. */
export function gunzipLines(body: Buffer): string[] | undefined {
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = gunzipSync(body).toString('utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The lines of the objects in [start, end), in key order (time order within an app), as
 * `gunzip | sed -E 's/^[0-9]+ </</'` shows them: the message without its octet count (with
 * `raw`, the stored frames).
 */
export function reference(objects: Stored[], opts: { app?: string; start?: number; end?: number; select?: (line: string) => boolean; raw?: boolean } = {}): string[] {
  return objects
    .filter((o) => (opts.app === undefined || o.app === opts.app) && (opts.start === undefined || o.time >= opts.start) && (opts.end === undefined || o.time < opts.end))
    .sort((a, b) => a.time - b.time || (a.key < b.key ? -1 : 1))
    .flatMap((o) => gunzipLines(o.body) ?? [])
    .map((l) => (opts.raw ? l : l.replace(/^\d{1,8} </, '<')))
    .filter(opts.select ?? (() => true));
}
