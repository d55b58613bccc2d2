// The log-drain runbook's "How to diagnose (in order)": drains, SSM parameters, the token the
// function holds, the function's log group, the freshness of each app's objects, and the
// synthetic batch of `drains test`. Each check reads through Facts, so what two checks need
// (the SSM settings, the drain lists) is fetched once while the checks run in parallel.
import { createHash } from 'node:crypto';
import { DRAIN_AUTH_FAILED as AUTH_FAILED, DRAIN_CLOCK_SKEW as CLOCK_SKEW, DRAIN_MISCONFIGURED as MISCONFIGURED, DRAIN_WRITE_FAILED as WRITE_FAILED, LAMBDA_TASK_TIMED_OUT as TASK_TIMED_OUT } from '@raxx/log-format/log-phrases';
import { DEFAULT_KEY_PREFIX, normalizePrefix } from '@raxx/log-format/object-key';
import type { Context } from '../run/context.js';
import type { ResolvedUrl } from '../postgres/connect.js';
import { AwsCredentialsError, awsError } from '../aws/clients.js';
import { ssmNames } from '../core/config.js';
import { readDrainSettings, type DrainSettings } from '../drains/settings.js';
import { FAILURE_MODES, probeDrain } from '../drains/probe.js';
import { classifyDrains, desiredDrainUrl, tokenOfUrl, type ClassifiedDrain } from '../drains/plan.js';
import { ConfigError, UserError } from '../core/errors.js';
import { branch } from '../core/abort.js';
import { LogStore, type LogObject } from '../logs/store.js';
import { redact } from '../core/secrets.js';
import { getReceiverFunction, type ReceiverFunctionState } from '../drains/receiver-function.js';
import { DAY_MS, iso, startOfDay } from '../core/time-window.js';
import { fail, pass, warn, type Finding } from './report.js';

export interface DoctorOptions {
  apps: string[];
  /** Start of the log-group window (epoch ms). */
  since: number;
  sendTest: boolean;
  /** Seconds `--send-test` waits for each app's answer and object. */
  testTimeout: number;
  /** The database owner's URL for the audit checks (flag, environment, or the API app's config var). */
  ownerUrl: () => Promise<ResolvedUrl>;
}

