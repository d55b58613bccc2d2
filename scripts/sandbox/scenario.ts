// The sandbox: the drain's whole job, as an operator does it, against local stand-ins.
// moto_server plays AWS (S3, SSM, the receiver function's configuration), test/support's Heroku
// API plays Heroku, `raxx-ops receiver serve --from-lambda` plays the function behind its URL, and
// a Logplex-like sender posts router and web lines to whatever drains Heroku holds. Each step
// runs the CLI as an operator would and checks the outcome against the stand-ins' state.
//
// How a command runs is injected (CliRunner): `npm run sandbox` runs the built CLI as
// subprocesses (scripts/sandbox.ts); test/sandbox.test.ts runs it in-process.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { frame } from '@raxx/log-drain-receiver/logplex';
import { appPrefix, buildObjectKey, parseObjectKey } from '@raxx/log-drain-receiver/object-key';
import type { AwsClients } from '../../src/lib/aws.js';
import { loadConfig } from '../../src/lib/config.js';
import { createBucket, createReceiverFunction, fixtureClients, functionEnvironment, getDrainParameters, listKeys, putDrainParameters } from '../../test/support/aws-fixtures.js';
import { startHerokuApi } from '../../test/support/heroku-api.js';
import { sendBatch, startStream, type StreamBatchResult } from '../../test/support/logplex-sender.js';
import { startMoto } from '../../test/support/moto.js';
import { freePort, waitFor } from '../../test/support/stand-in.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Called with each line a command prints, as it comes (or, in-process, when it ends). */
export type LineSink = (stream: 'stdout' | 'stderr', line: string) => void;

export interface BackgroundCommand {
  /** Settles when the command ends, on its own or after stop(). */
  done: Promise<CommandResult>;
  /** Interrupt it as Ctrl-C would and wait for it to end. */
  stop(): Promise<CommandResult>;
}

/** How to run `raxx-ops ARGV` with the environment given and nothing of this machine's but PATH. */
export interface CliRunner {
  run(argv: string[], opts: { env: Record<string, string>; signal: AbortSignal; onLine: LineSink }): Promise<CommandResult>;
  start(argv: string[], opts: { env: Record<string, string>; onLine: LineSink }): BackgroundCommand;
}

export interface SandboxOptions {
  runner: CliRunner;
  /** Where the sandbox's own lines and the commands' output go. */
  print: (line: string) => void;
  /** Ctrl-C: stops the command running, then tears down. */
  signal?: AbortSignal;
  /** Where to keep the receiver's request log (one JSON line per batch); none when unset. */
  workDir?: string;
  /** `drains rotate --grace` (the real default, 15 s, is sized for Logplex's retries). */
  graceSeconds?: number;
  /** The bucket's history before the sandbox: one batch per app this often (default 10). */
  historyEveryMinutes?: number;
  /** Pause between two batches of one sender stream. */
  sendIntervalMs?: number;
  /** Longest a single command may take. */
  commandTimeoutMs?: number;
}

export interface StepOutcome {
  step: number;
  title: string;
  ok: boolean;
  ms: number;
}

export interface SandboxReport {
  steps: StepOutcome[];
  commands: number;
  /** The Logplex-like sender's own accounting. */
  sender: { batches: number; lines: number; attempts: number; status403: number; lost: number; duringRotation: { oldDrains: number; newDrains: number } };
  /** Requests the receiver logged, by HTTP status. */
  receiver: Record<string, number>;
  ms: number;
  /** Why it stopped early: a step that did not do what it should, or Ctrl-C. */
  failure?: { step: number; title: string; message: string; interrupted: boolean };
}

/** A step did not do what it should. */
class StepFailed extends Error {}
class Interrupted extends Error {}

const TITLES = [
  'stand-ins: moto_server (AWS) and the Heroku API, with the drain bucket, SSM parameters and receiver function',
  'the receiver: `raxx-ops receiver serve --from-lambda` in place of the function behind its URL',
  'wiring the log drains',
  'Logplex starts posting router and web lines to every app\'s drain',
  'checking the drain and searching the logs',
  'rotating the drain token while Logplex keeps posting',
  'tearing down',
] as const;

