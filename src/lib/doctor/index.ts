// The diagnosis tree as one run: every check starts at once (they share what they fetch
// through Facts) and each ends as pass / warn / fail with its evidence. A check that cannot
// run (no Heroku token, AWS refused) fails with the reason; the others still report.
import type { Context } from '../context.js';
import { checkAttachmentsBucket, checkCost, checkDrainBucket } from './bucket-checks.js';
import { checkDrains, checkFreshness, checkFunction, checkLogGroup, checkParameters, checkSendTest, checkToken, couldNotCheck, Facts, type DoctorOptions } from './drain-checks.js';
import { worst, type CheckResult, type Finding } from './report.js';

export type { DoctorOptions } from './drain-checks.js';
export * from './report.js';

type Outcome = Finding[] | { findings: Finding[]; data?: object };

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
];
const SEND_TEST: CheckSpec = { id: 'send-test', title: 'a synthetic batch end to end', run: checkSendTest };

export async function runDoctor(ctx: Context, opts: DoctorOptions): Promise<CheckResult[]> {
  const facts = new Facts(ctx, opts);
  const specs = opts.sendTest ? [...CHECKS, SEND_TEST] : CHECKS;
  return Promise.all(
    specs.map(async (spec): Promise<CheckResult> => {
      const started = Date.now();
      let findings: Finding[];
      let data: object | undefined;
      try {
        const out = await spec.run(facts);
        ctx.checkInterrupted();
        findings = Array.isArray(out) ? out : out.findings;
        data = Array.isArray(out) ? undefined : out.data;
      } catch (err) {
        ctx.checkInterrupted();
        ctx.out.debug(`${spec.id}: ${String((err as Error)?.stack ?? err)}`);
        findings = [couldNotCheck(err)];
      }
      return { id: spec.id, title: spec.title, status: worst(findings.map((f) => f.status)), findings, ...(data ? { data } : {}), ms: Date.now() - started };
    }),
  );
}