/** A check could not run because what it needs is another check's subject, and broken. */
export class NeedsCheck extends Error {
  constructor(
    readonly check: string,
    readonly what: string,
    cause: unknown,
  ) {
    super(`${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** What several checks need, fetched once on first use. */
export class Facts {
  private memo = new Map<string, Promise<unknown>>();
  constructor(
    readonly ctx: Context,
    readonly opts: DoctorOptions,
  ) {}

  private once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = make();
      p.catch(() => undefined);
      this.memo.set(key, p);
    }
    return p;
  }

  settings(): Promise<DrainSettings> {
    // A missing or unreadable parameter is the ssm check's finding; the checks that need it point there.
    return this.once('settings', () =>
      readDrainSettings(this.ctx).catch((err: unknown) => {
        throw err instanceof ConfigError && !(err instanceof AwsCredentialsError) ? new NeedsCheck('ssm', 'the SSM drain settings', err) : err;
      }),
    );
  }

  receiver(): Promise<ReceiverFunctionState> {
    return this.once('function', () => getReceiverFunction(this.ctx));
  }

  /** Each app's drains, classified against its desired URL (one Heroku GET per app). */
  drains(): Promise<Map<string, ClassifiedDrain[]>> {
    return this.once('drains', async () => {
      const [heroku, settings] = await Promise.all([this.ctx.heroku(), this.settings()]);
      const lists = await Promise.all(this.opts.apps.map(async (app) => [app, classifyDrains(await heroku.listDrains(app), desiredDrainUrl(settings.url, app))] as const));
      return new Map(lists);
    });
  }

  store(): Promise<LogStore> {
    return this.once('store', () => Promise.resolve(new LogStore({ s3: () => this.ctx.aws.s3(), target: () => this.ctx.aws.s3Target(), bucket: this.ctx.config.drain.bucket, keyPrefix: this.ctx.config.drain.keyPrefix, endpoint: this.ctx.aws.endpointOf('S3') })));
  }
}


/** 1. Every app has its current drain (A); drains with an old token point to B. */
export async function checkDrains(f: Facts): Promise<Finding[]> {
  const lists = await f.drains();
  const out: Finding[] = [];
  // Wiring one app from SSM fixes it only while the function accepts SSM's token; otherwise
  // (a token changed by hand) that drain would be refused too, and rotate repairs the whole.
  const ssmAccepted = await Promise.all([f.settings(), f.receiver()]).then(
    ([settings, fn]) => [fn.variables.DRAIN_TOKEN, fn.variables.DRAIN_TOKEN_PREVIOUS].some((t) => same(tokenOfUrl(settings.url), t)),
    () => true,
  );
  for (const [app, drains] of lists) {
    const current = drains.find((d) => d.class === 'current');
    const oldToken = drains.filter((d) => d.class === 'stale' && d.reason === 'other token');
    const otherStale = drains.filter((d) => d.class === 'stale' && d.reason !== 'other token');
    if (!current && oldToken.length > 0) {
      out.push(fail(`${app}: no current drain; ${oldToken.length} drain(s) to the receiver with an old token (every batch answered 403)`, ssmAccepted ? `raxx-ops drains wire --prune --app ${app}` : 'raxx-ops drains rotate', 'B'));
    } else if (!current) {
      out.push(fail(`${app}: no drain to the receiver`, `raxx-ops drains wire --app ${app}`, 'A'));
    } else {
      out.push(pass(`${app}: current drain ${current.drain.id} (created ${current.drain.created_at})`));
      if (oldToken.length > 0) out.push(warn(`${app}: also ${oldToken.length} drain(s) with an old token: their batches are rejected (403)`, `raxx-ops drains remove --stale --app ${app}`, 'B'));
    }
    if (otherStale.length > 0) out.push(warn(`${app}: ${otherStale.length} stale drain(s) (${otherStale.map((d) => d.reason).join(', ')})`, `raxx-ops drains remove --stale --app ${app}`));
  }
  return out;
}

/** 2. The SSM parameters Terraform publishes exist (names and types only; values never read here). */
export async function checkParameters(f: Facts): Promise<Finding[]> {
  const { ctx } = f;
  const names = ssmNames(ctx.config);
  const wanted = [names.bucketName, names.bucketArn, names.drainToken, names.drainUrl];
  const ssm = await ctx.aws.ssm();
  const { DescribeParametersCommand } = await import('@aws-sdk/client-ssm');
  let found: Map<string, string | undefined>;
  try {
    const res = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: wanted }] }), { abortSignal: branch(ctx.signal) });
    found = new Map((res.Parameters ?? []).map((p) => [p.Name ?? '', p.Type]));
  } catch (err) {
    throw awsError(err, 'SSM', 'DescribeParameters', ctx.aws.endpointOf('SSM'));
  }
  return wanted.map((name) => {
    const type = found.get(name);
    if (!found.has(name)) {
      const mode = name === names.drainUrl ? 'A' : undefined;
      return fail(`${name} is missing`, `re-apply the drain's Terraform (it creates ${name}); check --region and drain.ssmPrefix (\`raxx-ops config show\`)`, mode);
    }
    if ((name === names.drainToken || name === names.drainUrl) && type !== 'SecureString') {
      return warn(`${name} exists but is a ${type ?? 'plain'} parameter, not SecureString`, `re-create it as SecureString (the drain's Terraform does)`);
    }
    return pass(`${name} exists (${type})`);
  });
}

const digest = (s: string | undefined) => (s === undefined ? undefined : createHash('sha256').update(s).digest());
const same = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && digest(a)!.equals(digest(b)!);

/** 3. The function's DRAIN_TOKEN is SSM drain_token, and drain_url carries it (by digest; nothing printed). */
export async function checkToken(f: Facts): Promise<Finding[]> {
  const [settings, fn] = await Promise.all([f.settings(), f.receiver()]);
  const out: Finding[] = [];
  const current = fn.variables.DRAIN_TOKEN;
  const previous = fn.variables.DRAIN_TOKEN_PREVIOUS;
  // rotate repairs every mix of these (it reads what the drains carry and accepts it again at once).
  const rotate = 'raxx-ops drains rotate';
  const urlToken = tokenOfUrl(settings.url);
  if (!current) out.push(fail(`the function ${f.ctx.config.drain.functionName} has no DRAIN_TOKEN: it answers every batch 500`, rotate, 'B'));
  else if (same(current, settings.token)) out.push(pass('the function\'s DRAIN_TOKEN matches SSM drain_token (compared by SHA-256 digest)'));
  else if (same(previous, settings.token)) out.push(warn('SSM drain_token is the function\'s DRAIN_TOKEN_PREVIOUS: a rotation stopped half-way', rotate, 'B'));
  else out.push(fail('the function\'s DRAIN_TOKEN differs from SSM drain_token (compared by SHA-256 digest): drains wired from SSM are rejected with 403', rotate, 'B'));

  if (!same(urlToken, settings.token)) out.push(fail('SSM drain_url carries another token than SSM drain_token', rotate, 'B'));
  if (previous && !same(previous, settings.token)) out.push(warn('the function still accepts DRAIN_TOKEN_PREVIOUS (a rotation window is open)', `finish it: ${rotate}`));
  return out;
}

