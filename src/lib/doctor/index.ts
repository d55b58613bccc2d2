// The diagnosis tree as one run: every check starts at once (they share what they fetch
// through Facts) and each ends as pass / warn / fail with its evidence. A check that cannot
// run (no Heroku token, AWS refused) fails with the reason, once; the others still report.
import type { Context } from '../run/context.js';
import { checkAttachmentsBucket, checkCost, checkDrainBucket } from './bucket-checks.js';
import { AwsCredentialsError } from '../aws/clients.js';
import { redact } from '../core/secrets.js';
import { checkAudit, checkSources } from './audit-checks.js';
import { checkDrains, checkFreshness, checkFunction, checkLogGroup, checkParameters, checkSendTest, checkToken, couldNotCheck, Facts, NeedsCheck, type DoctorOptions } from './drain-checks.js';
import { warn, worst, type CheckResult, type Finding } from './report.js';

export type { DoctorOptions } from './drain-checks.js';
export * from './report.js';

type Outcome = Finding[] | { findings: Finding[]; data?: object | undefined };

interface CheckSpec {
  id: string;
  title: string;
  run(f: Facts): Promise<Outcome>;
}

const CHECKS: CheckSpec[] = [
  { id: 'drains', title: 'every app has its current drain', run: checkDrains },
  { id: 'ssm', title: 'SSM parameters exist', run: checkParameters },
  { id: 'token', title: "the function's DRAIN_TOKEN is SSM drain_token", run: checkToken },
  { id: 'function', title: 'the function writes to the drain bucket', run: checkFunction },
  { id: 'log-group', title: "the receiver's log group", run: checkLogGroup },
  { id: 'freshness', title: "each app's newest object", run: checkFreshness },
  { id: 'drain-bucket', title: 'the drain bucket', run: (f) => checkDrainBucket(f.ctx) },
  { id: 'attachments', title: 'the attachments bucket and key', run: (f) => checkAttachmentsBucket(f.ctx) },
  { id: 'cost', title: 'monthly cost of both buckets', run: (f) => checkCost(f.ctx) },
  { id: 'audit', title: 'the DML audit: role settings, history triggers, append-only grants', run: checkAudit },
  { id: 'sources', title: 'shipped log sources, the last 7 days', run: checkSources },
];
const SEND_TEST: CheckSpec = { id: 'send-test', title: 'a synthetic batch end to end', run: checkSendTest };

type Ran = { spec: CheckSpec; ms: number } & ({ findings: Finding[]; data?: object | undefined } | { error: unknown });

/**
 * Runs every check at once. A cause that stops several checks is reported once: missing or
 * expired AWS credentials end the run with one error (exit 3), since no AWS check can say
 * anything; a check that needs another check's subject (the SSM drain settings) points to it
 * when that check failed; the same error reached by a later check (a rejected Heroku token
 * read again for a config var) points to the first check that reported it.
 */
export async function runDoctor(ctx: Context, opts: DoctorOptions): Promise<CheckResult[]> {
  const facts = new Facts(ctx, opts);
  const specs = opts.sendTest ? [...CHECKS, SEND_TEST] : CHECKS;
  const ran = await Promise.all(
    specs.map(async (spec): Promise<Ran> => {
      const started = Date.now();
      try {
        const out = await spec.run(facts);
        ctx.checkInterrupted();
        return { spec, ms: Date.now() - started, ...(Array.isArray(out) ? { findings: out } : out) };
      } catch (err) {
        ctx.checkInterrupted();
        ctx.out.debug(`${spec.id}: ${String((err as Error)?.stack ?? err)}`);
        return { spec, ms: Date.now() - started, error: err };
      }
    }),
  );
  const credentials = ran.map((r) => ('error' in r ? r.error : undefined)).find((e) => e instanceof AwsCredentialsError);
  if (credentials) throw credentials;

  const failedChecks = new Set(ran.filter((r) => 'findings' in r && r.findings.some((f) => f.status === 'fail')).map((r) => r.spec.id));
  const reportedBy = new Map<string, string>();
  return ran.map((r): CheckResult => {
    let findings: Finding[];
    if ('findings' in r) findings = r.findings;
    else {
      let err = r.error;
      if (err instanceof NeedsCheck && failedChecks.has(err.check)) findings = [warn(`not checked: it needs ${err.what}, which the \`${err.check}\` check reports failing`)];
      else {
        if (err instanceof NeedsCheck) err = err.cause;
        const key = redact((err as Error)?.message ?? String(err));
        const first = reportedBy.get(key);
        if (first) findings = [warn(`not checked: the same error as the \`${first}\` check`)];
        else {
          reportedBy.set(key, r.spec.id);
          findings = [couldNotCheck(err)];
        }
      }
    }
    const data = 'data' in r ? r.data : undefined;
    return { id: r.spec.id, title: r.spec.title, status: worst(findings.map((f) => f.status)), findings, ...(data ? { data } : {}), ms: r.ms };
  });
}
