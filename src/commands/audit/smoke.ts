// `raxx-ops audit smoke`: the pgaudit runbook's smoke test and diagnosis, link by link, with
// the one correction docs/facts.md explains: the tracer is inserted while logged in as raptor_app
// with its own credential, because `SET ROLE raptor_app` in the owner's session never picks up
// the role's log_statement and so can never log the tracer.
import { z } from 'zod';
import { runSmoke, type CheckResult, type SmokeReport } from '../../lib/audit/smoke.js';
import type { Context } from '../../lib/run/context.js';
import { CheckFailedError } from '../../lib/core/errors.js';
import { padCell } from '../../lib/core/table.js';
import { closePostgres, connectPostgres, parseDatabaseUrl } from '../../lib/postgres/connect.js';
import { createCommand, flag, option } from '../define.js';
import * as opt from '../options.js';
import { apiApp, appRoleUrl, auditOptions, configVarsOnce, ownerUrl } from './shared.js';

function printCheck(ctx: Context, c: CheckResult): void {
  const col = ctx.out.color;
  const status = c.status === 'pass' ? col.ok('pass') : c.status === 'fail' ? col.bad('FAIL') : col.dim('skipped');
  ctx.out.line(`  ${c.id}  ${padCell(c.name, 18)} ${status}  ${c.detail} (${c.ms} ms)`);
  if (c.status === 'fail') {
    ctx.out.line(`       failure mode ${c.mode}: ${c.failure}`);
    ctx.out.line(`       fix: ${c.fix}`);
  }
}

function summary(report: SmokeReport): string {
  const failed = report.checks.filter((c) => c.status === 'fail');
  return `audit smoke failed: ${failed.map((c) => `check ${c.id} ${c.name} (${c.mode})`).join(', ')}`;
}

export default createCommand({
  description: 'prove the DML audit trail end to end: drain, role settings, triggers, grants, a tracer INSERT as raptor_app, and the tracer in S3; exit 1 naming the failure mode',
  notes: `Checks, in order (each pass / fail / skipped, with its duration):
  1 the API app has its current drain (failure mode A)
  2 the audited roles have log_statement=mod in pg_db_role_setting (B)
  3 the *_history triggers exist and are enabled (C)
  4 raptor_app cannot UPDATE or DELETE any *_history table
  5 logged in as raptor_app: the runbook's tracer row in customer_audit_events
  6 the tracer's INSERT statement line in the API app's drain objects (polls until --timeout)
  7 with --trigger-test: as the owner, a users INSERT captured in users_history (rolled back)
The owner URL: --database-url, else DATABASE_URL, else the API app's config var. The
raptor_app URL: --app-database-url, else RAPTOR_APP_DATABASE_URL, else that config var.`,
  examples: [
    ['raxx-ops --env staging audit smoke', 'the staging database, credentials from the app config vars'],
    ['raxx-ops audit smoke --trigger-test --json', 'also the users trigger, as one JSON report'],
    ['raxx-ops audit smoke --database-url "$OWNER_URL" --timeout 300', 'another owner URL, a longer wait for S3'],
  ],
  options: {
    ...auditOptions,
    appDatabaseUrl: option(z.string().optional(), "raptor_app's own URL (default: RAPTOR_APP_DATABASE_URL, else the API app's config var)", { value: '<url>' }),
    timeout: opt.timeout(120, 'how long to wait for the tracer in S3'),
    triggerTest: flag('also check that a users change is captured in users_history (in a rolled-back transaction)'),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const app = apiApp(ctx, args.app);
    const vars = configVarsOnce(ctx, app);
    // Both URLs are checked before either connection is tried.
    const owner = await ownerUrl(ctx, app, args.databaseUrl, vars);
    parseDatabaseUrl(owner.url, owner);
    const appUrl = await appRoleUrl(ctx, app, args.appDatabaseUrl, vars);
    parseDatabaseUrl(appUrl.url, appUrl);

    const clients: Awaited<ReturnType<typeof connectPostgres>>[] = [];
    const closeAll = () => Promise.all(clients.map((c) => closePostgres(c)));
    // Ctrl-C ends both sessions at once: the server rolls back whatever they had open.
    const onAbort = () => void closeAll();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const connectTimeout = Math.min(15, args.timeout);
      clients.push(await connectPostgres(owner.url, { source: owner.source, badUrl: owner.badUrl, timeoutSeconds: connectTimeout, applicationName: 'raxx-ops audit smoke', signal: ctx.signal }));
      ctx.checkInterrupted();
      clients.push(await connectPostgres(appUrl.url, { source: appUrl.source, badUrl: appUrl.badUrl, timeoutSeconds: connectTimeout, applicationName: 'raxx-ops audit smoke', signal: ctx.signal }));
      ctx.checkInterrupted();
      if (!out.json) out.line(`audit smoke: ${out.color.app(app)} (${ctx.config.env})`);
      const report = await runSmoke(ctx, { app, owner: clients[0]!, appClient: clients[1]!, timeoutSeconds: args.timeout, triggerTest: args.triggerTest }, (c) => {
        if (!out.json) printCheck(ctx, c);
      });
      if (out.json) out.data({ env: ctx.config.env, ...report });
      else {
        out.line(`  info: native pgaudit ${report.pgaudit.installed ? 'is installed' : report.pgaudit.available ? 'is available (not installed)' : 'is not available on this plan (Heroku: Shield plans offer it)'}`);
        out.line(report.ok ? out.color.ok(`all ${report.checks.filter((c) => c.status === 'pass').length} checks passed; tracer ${report.tracer}`) : out.color.bad(`${report.checks.filter((c) => c.status === 'fail').length} of ${report.checks.length} checks failed`));
      }
      if (!report.ok) {
        const first = report.checks.find((c) => c.status === 'fail')!;
        throw new CheckFailedError(summary(report), { hint: `${first.failure}; fix: ${first.fix}` });
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      await closeAll();
    }
  },
});