/** 3b. The function writes where everything else reads: BUCKET_NAME is the drain bucket, KEY_PREFIX the key prefix. */
export async function checkFunction(f: Facts): Promise<Finding[]> {
  const fn = await f.receiver();
  const { bucket, keyPrefix, functionName } = f.ctx.config.drain;
  const terraform = "set it in the drain's Terraform (the function's environment), then apply";
  const out: Finding[] = [];
  const target = fn.variables.BUCKET_NAME;
  if (!target) out.push(fail(`the function ${functionName} has no BUCKET_NAME: it answers every batch 500`, `BUCKET_NAME=${bucket}: ${terraform}`, 'C'));
  else if (target !== bucket) out.push(fail(`the function ${functionName} writes to BUCKET_NAME=${target}, not ${bucket}: batches land where logs grep, audit smoke and this check never look`, `BUCKET_NAME=${bucket}: ${terraform} (or correct drain.bucket in the config if ${target} is the real one)`, 'C'));
  else out.push(pass(`the function writes to ${bucket}`));
  // As the receiver reads it: unset is its default, a missing trailing slash is added.
  const prefix = normalizePrefix(fn.variables.KEY_PREFIX ?? DEFAULT_KEY_PREFIX);
  if (prefix !== keyPrefix) out.push(fail(`the function writes under KEY_PREFIX=${prefix || '(empty)'}, not ${keyPrefix}`, `KEY_PREFIX=${keyPrefix}: ${terraform}`, 'C'));
  return out;
}

export interface LogCounts {
  authFailed: number;
  writeFailed: Record<string, number>;
  timedOut: number;
  clockSkew: number;
  misconfigured: number;
  otherErrors: number;
  /** A listing stopped at the page limit: the counts are lower bounds. */
  capped: boolean;
}

/** Pages of FilterLogEvents per phrase: a storm of errors is reported as "at least". */
const MAX_PAGES = 5;

