// `raxx-ops doctor`: the log-drain runbook's "How to diagnose (in order)", the audit runbook's
// retention rules and the attachments runbook's bucket and key rules in one run. Each check
// says pass / warn / fail with its evidence; a failure names the runbook's failure mode and
// the exact fix. Exit 1 when anything fails.
import { z } from 'zod';
import type { Context } from '../lib/run/context.js';
import type { CheckResult } from '../lib/doctor/report.js';
import { UsageError, CheckFailedError } from '../lib/core/errors.js';
import { redact } from '../lib/core/secrets.js';
import { columnWidths, tableRow } from '../lib/core/table.js';
import { startOfDay, parseTime } from '../lib/core/time-window.js';
import { parseDatabaseUrl } from '../lib/postgres/connect.js';
import { resolveApps } from './apps.js';
import { apiApp, configVarsOnce, ownerUrl } from './audit/shared.js';
import { createCommand, flag, option } from './define.js';
import * as opt from './options.js';

export default createCommand({
  description: "every runbook's diagnosis in one run: drains, SSM parameters, the function's token, bucket and errors, freshness, both buckets' settings, lifecycle and cost, the DML audit's roles, triggers and grants, the shipped log sources; names the failure mode and the fix; exit 1 when anything fails",
  notes: `Checks, run in parallel: drains (A, B) · SSM parameters · DRAIN_TOKEN vs SSM drain_token,
compared by digest (B) · the receiver's log group over --since: auth failures (B), write
failures (C), timeouts (D), clock skew, other errors · each app's newest object (the logs status
thresholds) · the function's BUCKET_NAME and KEY_PREFIX (C) · the drain bucket (versioning,
encryption, public-access blocks, no granting policy, every lifecycle rule judged by its effect:
nothing deleted before 90 days, nothing archived: audit D) · the attachments bucket and its key ·
monthly cost against $20 · with a database URL (--database-url, DATABASE_URL, or the API app's
config var): the audit roles' log_statement (audit B), the history triggers (audit C), the
append-only grants · the declared log sources over the last 7 days.
Missing AWS credentials are one error (exit 3); a cause that stops several checks is reported once.
--notify posts a summary to SLACK_WEBHOOK_URL when anything warns or fails.`,
  examples: [
    ['raxx-ops doctor', 'every check, production'],
    ['raxx-ops doctor --app raxx-api-prod --since 2h --send-test', 'one app, two hours of errors, and a batch end to end'],
    ['raxx-ops --env staging doctor --json --notify', 'staging as JSON; Slack hears about problems'],
  ],
  options: {
    app: opt.apps,
    since: option(z.string().min(1).default('30m'), "how far back to read the receiver's log group (30m, 2h, an ISO time)", { value: '<time>' }),
    sendTest: flag('also send the synthetic batch of `drains test` to each app'),
    timeout: opt.timeout(15, 'with --send-test: how long to wait for each answer and object'),
    notify: flag('post a summary to SLACK_WEBHOOK_URL when anything warns or fails'),
    databaseUrl: option(z.string().optional(), "the database owner's URL for the audit checks (default: DATABASE_URL, else the API app's DATABASE_URL config var)", { value: '<url>' }),
  },
  async handler(args, ctx) {
    const now = ctx.now().getTime();
    const since = parseTime(args.since, '--since', now, startOfDay(now));
    // A window that starts later than now holds no error line, and would read as healthy.
    if (since >= now) {
      throw new UsageError(`--since ${args.since} is not in the past (it is ${new Date(since).toISOString()}, now ${new Date(now).toISOString()})`, {
        hint: 'times are UTC: give a duration (30m, 2h) or an earlier time',
      });
    }
    const { requireWebhook } = await import('../lib/slack/notify.js');
    const webhook = args.notify ? requireWebhook(ctx.env) : undefined;
    const apps = resolveApps(args.app, ctx);
    // A malformed URL given here is bad input (exit 2) before anything runs.
    if (args.databaseUrl !== undefined) parseDatabaseUrl(args.databaseUrl, { source: '--database-url', badUrl: 'usage' });
    const api = apiApp(ctx, undefined);
    const databaseUrl = () => ownerUrl(ctx, api, args.databaseUrl, configVarsOnce(ctx, api));

    const { runDoctor, summaryLine, modesOf, worst } = await import('../lib/doctor/index.js');
    const progress = await ctx.out.progress(`doctor: ${apps.length} app(s)`);
    let checks;
    try {
      checks = await runDoctor(ctx, { apps, since, sendTest: args.sendTest, testTimeout: args.timeout, ownerUrl: databaseUrl });
    } finally {
      progress.stop();
    }
    const status = worst(checks.map((c) => c.status));
    const summary = summaryLine(checks);

    if (ctx.out.json) {
      ctx.out.data({ env: ctx.config.env, apps, since: new Date(since).toISOString(), status, modes: modesOf(checks), summary, checks });
    } else {
      print(ctx, checks);
      ctx.out.line(`${status === 'pass' ? ctx.out.color.ok('healthy') : status === 'warn' ? ctx.out.color.warn('warnings') : ctx.out.color.bad('problems')}: ${summary}`);
    }

    if (webhook && status !== 'pass') {
      // The report is what matters; a failed notification is said, not fatal.
      const { notify } = await import('../lib/slack/notify.js');
      if (await notify(webhook, slackText(ctx, checks, summary), ctx.out, ctx.signal, ctx.env)) ctx.out.info('posted the summary to Slack');
      else ctx.checkInterrupted();
    }
    if (status === 'fail') {
      const first = checks.flatMap((c) => c.findings).find((f) => f.status === 'fail');
      throw new CheckFailedError(`doctor: ${summary}`, { hint: first?.fix ? `first fix: ${first.fix}` : 'see the checks above' });
    }
  },
});

type Checks = CheckResult[];

function print(ctx: Context, checks: Checks): void {
  const c = ctx.out.color;
  const label = { pass: c.ok('PASS'), warn: c.warn('WARN'), fail: c.bad('FAIL') };
  const widths = columnWidths(checks.map((x) => [label[x.status], x.id]));
  for (const check of checks) {
    ctx.out.line(tableRow([label[check.status], check.id, c.dim(check.title)], widths));
    for (const f of check.findings) {
      const mark = f.status === 'pass' ? c.ok('ok') : f.status === 'warn' ? c.warn('!!') : c.bad('xx');
      ctx.out.line(`      ${mark} ${f.mode ? `[${f.mode}] ` : ''}${f.message}`);
      if (f.fix && f.status !== 'pass') ctx.out.line(`         fix: ${f.fix}`);
    }
  }
}

/** A few lines for the ops channel: the summary and each problem with its fix. */
function slackText(ctx: Context, checks: Checks, summary: string): string {
  const problems = checks.flatMap((c) => c.findings.filter((f) => f.status !== 'pass').map((f) => `• ${f.status.toUpperCase()} ${c.id}: ${f.mode ? `[${f.mode}] ` : ''}${f.message}${f.fix ? ` — fix: ${f.fix}` : ''}`));
  const shown = problems.slice(0, 8);
  return redact([`raxx-ops doctor (${ctx.config.env}): ${summary}`, ...shown, ...(problems.length > shown.length ? [`… and ${problems.length - shown.length} more`] : [])].join('\n'));
}