const FOREIGN_DRAIN = { app: 'raxx-console-prod', url: 'syslog+tls://logs7.papertrailapp.com:24816' };
const GREP = 'status=5\\d\\d';

export async function runSandbox(opts: SandboxOptions): Promise<SandboxReport> {
  const { runner, print } = opts;
  const signal = opts.signal ?? new AbortController().signal;
  const commandTimeoutMs = opts.commandTimeoutMs ?? 90_000;
  const started = Date.now();
  const report: SandboxReport = {
    steps: [],
    commands: 0,
    sender: { batches: 0, lines: 0, attempts: 0, status403: 0, lost: 0, duringRotation: { oldDrains: 0, newDrains: 0 } },
    receiver: {},
    ms: 0,
  };
  /** Everything printed, to make sure no secret is in it. */
  const transcript: string[] = [];
  const secrets = new Set<string>();
  const say = (line: string) => {
    transcript.push(line);
    print(line);
  };
  let step = 0;
  let stepStarted = Date.now();
  const begin = (n: number) => {
    if (signal.aborted) throw new Interrupted();
    if (step > 0) report.steps.push({ step, title: TITLES[step - 1]!, ok: true, ms: Date.now() - stepStarted });
    step = n;
    stepStarted = Date.now();
    say('');
    say(`== ${n}/${TITLES.length}  ${TITLES[n - 1]}`);
  };
  const fail = (message: string): never => {
    throw new StepFailed(message);
  };
  const pass = (what: string) => say(`  ✓ ${what}`);
  const check = (ok: boolean, what: string, otherwise: string) => (ok ? pass(what) : fail(otherwise));
  const note = (text: string) => say(`  · ${text}`);
  const show: LineSink = (stream, line) => say(`  ${stream === 'stdout' ? '│' : '┊'} ${line}`);

  // What to stop, in reverse order of starting; run by step 7, or on the way out of a failure.
  const running: { stopped: string; stop: () => Promise<void> }[] = [];
  const tearDown = async () => {
    for (let r = running.pop(); r; r = running.pop()) {
      await r.stop().then(
        () => note(r.stopped),
        (err: Error) => say(`  ! could not stop: ${r.stopped}: ${err.message}`),
      );
    }
  };

  let cliEnv: Record<string, string> = {};
  /** `raxx-ops ARGV`, echoed and shown as it runs; fails the step on another exit code. */
  const raxx = async (argv: string[]): Promise<CommandResult> => {
    if (signal.aborted) throw new Interrupted();
    say(`$ ${['raxx-ops', ...argv].map(shellQuote).join(' ')}`);
    report.commands++;
    const timeout = AbortSignal.timeout(commandTimeoutMs);
    const r = await runner.run(argv, { env: cliEnv, signal: AbortSignal.any([signal, timeout]), onLine: show });
    if (signal.aborted) throw new Interrupted();
    if (timeout.aborted) fail(`\`raxx-ops ${argv.join(' ')}\` did not finish within ${commandTimeoutMs / 1000} s`);
    if (r.code !== 0) fail(`\`raxx-ops ${argv.join(' ')}\` exited ${r.code}`);
    return r;
  };

  try {
    // ---------------------------------------------------------------------------------------
    begin(1);
    // The names `raxx-ops config show` prints: the CLI's own built-in configuration.
    const config = await loadConfig({ env: 'prod', processEnv: {} });
    const { apps, drain } = config;
    const moto = await startMoto();
    running.push({ stopped: 'stopped moto_server', stop: () => moto.stop() });
    note(`moto_server on ${moto.endpoint}`);
    const heroku = await startHerokuApi({ apps });
    running.push({ stopped: 'stopped the Heroku API stand-in', stop: () => heroku.stop() });
    secrets.add(heroku.token);
    heroku.addDrain(FOREIGN_DRAIN.app, FOREIGN_DRAIN.url);
    note(`Heroku API on ${heroku.url}: apps ${apps.join(', ')}; ${FOREIGN_DRAIN.app} already has a Papertrail drain`);

    const aws = fixtureClients(moto.env, config.region);
    running.push({ stopped: 'closed the AWS clients', stop: async () => aws.destroy() });
    const token = randomBytes(32).toString('hex');
    secrets.add(token);
    const port = await freePort();
    const receiverBase = `http://127.0.0.1:${port}/`;
    await createBucket(aws, drain.bucket);
    await putDrainParameters(aws, { prefix: drain.ssmPrefix, url: `${receiverBase}?token=${token}`, token });
    await createReceiverFunction(aws, moto.env, {
      functionName: drain.functionName,
      region: config.region,
      variables: { BUCKET_NAME: drain.bucket, DRAIN_TOKEN: token, KEY_PREFIX: drain.keyPrefix },
    });
    note(`bucket s3://${drain.bucket}; SSM ${drain.ssmPrefix}drain_url = ${receiverBase}?token=**** and ${drain.ssmPrefix}drain_token`);
    note(`function ${drain.functionName} with BUCKET_NAME, KEY_PREFIX and DRAIN_TOKEN`);
    cliEnv = { ...moto.env, HEROKU_API_KEY: heroku.token, HEROKU_API_URL: heroku.url };
    note(`every command runs with ${Object.entries(cliEnv).map(([k, v]) => `${k}=${/(KEY|SECRET)/.test(k) && k !== 'AWS_ACCESS_KEY_ID' ? '****' : v}`).join(' ')}`);

    // ---------------------------------------------------------------------------------------
    begin(2);
    const serveArgv = ['receiver', 'serve', '--port', String(port), '--from-lambda'];
    say(`$ ${['raxx-ops', ...serveArgv].join(' ')} &`);
    report.commands++;
    const receiver = runner.start(serveArgv, { env: cliEnv, onLine: (stream, line) => stream === 'stderr' && say(`  [receiver] ${line}`) });
    let served: CommandResult | undefined;
    void receiver.done.then((r) => (served = r));
    running.push({ stopped: 'stopped receiver serve (Ctrl-C)', stop: async () => void (await receiver.stop()) });
    await waitFor(async () => {
      if (served) throw new Error(`it exited ${served.code}`);
      return listening(port);
    }, 'receiver serve to listen').catch((err: Error) => fail(err.message));
    pass(`the receiver listens on ${receiverBase}`);

    // `logs status` judges yesterday and today: give the bucket the history a running drain
    // would have (a batch per app every 10 minutes since yesterday 00:00 UTC), as the receiver
    // stored it; without it, every app would be a newly wired one.
    const every = opts.historyEveryMinutes ?? 10;
    const history = await seedHistory(aws, drain.bucket, drain.keyPrefix, apps, every);
    check(history.failed === 0, `history: ${history.sent} earlier batches stored (a batch per app every ${every} minutes since ${history.since} UTC)`, `${history.failed} of ${history.sent} history batches were not stored`);

    // ---------------------------------------------------------------------------------------
    begin(3);
    const receiverDrains = (app: string) => heroku.drains(app).filter((d) => d.url.startsWith(receiverBase));
    const writesSince = (from: number) => heroku.calls.slice(from).filter((c) => c.method !== 'GET').length;

    await raxx(['config', 'show']);
    await raxx(['drains', 'list']);
    check(apps.every((a) => receiverDrains(a).length === 0), 'no app is wired yet', 'an app already had a receiver drain');

    let mark = heroku.calls.length;
    await raxx(['drains', 'wire', '--dry-run']);
    check(writesSince(mark) === 0, 'the dry run changed nothing', `the dry run made ${writesSince(mark)} changes at Heroku`);

    await raxx(['drains', 'wire']);
    const drainUrl = (await getDrainParameters(aws, drain.ssmPrefix)).url!;
    check(
      apps.every((a) => sameList(receiverDrains(a).map((d) => d.url), [`${drainUrl}&app=${a}`])),
      'every app has exactly its current drain (SSM drain_url + app=<app>)',
      'after `drains wire` an app does not have exactly its current drain',
    );
    check(heroku.drains(FOREIGN_DRAIN.app).some((d) => d.url === FOREIGN_DRAIN.url), 'the Papertrail drain is untouched', 'the foreign Papertrail drain was removed or changed');

    mark = heroku.calls.length;
    await raxx(['drains', 'wire']);
    check(writesSince(mark) === 0, 'the second `drains wire` had nothing to do', `the second \`drains wire\` made ${writesSince(mark)} changes at Heroku`);

    await raxx(['drains', 'list']);
    for (const a of apps) for (const d of heroku.drains(a)) secrets.add(d.token);

    // ---------------------------------------------------------------------------------------
    begin(4);
    // Logplex posts each app's lines to every HTTPS drain the app has at that moment (during a
    // rotation it has two; here the batches alternate between them). The Papertrail syslog
    // drain is not ours to play. Per app, one stream of router lines and one of web lines.
    const drainOf = (app: string) => {
      let turn = 0;
      let last = '';
      return () => {
        const urls = heroku.drains(app).map((d) => d.url).filter((u) => /^https?:/.test(u));
        if (urls.length > 0) last = urls[turn++ % urls.length]!;
        return last;
      };
    };
    const intervalMs = opts.sendIntervalMs ?? 250;
    const streams = apps.flatMap((app) => [
      { app, stream: startStream(drainOf(app), { intervalMs, linesPerBatch: 4, appName: 'heroku', procid: 'router', text: routerLine(app) }) },
      { app, stream: startStream(drainOf(app), { intervalMs, linesPerBatch: 3, procid: 'web.1', text: webLine }) },
    ]);
    const stopSending = async () => void (await Promise.all(streams.map((s) => s.stream.stop())));
    running.push({ stopped: 'stopped the Logplex sender', stop: stopSending });
    note(`${streams.length} streams (router and web.1 per app), each a batch every ${intervalMs} ms; some router lines are 5xx`);
    const results = () => streams.flatMap((s) => s.stream.results.map((r) => ({ app: s.app, r })));
    const fivexx = (app: string) =>
      results()
        .filter((x) => x.app === app && x.r.outcome === 'delivered')
        .reduce((n, x) => n + x.r.lines.filter((l) => /status=5\d\d/.test(l)).length, 0);
    await waitFor(async () => apps.every((a) => results().some((x) => x.app === a && x.r.outcome === 'delivered')) && fivexx(apps[0]!) >= 2, 'the first batches').catch(() =>
      fail(`the sender's first batches were not delivered: ${summarizeOutcomes(results().map((x) => x.r))}`),
    );
    pass(`every app delivers (${results().length} batches so far)`);

    // ---------------------------------------------------------------------------------------
    begin(5);
    await raxx(['drains', 'test']);
    await raxx(['logs', 'status']);
    const grepApp = apps[0]!;
    const grepArgs = ['logs', 'grep', GREP, '--app', grepApp, '--since', '1h'];
    const grepped = (await raxx(grepArgs)).stdout.split('\n').filter((l) => l !== '');
    check(grepped.every((l) => /status=5\d\d/.test(l)), `${grepped.length} lines of ${grepApp}, every one a 5xx`, 'logs grep printed a line that does not match');
    const before = fivexx(grepApp);
    const counted = (await raxx([...grepArgs, '-c'])).stdout.trim();
    const after = fivexx(grepApp);
    check(
      Number(counted) >= before && Number(counted) <= after,
      `logs grep -c: ${counted}, as many as the sender had delivered (${before === after ? before : `${before}-${after}`})`,
      `logs grep -c said ${JSON.stringify(counted)}, but the sender had delivered ${before}-${after} 5xx lines of ${grepApp}`,
    );

    // ---------------------------------------------------------------------------------------
    begin(6);
    const rotateStart = new Date();
    const rotated = await raxx(['drains', 'rotate', '--yes', '--grace', String(opts.graceSeconds ?? 3)]);
    const rotateEnd = new Date();
    check((rotated.stdout.match(/^step \d\/8 .*: done/gm) ?? []).length === 8, 'all 8 steps of the rotation done', 'not every step of the rotation says done');
    // A moment of sending with the new token alone, then stop and count.
    await new Promise((r) => setTimeout(r, 2 * intervalMs));
    await stopSending();
    const all = results().map((x) => x.r);
    const during = all.filter((r) => r.startedAt >= rotateStart && r.startedAt <= rotateEnd);
    const viaOld = during.filter((r) => new URL(r.url).searchParams.get('token') === token).length;
    report.sender = {
      batches: all.length,
      lines: all.reduce((n, r) => n + r.lines.length, 0),
      attempts: all.reduce((n, r) => n + r.attempts, 0),
      status403: all.filter((r) => r.history.some((a) => a.status === 403)).length,
      lost: all.filter((r) => r.outcome !== 'delivered').length,
      duringRotation: { oldDrains: viaOld, newDrains: during.length - viaOld },
    };
    const s = report.sender;
    note(`the sender's accounting: ${s.batches} batches (${s.lines} lines) in ${s.attempts} attempts; during the rotation ${viaOld} went through the old drains, ${during.length - viaOld} through the new ones`);
    check(s.status403 === 0, 'no batch was answered 403', `${s.status403} batches were answered 403 (Logplex drops those for good)`);
    check(s.lost === 0, 'none was lost: every batch was answered 200', `${s.lost} batches were not delivered: ${summarizeOutcomes(all)}`);
    const stored = new Set<string>();
    for (const a of apps) {
      for (const k of await listKeys(aws, drain.bucket, appPrefix(drain.keyPrefix, a))) {
        const id = parseObjectKey(k, drain.keyPrefix)?.id;
        if (id !== undefined) stored.add(id.toLowerCase());
      }
    }
    const missing = all.filter((r) => !stored.has(String(r.frameId).toLowerCase())).length;
    check(missing === 0, `every one of them is an object in s3://${drain.bucket}`, `${missing} delivered batches have no object in S3`);

    const fnEnv = await functionEnvironment(aws, drain.functionName);
    const next = fnEnv.DRAIN_TOKEN ?? '';
    secrets.add(next);
    const params = await getDrainParameters(aws, drain.ssmPrefix);
    check(
      next !== token && fnEnv.DRAIN_TOKEN_PREVIOUS === undefined && params.token === next && params.url === `${receiverBase}?token=${next}`,
      'the function, SSM drain_url and drain_token hold one new token; the function no longer has the old one',
      'the function and SSM do not agree on one new token',
    );
    await waitFor(
      async () => (await sendBatch(`${receiverBase}?token=${token}&app=${grepApp}`, [{ time: new Date(), procid: 'web.1', text: 'sent with the old token' }], { retries: 0 })).status === 403,
      'the old token to be refused',
      5000,
    ).catch(() => fail('the receiver still accepts the old token'));
    pass('a batch with the old token is refused now (403)');

    await raxx(['drains', 'list']);
    check(
      apps.every((a) => sameList(receiverDrains(a).map((d) => d.url), [`${receiverBase}?token=${next}&app=${a}`])),
      'every app has exactly its new drain; the old ones are gone',
      'after the rotation an app does not have exactly its new drain',
    );
    for (const a of apps) for (const d of heroku.drains(a)) secrets.add(d.token);

    // ---------------------------------------------------------------------------------------
    begin(7);
    await tearDown();
    const out = served ?? (await receiver.done);
    check(out.code === 0, 'receiver serve ended cleanly on Ctrl-C (exit 0)', `receiver serve exited ${out.code} on Ctrl-C`);
    report.receiver = countStatuses(out.stdout);
    note(`the receiver answered ${Object.entries(report.receiver).map(([st, n]) => `${n} × ${st}`).join(', ')} (403s: the old-token check, and rotate's probe until the receiver followed the function)`);
    if (opts.workDir) {
      await mkdir(opts.workDir, { recursive: true });
      await writeFile(join(opts.workDir, 'receiver.log'), out.stdout);
      note(`its request log: ${join(opts.workDir, 'receiver.log')}`);
    }
    const leaked = [...secrets].filter((v) => v.length >= 8 && [...transcript, out.stdout, out.stderr].some((t) => t.includes(v))).length;
    check(leaked === 0, 'no drain token, Heroku drain token or API key appears in any output', `${leaked} secret values appear in the output`);
    report.steps.push({ step, title: TITLES[step - 1]!, ok: true, ms: Date.now() - stepStarted });
  } catch (err) {
    // After Ctrl-C, whatever failed failed because the stand-ins were stopping.
    const interrupted = err instanceof Interrupted || signal.aborted;
    const title = TITLES[step - 1] ?? 'starting';
    report.steps.push({ step, title, ok: false, ms: Date.now() - stepStarted });
    report.failure = { step, title, message: interrupted ? 'interrupted' : ((err as Error).message ?? String(err)), interrupted };
    if (!interrupted) say(`  ✗ ${report.failure.message}`);
    if (running.length > 0) {
      say('');
      say('== tearing down');
    }
    await tearDown();
  }
  report.ms = Date.now() - started;
  return report;
}