/** 4. The function's log group over --since: the receiver's failure phrases, counted. */
export async function checkLogGroup(f: Facts): Promise<{ findings: Finding[]; data: LogCounts }> {
  const { ctx, opts } = f;
  const logs = await ctx.aws.logs();
  const { paginateFilterLogEvents } = await import('@aws-sdk/client-cloudwatch-logs');
  const group = ctx.config.drain.logGroup;
  const end = ctx.now().getTime();
  type Line = { message: string; timestamp: number; eventId: string };
  let capped = false;
  // One query per phrase, in parallel: a quoted term is the one filter syntax every
  // CloudWatch (and its stand-in) agrees on.
  async function matching(term: string): Promise<Line[]> {
    const lines: Line[] = [];
    let pages = 0;
    try {
      for await (const res of paginateFilterLogEvents({ client: logs }, { logGroupName: group, startTime: opts.since, endTime: end, filterPattern: term, limit: 1000 }, { abortSignal: branch(ctx.signal) })) {
        for (const e of res.events ?? []) lines.push({ message: e.message ?? '', timestamp: e.timestamp ?? 0, eventId: e.eventId ?? `${e.timestamp}-${lines.length}` });
        if (++pages === MAX_PAGES) {
          if (res.nextToken) capped = true;
          break;
        }
      }
    } catch (err) {
      if ((err as { name?: string }).name === 'ResourceNotFoundException') throw new LogGroupMissing(group);
      throw awsError(err, 'CloudWatch Logs', `FilterLogEvents ${group}`, ctx.aws.endpointOf('CLOUDWATCH_LOGS'));
    }
    return lines;
  }
  let auth: Line[], write: Line[], timeout: Line[], skew: Line[], broken: Line[], errors: Line[];
  try {
    [auth, write, timeout, skew, broken, errors] = (await Promise.all([`"${AUTH_FAILED}"`, `"${WRITE_FAILED}"`, `"${TASK_TIMED_OUT}"`, `"${CLOCK_SKEW}"`, `"${MISCONFIGURED}"`, 'ERROR'].map(matching))) as [Line[], Line[], Line[], Line[], Line[], Line[]];
  } catch (err) {
    if (err instanceof LogGroupMissing) {
      return { findings: [fail(`the log group ${group} does not exist: the function has never run, or drain.logGroup is wrong`, 'check drain.functionName and drain.logGroup (`raxx-ops config show`); deploy the receiver with its Terraform')], data: { authFailed: 0, writeFailed: {}, timedOut: 0, clockSkew: 0, misconfigured: 0, otherErrors: 0, capped: false } };
    }
    throw err;
  }
  const known = new Set([...auth, ...write, ...timeout, ...skew, ...broken].map((l) => l.eventId));
  const phrases = [AUTH_FAILED, WRITE_FAILED, TASK_TIMED_OUT, CLOCK_SKEW, MISCONFIGURED];
  const other = errors.filter((l) => !known.has(l.eventId) && !phrases.some((p) => l.message.includes(p)));
  const writeCodes: Record<string, number> = {};
  for (const l of write) {
    const code = new RegExp(`${WRITE_FAILED}: ([A-Za-z0-9_.-]+)`).exec(l.message)?.[1] ?? 'unknown';
    writeCodes[code] = (writeCodes[code] ?? 0) + 1;
  }
  const window = `in the last ${Math.round((end - opts.since) / 60_000)} min`;
  const atLeast = capped ? 'at least ' : '';
  const newest = (lines: Line[]) => {
    const l = lines.reduce<Line | undefined>((a, b) => (!a || b.timestamp > a.timestamp ? b : a), undefined);
    return l ? `; newest: ${redact(l.message.trim()).slice(0, 240)}` : '';
  };
  const findings: Finding[] = [];
  if (auth.length > 0) findings.push(fail(`${atLeast}${auth.length} "${AUTH_FAILED}" ${window}${newest(auth)}`, 'a drain sends a token the function refuses: `raxx-ops drains rotate` repairs any mismatch; `raxx-ops drains list` shows which drain (one app left on an old token while SSM is right: `raxx-ops drains wire --prune --app A`)', 'B'));
  if (write.length > 0) {
    const codes = Object.entries(writeCodes).map(([c, n]) => `${c} ×${n}`).join(', ');
    const fix = writeCodes.NoSuchBucket
      ? `the bucket ${ctx.config.drain.bucket} is gone or the function's BUCKET_NAME is wrong: re-create it with the drain's Terraform`
      : writeCodes.AccessDenied
        ? `the function's role may not write to ${ctx.config.drain.bucket} (or use its KMS key): re-apply the drain's Terraform (role policy s3:PutObject)`
        : FAILURE_MODES.C.fix;
    findings.push(fail(`${atLeast}${write.length} "${WRITE_FAILED}" ${window} (${codes})${newest(write)}`, fix, 'C'));
  }
  if (broken.length > 0) findings.push(fail(`${atLeast}${broken.length} "${MISCONFIGURED}" ${window}: the function answers every batch 500${newest(broken)}`, "fix the function's environment (BUCKET_NAME, DRAIN_TOKEN) with the drain's Terraform; `raxx-ops drains rotate` sets a new DRAIN_TOKEN", 'C'));
  if (timeout.length > 0) findings.push(fail(`${atLeast}${timeout.length} "${TASK_TIMED_OUT}" ${window}${newest(timeout)}`, 'raise the function timeout (runbook: 15 s) and check S3 latency; `raxx-ops drains test` measures a round trip', 'D'));
  if (skew.length > 0) findings.push(warn(`${atLeast}${skew.length} "${CLOCK_SKEW}" ${window}: batches with implausible times were filed on their arrival day${newest(skew)}`, 'nothing is lost; find the app whose dyno clock or replayed logs are off'));
  if (other.length > 0) findings.push(warn(`${atLeast}${other.length} other error line(s) ${window}${newest(other)}`, `read them: \`aws logs tail ${group} --since ${Math.round((end - opts.since) / 60_000)}m\``));
  if (findings.length === 0) findings.push(pass(`no failure lines ${window} in ${group}`));
  return { findings, data: { authFailed: auth.length, writeFailed: writeCodes, timedOut: timeout.length, clockSkew: skew.length, misconfigured: broken.length, otherErrors: other.length, capped } };
}

