// The sandbox: every runbook, as an operator does it, against local stand-ins. moto_server
// plays AWS (S3, SSM, KMS, IAM, CloudWatch Logs, the receiver function's configuration),
// provisioned as the runbooks' Terraform leaves it (test/support/doctor-stack.ts); a throwaway
// PostgreSQL cluster holds the audit schema; test/support's Heroku API plays Heroku;
// `raxx-ops receiver serve --from-lambda` plays the function behind its URL; a Logplex-like
// sender posts router and web lines to whatever drains Heroku holds, and a forwarder posts the
// database's log lines as Heroku's Postgres add-on does. Each step runs the CLI as an operator
// would and checks the outcome against the stand-ins' state.
//
// How a command runs is injected (CliRunner): `npm run sandbox` runs the built CLI as
// subprocesses (scripts/sandbox.ts); test/sandbox.test.ts runs it in-process.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { compactedKeys } from '@raxx/log-format/compacted';
import { frame } from '@raxx/log-format/logplex';
import { appPrefix, buildObjectKey, parseObjectKey } from '@raxx/log-format/object-key';
import type { AwsClients } from '../../src/lib/aws/clients.js';
import { loadConfig } from '../../src/lib/core/config.js';
import { fixtureClients, functionEnvironment, getDrainParameters, listKeys, setFunctionEnvironment } from '../../test/support/aws-fixtures.js';
import { runbookSchema } from '../../test/support/audit-schema.js';
import { provisionInfrastructure, STACK } from '../../test/support/doctor-stack.js';
import { startHerokuApi } from '../../test/support/heroku-api.js';
import { startInfisicalApi } from '../../test/support/infisical-api.js';
import { sendBatch, startStream, type StreamBatchResult } from '../../test/support/logplex-sender.js';
import { startMoto } from '../../test/support/moto.js';
import { startPgForwarder } from '../../test/support/pg-forwarder.js';
import { startPostgres } from '../../test/support/postgres.js';
import { freePort, waitFor } from '../../test/support/stand-in.js';
import { authRows, startSupabase } from '../../test/support/supabase-api.js';

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
  /** Run only this step of the tour (and the set-up it needs): one of TOUR_STEPS. */
  only?: string;
  /**
   * Leave the stack up: called once the tour is done, with the environment to use raxx-ops
   * against it; tearing down waits until it resolves (or the signal aborts).
   */
  keep?: (env: Record<string, string>) => Promise<void>;
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

/** The tour's steps in order; the ones marked `setup` run whatever --only says. */
const STEPS = [
  { id: 'stand-ins', setup: true, title: 'stand-ins: moto_server (AWS) provisioned as the runbooks\' Terraform would, PostgreSQL with the audit schema, the Heroku API' },
  { id: 'receiver', setup: true, title: 'the receiver: `raxx-ops receiver serve --from-lambda` in place of the function behind its URL' },
  { id: 'wire', setup: true, title: 'log drain runbook: wiring the log drains' },
  { id: 'traffic', setup: true, title: 'Logplex starts posting router and web lines to every app\'s drain; the database\'s log follows' },
  { id: 'check', setup: false, title: 'log drain runbook: testing the drain, searching the logs, their status' },
  { id: 'audit', setup: false, title: 'audit runbook: the DML audit trail end to end (audit smoke)' },
  { id: 'restore', setup: false, title: 'attachments runbook: a deleted attachment restored' },
  { id: 'rotate-access-key', setup: false, title: 'attachments runbook: the backend\'s IAM access key rotated (exfiltration steps 2 and 3)' },
  { id: 'ship', setup: false, title: 'log shipping runbook: a week of log files, then Supabase\'s Auth logs, shipped, redacted and verified; the status page' },
  { id: 'query', setup: false, title: 'months of logs: compacting a day and querying it with SQL' },
  { id: 'rotate', setup: false, title: 'log drain runbook: rotating the drain token while Logplex keeps posting' },
  { id: 'doctor', setup: false, title: 'diagnosis: doctor on the healthy stack, then one fault injected and named' },
  { id: 'teardown', setup: true, title: 'tearing down' },
] as const;
export type TourStep = (typeof STEPS)[number]['id'];
/** What `--only` accepts. */
export const TOUR_STEPS: string[] = STEPS.filter((s) => !s.setup).map((s) => s.id);