/**
 * One batch per app every `minutes` from yesterday 00:00 UTC until a minute ago, written
 * straight into the bucket at the keys the receiver gave them when they arrived. Not posted
 * through the receiver now: it files a batch whose frames are hours old on today, flagged
 * clock-skew, as it should a replay.
 */
async function seedHistory(aws: AwsClients, bucket: string, keyPrefix: string, apps: string[], minutes: number): Promise<{ sent: number; failed: number; since: string }> {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const s3 = await aws.s3();
  const now = Date.now();
  const since = new Date(now);
  since.setUTCHours(0, 0, 0, 0);
  since.setUTCDate(since.getUTCDate() - 1);
  const jobs: (() => Promise<boolean>)[] = [];
  for (const app of apps) {
    const line = routerLine(app, false);
    for (let t = since.getTime(), b = 0; t < now - 60_000; t += minutes * 60_000, b++) {
      const body = frame([0, 1].map((l) => ({ pri: 158, version: 1, timestamp: new Date(t + l).toISOString(), host: 'host', appName: 'heroku', procid: 'router', msgid: '-', text: line(b, l) })));
      const key = buildObjectKey({ prefix: keyPrefix, app, epochMs: t, id: randomBytes(16).toString('hex').toUpperCase() });
      jobs.push(() =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(body), ContentType: 'application/gzip' })).then(
          () => true,
          () => false,
        ),
      );
    }
  }
  const sent = jobs.length;
  let failed = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) if (!(await job())) failed++;
    }),
  );
  return { sent, failed, since: since.toISOString().slice(0, 16).replace('T', ' ') };
}

