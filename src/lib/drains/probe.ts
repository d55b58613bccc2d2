// The runbook's curl smoke test, done as Logplex does it: a synthetic batch framed by the
// receiver's own frame(), real Logplex headers, then the object it must produce in S3 (its key
// is deterministic: the Frame-Id and the first message's timestamp). Shared by `drains test`,
// `drains rotate` and `doctor --send-test`. A failure names the runbook's failure mode:
//   A not wired · B token mismatch (403) · C S3 write failed · D timed out.
import { randomBytes, randomUUID } from 'node:crypto';
import { frame, timestampMs } from '@raxx/log-format/logplex';
import { buildObjectKey } from '@raxx/log-format/object-key';
import type { Context } from '../run/context.js';
import { awsError } from '../aws/clients.js';
import { redact } from '../core/secrets.js';
import { sleep } from '../core/sleep.js';
import { branch } from '../core/abort.js';

export type FailureMode = 'A' | 'B' | 'C' | 'D';

export const FAILURE_MODES: Record<FailureMode, { what: string; fix: string }> = {
  A: { what: 'not wired: the app has no drain to the receiver', fix: 'run `raxx-ops drains wire --app <app>`' },
  B: { what: 'token mismatch: the receiver answers 403 and Logplex drops those batches for good', fix: "`raxx-ops drains rotate`: it repairs any mismatch of the function, SSM and the drains (the drains' token is accepted again from its first change, then all move to one new token); then `raxx-ops drains test`" },
  C: { what: 'S3 write failed: the receiver cannot store batches (it answers 5xx, Logplex retries then drops)', fix: 'look for `drain write failed` in the receiver log group; check the bucket and the function role' },
  D: { what: 'timeout: the receiver did not answer in time (Logplex gives up after 5 s)', fix: 'look for `Task timed out after` in the receiver log group; check the function timeout and S3 latency' },
};

/** The runbook's fix for a failure mode, naming the apps it concerns. */
export function fixFor(mode: FailureMode, apps: string[]): string {
  return FAILURE_MODES[mode].fix.replace('<app>', apps.join(' --app '));
}

export interface ProbeResult {
  app: string;
  ok: boolean;
  status?: number | undefined;
  mode?: FailureMode | undefined;
  message: string;
  key?: string | undefined;
  ms: number;
}

export interface ProbeOptions {
  app: string;
  /** The drain URL to post to, as Heroku holds it. */
  url: string;
  /** The Heroku drain token (d.<uuid>) Logplex would send; a made-up one when unknown. */
  drainToken?: string | null | undefined;
  timeoutMs: number;
  /** Keep re-sending while the receiver answers 403, for this long (a token change propagating). */
  retry403Ms?: number;
}

const USER_AGENT = 'Logplex/v72 (raxx-ops drains test)';

export async function probeDrain(ctx: Context, opts: ProbeOptions): Promise<ProbeResult> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const frameId = randomBytes(16).toString('hex');
  // Stamped as Heroku stamps dyno lines: microseconds and +00:00.
  const stamp = ctx.now().toISOString().replace('Z', '000+00:00');
  const line = (text: string) => ({ pri: 190, version: 1, timestamp: stamp, host: 'host', appName: 'app', procid: 'raxx-ops.1', msgid: '-', text });
  const messages = [line(`drains test ${frameId}: synthetic batch from raxx-ops drains test`), line(`drains test ${frameId}: end of batch`)];
  const body = frame(messages);
  const key = buildObjectKey({ prefix: ctx.config.drain.keyPrefix, app: opts.app, epochMs: timestampMs(stamp)!, id: frameId });
  const drainToken = opts.drainToken ?? `d.${randomUUID()}`;
  const result = (r: Omit<ProbeResult, 'app' | 'ms'>): ProbeResult => ({ app: opts.app, ms: Date.now() - started, ...r });

  // Logplex sends URL userinfo as a Basic header (fetch refuses URLs with credentials).
  const target = new URL(opts.url);
  const auth = target.username || target.password ? `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}` : undefined;
  target.username = '';
  target.password = '';

  // POST, as Logplex does: the same Frame-Id on every attempt, a 5xx (or 429) retried twice.
  // No answer in time is failure mode D at once: a retry would only wait as long again.
  let status: number | undefined;
  let attempts5xx = 0;
  const { proxiedFetch } = await import('../core/proxy.js');
  const fetch = await proxiedFetch(ctx.env);
  for (;;) {
    ctx.checkInterrupted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) return result({ ok: false, status, mode: status === 403 ? 'B' : 'D', message: status === 403 ? 'the receiver rejected the token (403)' : 'no answer before the timeout' });
    try {
      const res = await fetch(target, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/logplex-1',
          'Logplex-Msg-Count': String(messages.length),
          'Logplex-Frame-Id': frameId,
          'Logplex-Drain-Token': drainToken,
          'User-Agent': USER_AGENT,
          ...(auth ? { Authorization: auth } : {}),
        },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(Math.min(remaining, 15_000)), ctx.signal]),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      ctx.checkInterrupted();
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        return result({ ok: false, mode: 'D', message: `the receiver did not answer within ${Math.round(Math.min(remaining, 15_000) / 1000)} s` });
      }
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      return result({ ok: false, mode: 'D', message: `cannot reach the receiver at ${redact(target.origin)}: ${cause}` });
    }
    if (status >= 200 && status < 300) break;
    if (status === 403) {
      if (opts.retry403Ms && Date.now() - started < opts.retry403Ms) {
        await sleep(250, ctx.signal);
        continue;
      }
      return result({ ok: false, status, mode: 'B', message: 'the receiver rejected the token (403)' });
    }
    if (status >= 500 || status === 429) {
      if (attempts5xx++ < 2) {
        await sleep(500, ctx.signal);
        continue;
      }
      return result({ ok: false, status, mode: status === 502 || status === 504 ? 'D' : 'C', message: `the receiver answered ${status} three times` });
    }
    return result({ ok: false, status, message: `the receiver answered ${status} (Logplex drops a batch answered 4xx)` });
  }

  // The object must appear: the receiver writes it before answering, so this is quick.
  const s3 = await ctx.aws.s3();
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const bucket = ctx.config.drain.bucket;
  for (;;) {
    ctx.checkInterrupted();
    try {
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: branch(ctx.signal) });
      return result({ ok: true, status, key, message: `200, object in s3://${bucket}/${key}` });
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name !== 'NotFound' && e.$metadata?.httpStatusCode !== 404) throw awsError(err, 'S3', `HeadObject s3://${bucket}/${key}`, ctx.aws.endpointOf('S3'));
    }
    if (Date.now() >= deadline) {
      return result({ ok: false, status, mode: 'C', key, message: `the receiver answered ${status} but s3://${bucket}/${key} did not appear within ${Math.round(opts.timeoutMs / 1000)} s` });
    }
    await sleep(250, ctx.signal);
  }
}