/** The audit runbook's schema (roles, *_history tables and triggers, grants), derived from its text. */
const AUDIT_SCHEMA = runbookSchema().sql;
/** The log-shipping source the tour ships (declared in the configuration file it writes). */
const SOURCE = 'auth';
/** The runbook's own source: a project's Auth logs, pulled from the Management API (its stand-in). */
const SUPABASE_SOURCE = 'supabase-auth';
const SUPPORT_HOLDERS = ['raxx-api-prod', 'raxx-console-prod'];
const VAULT_PATH = '/MooseQuest/aws/support-attachments/';
const STAGING_APP = 'raxx-api-staging';

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
  if (opts.only !== undefined && !TOUR_STEPS.includes(opts.only)) throw new Error(`no tour step "${opts.only}": one of ${TOUR_STEPS.join(', ')}`);
  const planned = STEPS.filter((s) => s.setup || opts.only === undefined || s.id === opts.only);
  const TITLES = planned.map((s) => s.title);
  const wanted = (id: TourStep) => planned.some((s) => s.id === id);
  let step = 0;
  let stepStarted = Date.now();
  const begin = (id: TourStep) => {
    // Tearing down after --keep is what Ctrl-C asks for, not an interruption.
    if (signal.aborted && !(id === 'teardown' && opts.keep)) throw new Interrupted();
    if (step > 0) report.steps.push({ step, title: TITLES[step - 1]!, ok: true, ms: Date.now() - stepStarted });
    step = planned.findIndex((s) => s.id === id) + 1;
    stepStarted = Date.now();
    say('');
    say(`== ${step}/${TITLES.length}  ${TITLES[step - 1]}`);
  };
  const fail = (message: string): never => {
    throw new StepFailed(message);
  };
  /** Between the parts of a long step: Ctrl-C goes straight to tearing down. */
  const checkpoint = () => {
    if (signal.aborted) throw new Interrupted();
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
  /** The shipping status page, once the ship step has opened it (printed again with --keep). */
  let dashboardUrl: string | undefined;
  /** --keep: the operator had the stack and asked for the tear-down; Ctrl-C then is no interruption. */
  let handedOver = false;
  /** `raxx-ops ARGV`, echoed and shown as it runs; fails the step on another exit code than `code`. */
  const raxx = async (argv: string[], code = 0): Promise<CommandResult> => {
    if (signal.aborted) throw new Interrupted();
    say(`$ ${['raxx-ops', ...argv].map(shellQuote).join(' ')}`);
    report.commands++;
    const timeout = AbortSignal.timeout(commandTimeoutMs);
    const r = await runner.run(argv, { env: cliEnv, signal: AbortSignal.any([signal, timeout]), onLine: show });
    if (signal.aborted) throw new Interrupted();
    if (timeout.aborted) fail(`\`raxx-ops ${argv.join(' ')}\` did not finish within ${commandTimeoutMs / 1000} s`);
    if (r.code !== code) fail(`\`raxx-ops ${argv.join(' ')}\` exited ${r.code}${code === 0 ? '' : `, not ${code}`}`);
    return r;
  };

  try {
    // ---------------------------------------------------------------------------------------
    begin('stand-ins');
    // The names `raxx-ops config show` prints: the CLI's own built-in configuration.
    const config = await loadConfig({ env: 'prod', processEnv: {} });
    const { apps, drain } = config;
    // moto and PostgreSQL start side by side (each about a second); whatever started is stopped.
    const [motoStarted, pgStarted] = await Promise.allSettled([startMoto(), startPostgres()]);
    if (motoStarted.status === 'fulfilled') running.push({ stopped: 'stopped moto_server', stop: () => motoStarted.value.stop() });
    if (pgStarted.status === 'fulfilled') running.push({ stopped: 'stopped PostgreSQL and removed its cluster', stop: () => pgStarted.value.stop() });
    if (motoStarted.status === 'rejected') fail(`moto_server did not start: ${(motoStarted.reason as Error).message}`);
    if (pgStarted.status === 'rejected') fail(`PostgreSQL did not start: ${(pgStarted.reason as Error).message}`);
    const moto = (motoStarted as PromiseFulfilledResult<Awaited<ReturnType<typeof startMoto>>>).value;
    const pgCluster = (pgStarted as PromiseFulfilledResult<Awaited<ReturnType<typeof startPostgres>>>).value;
    note(`moto_server on ${moto.endpoint}; PostgreSQL 15 on 127.0.0.1:${pgCluster.port}, logging to ${pgCluster.logFile}`);
    checkpoint();
    const heroku = await startHerokuApi({ apps });
    running.push({ stopped: 'stopped the Heroku API stand-in', stop: () => heroku.stop() });
    secrets.add(heroku.token);
    heroku.addDrain(FOREIGN_DRAIN.app, FOREIGN_DRAIN.url);
    note(`Heroku API on ${heroku.url}: apps ${apps.join(', ')}; ${FOREIGN_DRAIN.app} already has a Papertrail drain`);

    const aws = fixtureClients(moto.env, config.region);
    running.push({ stopped: 'closed the AWS clients', stop: () => Promise.resolve(aws.destroy()) });
    const token = randomBytes(32).toString('hex');
    secrets.add(token);
    const port = await freePort();
    const receiverBase = `http://127.0.0.1:${port}/`;
    // What the runbooks' Terraform leaves (the same provisioning the doctor tests start from).
    checkpoint();
    const infra = await provisionInfrastructure(aws, moto.env, { drainUrl: `${receiverBase}?token=${token}`, drainToken: token });
    note(`drain bucket s3://${drain.bucket}: versioned, encrypted, public access blocked, lifecycle 90 d → STANDARD_IA, expire 365 d`);
    note(`SSM ${drain.ssmPrefix}{bucket_name,bucket_arn,drain_url,drain_token}; drain_url = ${receiverBase}?token=****`);
    note(`function ${drain.functionName} with BUCKET_NAME, KEY_PREFIX and DRAIN_TOKEN; its log group ${STACK.logGroup}`);
    note(`attachments bucket s3://${STACK.attachmentsBucket}: versioned, encrypted with ${STACK.kmsAlias} (rotation on), its four lifecycle rules`);
    const support = infra.supportKey;
    secrets.add(support.secret);
    // The runbook sets the same key in staging's app.
    heroku.addApp(STAGING_APP);
    for (const app of [...SUPPORT_HOLDERS, STAGING_APP]) heroku.setConfigVars(app, { AWS_ACCESS_KEY_ID_SUPPORT: support.id, AWS_SECRET_ACCESS_KEY_SUPPORT: support.secret });
    note(`IAM user ${support.user} with one access key, held by ${[...SUPPORT_HOLDERS, STAGING_APP].join(', ')} (config vars AWS_*_SUPPORT)`);
    // The vault of the attachments runbook, holding the same key.
    const vault = await startInfisicalApi();
    running.push({ stopped: 'stopped the Infisical API stand-in', stop: () => vault.stop() });
    secrets.add(vault.clientSecret);
    vault.setSecret('prod', VAULT_PATH, 'AWS_ACCESS_KEY_ID_SUPPORT', support.id);
    vault.setSecret('prod', VAULT_PATH, 'AWS_SECRET_ACCESS_KEY_SUPPORT', support.secret);
    note(`Infisical API on ${vault.url}: the same key in prod:${VAULT_PATH} (a machine identity with universal auth)`);

    // The audited database: an owner that is no superuser (as on Heroku), the runbook's schema,
    // and the application role's own login, in the API app's config vars.
    checkpoint();
    const pgPasswords = { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex'), archiver: randomBytes(12).toString('hex') };
    for (const pw of Object.values(pgPasswords)) secrets.add(pw);
    const { default: pg } = await import('pg');
    const boot = new pg.Client({ connectionString: pgCluster.url });
    await boot.connect();
    try {
      await boot.query(`CREATE ROLE raxx_owner LOGIN CREATEROLE PASSWORD '${pgPasswords.owner}'`);
      await boot.query('GRANT SET ON PARAMETER log_statement TO raxx_owner');
      await boot.query('CREATE DATABASE raxx OWNER raxx_owner');
    } finally {
      await boot.end();
    }
    const pgUrl = (user: string, pw: string) => `postgres://${user}:${pw}@127.0.0.1:${pgCluster.port}/raxx`;
    const owner = new pg.Client({ connectionString: pgUrl('raxx_owner', pgPasswords.owner) });
    await owner.connect();
    try {
      await owner.query(AUDIT_SCHEMA);
      await owner.query(`ALTER ROLE raptor_app PASSWORD '${pgPasswords.app}'`);
      await owner.query(`ALTER ROLE audit_archiver PASSWORD '${pgPasswords.archiver}'`);
    } finally {
      await owner.end();
    }
    const auditApp = apps[0]!;
    heroku.setConfigVars(auditApp, { DATABASE_URL: pgUrl('raxx_owner', pgPasswords.owner), RAPTOR_APP_DATABASE_URL: pgUrl('raptor_app', pgPasswords.app) });
    note(`database raxx: the audit schema (raptor_app and audit_archiver with log_statement=mod, *_history triggers); ${auditApp}'s DATABASE_URL and RAPTOR_APP_DATABASE_URL`);

    checkpoint();
    // A log-shipping source, declared as an operator would in a configuration file.
    const workDir = await mkdtemp(join(tmpdir(), 'raxx-ops-sandbox-'));
    running.push({ stopped: `removed ${workDir}`, stop: () => rm(workDir, { recursive: true, force: true }) });
    const configFile = join(workDir, 'raxx-ops.json');
    const settings = {
      logSources: [{ name: SOURCE, redact: [{ name: 'session', pattern: 'sid=[0-9a-f]+', replacement: 'sid=[REDACTED]' }] }, { name: SUPABASE_SOURCE, supabase: { source: 'auth_logs' } }],
      attachments: { infisical: { apiUrl: vault.url, projectId: vault.projectId, environments: { prod: 'prod' } } },
    };
    await writeFile(configFile, `${JSON.stringify(settings, null, 2)}\n`);
    note(`log sources "${SOURCE}" and "${SUPABASE_SOURCE}" and the Infisical project declared in ${configFile}`);

    cliEnv = { ...moto.env, HEROKU_API_KEY: heroku.token, HEROKU_API_URL: heroku.url, RAXX_OPS_CONFIG: configFile, INFISICAL_CLIENT_ID: vault.clientId, INFISICAL_CLIENT_SECRET: vault.clientSecret };
    note(`every command runs with ${Object.entries(cliEnv).map(([k, v]) => `${k}=${/(KEY|SECRET)/.test(k) && k !== 'AWS_ACCESS_KEY_ID' ? '****' : v}`).join(' ')}`);

    // ---------------------------------------------------------------------------------------
    begin('receiver');
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
    begin('wire');
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
    begin('traffic');
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
    await waitFor(() => apps.every((a) => results().some((x) => x.app === a && x.r.outcome === 'delivered')) && fivexx(apps[0]!) >= 2, 'the first batches').catch(() =>
      fail(`the sender's first batches were not delivered: ${summarizeOutcomes(results().map((x) => x.r))}`),
    );
    pass(`every app delivers (${results().length} batches so far)`);
    // Heroku's Postgres add-on: each line of the server's log to the API app's drains.
    const forwarder = await startPgForwarder({ logFile: pgCluster.logFile, drains: () => heroku.drains(auditApp).map((d) => ({ url: d.url, token: d.token })) });
    running.push({ stopped: 'stopped the Postgres log forwarder', stop: () => forwarder.stop() });
    note(`the database's log lines go to ${auditApp}'s drains as "app postgres.<pid> - [DATABASE] …", as Heroku's add-on sends them`);

    // ---------------------------------------------------------------------------------------
    const grepApp = apps[0]!;
    if (wanted('check')) {
      begin('check');
      await raxx(['drains', 'test']);
      await raxx(['logs', 'status']);
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

    }

    // ---------------------------------------------------------------------------------------
    if (wanted('audit')) {
      begin('audit');
      const smoke = await raxx(['audit', 'smoke', '--timeout', '30']);
      const tracer = /checks passed; tracer (\S+)$/m.exec(smoke.stdout)?.[1] ?? fail('audit smoke printed no tracer');
      const pgLog = await pgCluster.readLog();
      check(
        pgLog.includes(tracer) && pgLog.split('\n').some((l) => l.includes('raptor_app@raxx LOG:') && l.includes('INSERT')),
        `the database logged the tracer INSERT as raptor_app (${pgCluster.logFile})`,
        `the tracer INSERT is not in the database log as a raptor_app statement: ${pgLog.split('\n').filter((l) => l.includes(tracer)).join(' / ')}`,
      );
      check(forwarder.sent.some((r) => r.outcome === 'delivered'), `the forwarder delivered ${forwarder.lines} database log lines to the drain`, 'the forwarder delivered nothing');
      const found = (await raxx(['logs', 'grep', tracer, '-F', '-c', '--app', auditApp, '--since', '10m'])).stdout.trim();
      check(Number(found) >= 1, `logs grep finds the tracer in s3://${drain.bucket} (${found} line)`, `logs grep -c found ${found} lines with the tracer`);
    }

    // ---------------------------------------------------------------------------------------
    if (wanted('restore')) {
      begin('restore');
      const { PutObjectCommand, DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
      const s3 = await aws.s3();
      const bucket = STACK.attachmentsBucket;
      const key = `${randomUUID()}/${randomUUID()}/${randomUUID()}.pdf`;
      const bytes = randomBytes(4096);
      const read = async () =>
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
          async (r) => Buffer.from(await r.Body!.transformToByteArray()),
          () => undefined,
        );
      const uploaded = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      check((await read()) === undefined, `a support agent deleted s3://${bucket}/${key} (a delete marker now hides it)`, 'the deleted attachment still reads');
      await raxx(['attachments', 'restore', key, '--dry-run']);
      check((await read()) === undefined, 'the dry run restored nothing', 'the dry run restored the attachment');
      await raxx(['attachments', 'restore', key, '--yes']);
      check((await read())?.equals(bytes) === true, 'the attachment reads again, its 4096 bytes unchanged', 'the restored attachment does not read back as uploaded');
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
      check(
        (listed.DeleteMarkers ?? []).length === 0 && (listed.Versions ?? []).map((v) => v.VersionId).join() === uploaded.VersionId,
        'the delete marker is gone; the one data version is the one uploaded',
        'the versions after the restore are not the uploaded version alone',
      );
    }

    // ---------------------------------------------------------------------------------------
    if (wanted('rotate-access-key')) {
      begin('rotate-access-key');
      await raxx(['attachments', 'rotate-access-key', '--yes']);
      const iam = await aws.iam();
      const { ListAccessKeysCommand } = await import('@aws-sdk/client-iam');
      const keys = ((await iam.send(new ListAccessKeysCommand({ UserName: support.user }))).AccessKeyMetadata ?? []).map((k) => k.AccessKeyId!);
      for (const app of SUPPORT_HOLDERS) secrets.add(heroku.configVars(app).AWS_SECRET_ACCESS_KEY_SUPPORT ?? '');
      check(keys.length === 1 && keys[0] !== support.id, `IAM: ${support.user} has one key, a new one; the old key is deleted`, `IAM keys after the rotation: ${keys.join(', ')}`);
      check(
        SUPPORT_HOLDERS.every((a) => heroku.configVars(a).AWS_ACCESS_KEY_ID_SUPPORT === keys[0]) && heroku.configVars(apps[2]!).AWS_ACCESS_KEY_ID_SUPPORT === undefined,
        `${SUPPORT_HOLDERS.join(' and ')} hold the new key in their config vars; ${apps[2]} was never given one`,
        'the apps\' config vars do not hold the new key',
      );
      check(heroku.configVars(STAGING_APP).AWS_ACCESS_KEY_ID_SUPPORT === keys[0], `${STAGING_APP}, which shares the key, holds the new one too`, `${STAGING_APP} was left with a deleted key`);
      check(
        vault.secret('prod', VAULT_PATH, 'AWS_ACCESS_KEY_ID_SUPPORT') === keys[0] && vault.secret('prod', VAULT_PATH, 'AWS_SECRET_ACCESS_KEY_SUPPORT') === heroku.configVars(SUPPORT_HOLDERS[0]!).AWS_SECRET_ACCESS_KEY_SUPPORT,
        `Infisical prod:${VAULT_PATH} holds the new key id and its secret`,
        'the vault does not hold the new key',
      );
    }

    // ---------------------------------------------------------------------------------------
    if (wanted('ship')) {
      begin('ship');
      // The seven days before today, one file each, with a password and a session id to redact.
      const days = Array.from({ length: 7 }, (_, i) => new Date(Date.now() - (7 - i) * 86_400_000).toISOString().slice(0, 10));
      const files: string[] = [];
      for (const day of days) {
        const file = join(workDir, `${SOURCE}-${day}.log`);
        const lines = Array.from({ length: 40 }, (_, i) => `${day}T08:${String(i).padStart(2, '0')}:00Z sshd[8${i}]: Accepted publickey for deploy from 203.0.113.${i} sid=${(i * 7919).toString(16)}a${i === 3 ? ' password=hunter2' : ''}`);
        await writeFile(file, `${lines.join('\n')}\n`);
        files.push(file);
      }
      note(`${files.length} files in ${workDir}: ${SOURCE}-${days[0]}.log … ${SOURCE}-${days.at(-1)}.log`);
      await raxx(['logs', 'ship', SOURCE, ...files]);
      const shipped = await listKeys(aws, drain.bucket, appPrefix(drain.keyPrefix, SOURCE));
      check(shipped.length === 7, `7 objects under s3://${drain.bucket}/${appPrefix(drain.keyPrefix, SOURCE)}, one per day`, `${shipped.length} objects were shipped, not 7`);
      const { GetObjectCommand } = await import('@aws-sdk/client-s3');
      const body = gunzipSync(Buffer.from(await (await (await aws.s3()).send(new GetObjectCommand({ Bucket: drain.bucket, Key: shipped[0]! }))).Body!.transformToByteArray())).toString();
      check(
        !body.includes('hunter2') && !/sid=[0-9a-f]+a/.test(body) && body.includes('password=[REDACTED]') && body.includes('sid=[REDACTED]'),
        'stored redacted: the password and the session ids (the source\'s own pattern) are [REDACTED]',
        'a shipped object still holds a password or a session id',
      );
      await raxx(['logs', 'ship', SOURCE, ...files]);
      check((await listKeys(aws, drain.bucket, appPrefix(drain.keyPrefix, SOURCE))).length === 7, 'shipping the same files again adds nothing', 'shipping again added objects');
      await raxx(['logs', 'status', '--source', SOURCE]);

      // Supabase's Auth logs for the last two days, behind the Management API's 1,000-row cap.
      const supabase = await startSupabase();
      running.push({ stopped: 'stopped the Supabase Management API stand-in', stop: () => supabase.close() });
      secrets.add(supabase.token);
      supabase.rows.push(...authRows(days.at(-2)!, 1200), ...authRows(days.at(-1)!, 2500));
      cliEnv = { ...cliEnv, SUPABASE_URL: `https://${supabase.projectRef}.supabase.co`, SUPABASE_API_URL: supabase.url, SUPABASE_ACCESS_TOKEN: supabase.token };
      note(`Supabase Management API stand-in on ${supabase.url} (project ${supabase.projectRef}): 1,200 and 2,500 auth rows for ${days.at(-2)} and ${days.at(-1)}`);
      await raxx(['logs', 'ship', SUPABASE_SOURCE, '--days', '2']);
      const pulled = (await listKeys(aws, drain.bucket, appPrefix(drain.keyPrefix, SUPABASE_SOURCE))).sort();
      const last = pulled.length === 2 ? gunzipSync(Buffer.from(await (await (await aws.s3()).send(new GetObjectCommand({ Bucket: drain.bucket, Key: pulled[1]! }))).Body!.transformToByteArray())).toString() : '';
      const entries = last.split('\n').filter(Boolean);
      check(
        pulled.length === 2 && entries.length === 2500 && !last.includes('@example.com') && last.includes('[REDACTED:email]'),
        `2 days pulled from Supabase; ${days.at(-1)} holds all 2,500 rows (paged past the cap), e-mail addresses redacted`,
        `pulled ${pulled.length} day(s), ${entries.length} line(s) in the last`,
      );
      await raxx(['logs', 'ship', SUPABASE_SOURCE, '--days', '2']);
      check((await listKeys(aws, drain.bucket, appPrefix(drain.keyPrefix, SUPABASE_SOURCE))).length === 2, 'pulling again skips the shipped days', 'pulling again added objects');
      await raxx(['logs', 'status', '--source', SUPABASE_SOURCE, '--history', '--runs', '4']);

      // The status page and Monitoring API, as an operator would open them.
      const dashPort = await freePort();
      const dash = runner.start(['logs', 'dashboard', '--port', String(dashPort)], { env: cliEnv, onLine: (stream, line) => stream === 'stderr' && say(`  [dashboard] ${line}`) });
      running.push({ stopped: 'stopped logs dashboard (Ctrl-C)', stop: async () => void (await dash.stop()) });
      dashboardUrl = `http://127.0.0.1:${dashPort}/`;
      await waitFor(async () => (await fetch(`${dashboardUrl}api/logs/health`)).ok, 'the dashboard');
      const health = (await (await fetch(`${dashboardUrl}api/logs/health`)).json()) as { status: string; reasons: string[] };
      const page = await (await fetch(dashboardUrl)).text();
      check(
        health.reasons.some((r) => r.startsWith(`source ${SUPABASE_SOURCE} missing`)) && page.includes(`data-name="${SUPABASE_SOURCE}"`) && page.includes('data-state="missing"'),
        `the dashboard on ${dashboardUrl}: health ${health.status} (${SUPABASE_SOURCE}'s days before the two shipped are missing); the page's grid shows them`,
        `the dashboard answered health ${health.status}, reasons ${health.reasons.join('; ')}`,
      );
      // The missing days, as the runbook's `historical` run fills them: the week is then whole.
      supabase.rows.push(...days.slice(0, -2).flatMap((d) => authRows(d, 40)));
      await raxx(['logs', 'ship', SUPABASE_SOURCE, '--days', '7']);
      const after = (await (await fetch(`${dashboardUrl}api/logs/health`)).json()) as { status: string; reasons: string[] };
      check(
        (await listKeys(aws, drain.bucket, appPrefix(drain.keyPrefix, SUPABASE_SOURCE))).length === 7 && !after.reasons.some((r) => r.includes(SUPABASE_SOURCE)),
        `--days 7 ships the five missing days (the two shipped are skipped); the dashboard no longer lists ${SUPABASE_SOURCE}`,
        `after --days 7 the dashboard says ${after.status}: ${after.reasons.join('; ')}`,
      );
    }

    // ---------------------------------------------------------------------------------------
    if (wanted('query')) {
      begin('query');
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      await raxx(['logs', 'compact', '--date', yesterday, '--app', auditApp]);
      const manifestKey = compactedKeys(auditApp, yesterday).manifest;
      const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
      const head = await (await aws.s3()).send(new HeadObjectCommand({ Bucket: drain.bucket, Key: manifestKey })).catch(() => undefined);
      check(head !== undefined, `s3://${drain.bucket}/${manifestKey} written`, 'logs compact wrote no manifest');
      // Yesterday's history: one batch of two router lines every `every` minutes.
      const expected = Math.ceil(1440 / every) * 2;
      const q = await raxx(['logs', 'query', 'SELECT count(*) AS lines, count(DISTINCT path) AS paths FROM logs', '--app', auditApp, '--date', yesterday, '--format', 'csv']);
      const row = q.stdout.trim().split('\n').at(-1) ?? '';
      check(row.split(',')[0] === String(expected), `logs query counts ${expected} lines for ${yesterday}, as many as the bucket holds`, `logs query said "${row}", expected ${expected} lines`);
      await raxx(['logs', 'query', "SELECT status, count(*) AS n FROM logs WHERE proc = 'router' GROUP BY status ORDER BY n DESC", '--app', auditApp, '--since', '15m']);
    }

    // ---------------------------------------------------------------------------------------
    if (wanted('rotate')) {
      begin('rotate');
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
    }

    // ---------------------------------------------------------------------------------------
    if (wanted('doctor')) {
      begin('doctor');
      const healthy = await raxx(['doctor']);
      check(/^healthy: /m.test(healthy.stdout), 'doctor: healthy, exit 0', 'doctor did not say healthy');
      // A fault from outside: someone edits the function's DRAIN_TOKEN by hand in the console.
      const fnEnv = await functionEnvironment(aws, drain.functionName);
      await setFunctionEnvironment(aws, drain.functionName, { ...fnEnv, DRAIN_TOKEN: randomBytes(32).toString('hex') });
      note(`fault injected: ${drain.functionName}'s DRAIN_TOKEN changed by hand, SSM drain_token left as it was`);
      const sick = await raxx(['doctor'], 1);
      check(
        /^FAIL +token/m.test(sick.stdout) && /\bB\b/.test(sick.stdout) && sick.stdout.includes('raxx-ops drains rotate'),
        'doctor fails the token check, names failure mode B and the fix (raxx-ops drains rotate, which repairs), exit 1',
        'doctor did not name the token mismatch',
      );
      // The fix it names: the function accepts the drains' token again at its first change,
      // then everything moves to a new one.
      const repaired = await raxx(['drains', 'rotate', '--yes', '--grace', String(opts.graceSeconds ?? 3)]);
      check(
        /^repair \(failure mode B\)/m.test(repaired.stdout) && (repaired.stdout.match(/^step \d\/8 .*: done/gm) ?? []).length === 8,
        'drains rotate plans a repair and does all 8 steps',
        'drains rotate did not repair',
      );
      await raxx(['drains', 'test']);
      note('fault repaired: SSM, the function and every drain hold one new token');
    }

    if (opts.keep) {
      say('');
      say('== the stack stays up (--keep); Ctrl-C tears it down');
      if (dashboardUrl) say(`== the shipping status page: ${dashboardUrl}`);
      await opts.keep(cliEnv);
      handedOver = true;
    }

    // ---------------------------------------------------------------------------------------
    begin('teardown');
    await tearDown();
    const out = served ?? (await receiver.done);
    // After --keep, the terminal's Ctrl-C reached it as well as ours: a second press is 130.
    check(out.code === 0 || (handedOver && out.code === 130), 'receiver serve ended cleanly on Ctrl-C', `receiver serve exited ${out.code} on Ctrl-C`);
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
    const interrupted = err instanceof Interrupted || (signal.aborted && !handedOver);
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