const PATHS = ['/v1/accounts/me', '/v1/sessions', '/v1/velvet/feed', '/v1/payments', '/healthz'];

/** Heroku router lines; with `errors`, about one in eight is a 5xx (H12 timeouts and 500s). */
function routerLine(app: string, errors = true) {
  return (batch: number, line: number): string => {
    const n = batch * 4 + line;
    const path = PATHS[n % PATHS.length]!;
    const method = path === '/v1/sessions' || path === '/v1/payments' ? 'POST' : 'GET';
    const common = `method=${method} path="${path}" host=${app}.herokuapp.com request_id=${requestId(app, n)} fwd="203.0.113.${(n * 37) % 250}" dyno=web.${1 + (n % 2)}`;
    if (errors && n % 11 === 3) return `at=error code=H12 desc="Request timeout" ${common} connect=1ms service=30000ms status=503 bytes=0 protocol=https`;
    if (errors && n % 31 === 7) return `at=info ${common} connect=0ms service=${40 + (n % 50)}ms status=500 bytes=213 protocol=https`;
    return `at=info ${common} connect=0ms service=${8 + ((n * 11) % 90)}ms status=${n % 5 === 0 ? 304 : 200} bytes=${900 + ((n * 53) % 4000)} protocol=https`;
  };
}

function webLine(batch: number, line: number): string {
  const n = batch * 3 + line;
  const path = PATHS[n % PATHS.length]!;
  return line === 0 ? `Started GET "${path}" for 203.0.113.${(n * 37) % 250}` : line === 1 ? `Processing by ApiController#show as JSON` : `Completed 200 OK in ${5 + ((n * 7) % 60)}ms (ActiveRecord: ${1 + (n % 9)}.${n % 10}ms)`;
}

function requestId(app: string, n: number): string {
  const hex = Buffer.from(`${app}:${n}`).toString('hex').padEnd(32, '0').slice(-32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Whether something accepts connections on the loopback port (no request is sent). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function countStatuses(requestLog: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of requestLog.split('\n')) {
    if (!line.startsWith('{')) continue;
    const status = String((JSON.parse(line) as { status?: number }).status ?? '?');
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

function summarizeOutcomes(results: StreamBatchResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const k = `${r.outcome}${r.status ? ` ${r.status}` : ''}${r.error ? ` ${r.error}` : ''}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'none sent';
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function shellQuote(arg: string): string {
  return /^[\w./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