class LogGroupMissing extends Error {
  constructor(group: string) {
    super(`log group ${group} not found`);
  }
}

/** 5. Each app's newest object against the `logs status` thresholds (listing only, newest first). */
export async function checkFreshness(f: Facts): Promise<{ findings: Finding[]; data: Record<string, string | null> }> {
  const { ctx, opts } = f;
  const store = await f.store();
  const now = ctx.now().getTime();
  const { warnSilentMinutes: warnMin, criticalSilentMinutes: critMin } = ctx.config.health;
  // Drains tell a newly wired app from a silent one; without them (no Heroku token) go on.
  const drainsP = f.drains().catch(() => undefined);
  const newestBy: Record<string, string | null> = {};
  const findings = await Promise.all(
    opts.apps.map(async (app): Promise<Finding> => {
      const newest = await newestObject(store, app, now, [warnMin, critMin], ctx.signal);
      newestBy[app] = newest ? iso(newest.time) : null;
      const silent = newest ? Math.floor((now - newest.time) / 60_000) : undefined;
      if (silent !== undefined && silent <= warnMin) return pass(`${app}: newest object ${silent} min ago`);
      if (silent !== undefined && silent <= critMin) return warn(`${app}: newest object ${silent} min ago (> ${warnMin} min)`, `raxx-ops drains test --app ${app}`);
      const current = (await drainsP)?.get(app)?.find((d) => d.class === 'current');
      const wiredAt = current ? Date.parse(current.drain.created_at) : NaN;
      // Newly wired: its drain is from today and nothing has ever arrived (an object before the
      // drain means it delivered before, e.g. until a rotation re-created the drains).
      if (!newest && !Number.isNaN(wiredAt) && wiredAt >= startOfDay(now)) {
        return warn(`${app}: newly wired at ${iso(wiredAt)}; no object since`, `raxx-ops drains test --app ${app}`);
      }
      const what = newest ? `silent ${silent} min (newest object ${iso(newest.time)}, > ${critMin} min)` : 'no object in the last 24 h';
      return fail(`${app}: ${what}`, `the other checks name the failure mode; \`raxx-ops drains test --app ${app}\` sends a batch end to end`);
    }),
  );
  return { findings, data: newestBy };
}

/**
 * The newest object of an app in the last 24 h, listing the most recent slice first: the
 * last `warn` minutes, then up to `critical`, then hour by hour. A busy app costs a page or
 * two; a silent one a handful of empty listings.
 */
async function newestObject(store: LogStore, app: string, now: number, [warnMin, critMin]: [number, number], signal: AbortSignal): Promise<LogObject | undefined> {
  const edges = [now + 5 * 60_000, now - warnMin * 60_000, now - critMin * 60_000];
  for (let t = edges[2]! - 3_600_000; t > now - DAY_MS; t -= 3_600_000) edges.push(t);
  edges.push(now - DAY_MS);
  for (let i = 1; i < edges.length; i++) {
    let last: LogObject | undefined;
    for await (const o of store.list(app, { start: edges[i]!, end: edges[i - 1]! }, signal)) last = o;
    if (last) return last;
  }
  return undefined;
}

/** 9. `--send-test`: the synthetic batch of `drains test` to each app's current drain. */
export async function checkSendTest(f: Facts): Promise<Finding[]> {
  const lists = await f.drains();
  return Promise.all(
    [...lists].map(async ([app, drains]) => {
      const current = drains.find((d) => d.class === 'current');
      if (!current) return fail(`${app}: not tested, no current drain`, `raxx-ops drains wire --app ${app}`, 'A');
      const r = await probeDrain(f.ctx, { app, url: current.drain.url, drainToken: current.drain.token, timeoutMs: f.opts.testTimeout * 1000 });
      if (r.ok) return pass(`${app}: ${r.message} (${r.ms} ms)`);
      return fail(`${app}: ${r.message}${r.mode ? ` (${FAILURE_MODES[r.mode].what})` : ''}`, r.mode ? FAILURE_MODES[r.mode].fix.replace('<app>', app) : `raxx-ops drains test --app ${app}`, r.mode);
    }),
  );
}

/** A check that could not run says why, with the error's own hint as the fix. */
export function couldNotCheck(err: unknown): Finding {
  const hint = err instanceof UserError ? err.hint : undefined;
  return fail(`could not check: ${redact((err as Error)?.message ?? String(err))}`, hint ?? 'rerun with --debug');
}

