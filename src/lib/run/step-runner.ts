// The shape every multi-step change shares (docs/architecture.md, "Multi-step changes"): a plan printed
// first, one confirmation, steps applied in order and each verified, a rollback for the steps
// that have one, and a per-step report (one JSON document under --json).
//
// Resume: progress is not stored anywhere; each step says whether the systems already show its
// effect (`done`), read before the plan. The real state is what every operator sees, cannot go
// stale or be lost with a laptop, needs no extra bucket or parameter (nor their permissions),
// and a rerun after a failure, a Ctrl-C or someone's hand-typed fix starts from what is true
// now. So a rerun never repeats a finished step, and a command file only has to say how to
// recognise each step's result.
import type { Context } from './context.js';
import { scopeLines, type Scope } from './scope.js';
import { asUserError, InterruptedError, isUnknownOutcome, PartialFailureError, UserError, stopError, type ExitCode } from '../core/errors.js';

export interface Step {
  name: string;
  /** What applying it will do, for the plan (the state was read before). */
  detail?: string | undefined;
  /** The systems already show this step's effect: skipped now, as on a resume. */
  done?: boolean | (() => Promise<boolean>);
  /** Makes the change; may return a line for the report. */
  apply(): Promise<string | void>;
  /** Reads the change back; throws when it did not take. */
  verify?(): Promise<string | void>;
  /**
   * Undoes apply (also a partial one); only used while no point-of-no-return step has started.
   * Rollbacks run in reverse; the first one that fails stops the others, since what an earlier
   * step did may be what keeps the later step's leftovers working. `unknownOutcome`: a write of
   * this run got no answer and may still land, so "not seen" is not "not done": a rollback must
   * not remove what that write may install (it throws instead, and the run stops as it is).
   */
  rollback?(why: RollbackContext): Promise<string | void>;
  /** Once this step starts, a failure no longer rolls back: rerunning finishes the job. */
  pointOfNoReturn?: boolean;
}

export interface RollbackContext {
  /** The run stopped on (or met) a write whose outcome is unknown. */
  unknownOutcome: boolean;
}

export type StepStatus = 'planned' | 'already done' | 'done' | 'failed' | 'rolled back' | 'not run';

export interface StepReport {
  step: number;
  name: string;
  status: StepStatus;
  detail?: string;
}

export interface StepRun {
  /** One line saying what the run changes ("disable the key alias/… (arn)"); empty when the command printed its own. */
  title: string;
  /** The environment and every resource the run touches, printed under the title (and `scope` under --json). */
  scope?: Scope;
  /** What stopped, in the error: "rotation" → "rotation stopped at step 5 of 8 (…)". */
  subject?: string;
  steps: Step[];
  dryRun: boolean;
  /** Asks once, after the plan; ctx.confirm or ctx.confirmTyped. */
  confirm(): Promise<void>;
  /** Fields added to the --json document (what the command read: key, apps…); read when printed. */
  json?: Record<string, unknown> | (() => Record<string, unknown>);
  /** The hint when a step (1-based) fails and nothing could be rolled back: how to finish. */
  resumeHint: string | ((step: number) => string);
  /**
   * Where things stand once the run ends (done or stopped, not on a dry run): read again from
   * the systems; lines for people, fields for the --json document. A failure to read is said.
   */
  finalState?(): Promise<{ lines: string[]; json: Record<string, unknown> }>;
  /** A write of this run got no answer (the command tracks its own writes); read when stopping. */
  unknownOutcome?: () => boolean;
  /** The hint after a clean rollback (default: nothing changed, run it again). */
  rolledBackHint?: string;
}

export interface StepResult {
  steps: StepReport[];
  /** Nothing was left to do: every step was already done. */
  noop: boolean;
}

/** A run stopped at a step: keeps its cause's exit code; the message names the step. */
export class StepsStopped extends UserError {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, hint: string, cause: unknown) {
    super(message, { hint, cause });
    this.exitCode = exitCode;
  }
}

/** How long rollbacks may take in all once the run is stopping (each call also has its own deadline). */
const ROLLBACK_DEADLINE_MS = 120_000;

export async function runSteps(ctx: Context, run: StepRun): Promise<StepResult> {
  const { out } = ctx;
  const c = out.color;
  const n = run.steps.length;
  const done = await Promise.all(run.steps.map(async (s) => (typeof s.done === 'function' ? s.done() : Boolean(s.done))));
  const reports: StepReport[] = run.steps.map((s, i) => ({ step: i + 1, name: s.name, status: done[i] ? 'already done' : 'planned', ...(s.detail ? { detail: s.detail } : {}) }));
  const noop = done.every(Boolean);
  const document = (extra: Record<string, unknown> = {}) =>
    out.data({ ...(run.scope ? { scope: run.scope } : {}), ...(typeof run.json === 'function' ? run.json() : run.json), dryRun: run.dryRun, steps: reports, ...extra });

  if (!out.json) {
    if (run.title) out.line(run.title);
    if (run.scope) for (const line of scopeLines(run.scope)) out.line(line);
    out.line(run.dryRun ? 'steps (dry run, nothing will change):' : 'steps:');
    for (const r of reports) out.line(`  step ${r.step}/${n}  ${r.name}: ${c.dim(r.status)}${r.detail ? `  ${c.dim(r.detail)}` : ''}`);
  }
  if (run.dryRun || noop) {
    if (out.json) document();
    else if (noop) out.line(c.ok('nothing to do: every step is already done'));
    return { steps: reports, noop };
  }
  await run.confirm();

  const show = (r: StepReport) => {
    if (out.json) return;
    const mark = r.status === 'done' ? c.ok('done') : r.status === 'failed' ? c.bad('FAILED') : c.dim(r.status);
    out.line(`step ${r.step}/${n}  ${r.name}: ${mark}${r.detail ? `  ${c.dim(r.detail)}` : ''}`);
  };
  const set = (i: number, status: StepStatus, detail?: string | void) => {
    const r = reports[i]!;
    r.status = status;
    if (detail) r.detail = detail;
    else delete r.detail;
    show(r);
  };

  /** The steps applied (or started) in this run, for rollback. */
  const started: number[] = [];
  let committed = false;
  let at = 0;
  try {
    for (at = 0; at < n; at++) {
      const step = run.steps[at]!;
      if (done[at]) {
        set(at, 'already done');
        continue;
      }
      ctx.checkInterrupted();
      if (step.pointOfNoReturn) committed = true;
      started.push(at);
      const applied = await step.apply();
      const verified = step.verify ? await step.verify() : undefined;
      set(at, 'done', verified || applied);
    }
  } catch (err) {
    const error = ctx.signal.aborted ? stopError(ctx.signal) : err instanceof InterruptedError ? err : asUserError(err);
    set(at, 'failed', error.message);
    for (let i = at + 1; i < n; i++) if (reports[i]!.status === 'planned') reports[i]!.status = 'not run';
    // A write with no answer may land later: the rollback is told, and the run never says that
    // nothing is changed, since nobody can see that.
    const unknownOutcome = isUnknownOutcome(err) || Boolean(run.unknownOutcome?.());
    const undoable = committed ? [] : started.filter((i) => run.steps[i]!.rollback !== undefined);
    const rollback: string[] = [];
    let clean = undoable.length > 0;
    // Rollbacks run after Ctrl-C and after a lost lease too, when the run's signal is aborted:
    // every call they make through ctx gets a signal of their own, bounded by a deadline, and
    // the run's is put back once they are done.
    const runSignal = ctx.signal;
    ctx.signal = AbortSignal.timeout(ROLLBACK_DEADLINE_MS);
    try {
      for (const i of undoable.reverse()) {
        try {
          const said = await run.steps[i]!.rollback!({ unknownOutcome });
          reports[i]!.status = 'rolled back';
          rollback.push(`step ${i + 1} rolled back${said ? `: ${said}` : ''}`);
        } catch (e) {
          clean = false;
          rollback.push(`step ${i + 1} could not be rolled back: ${asUserError(e).message}; the steps before it are left as they are`);
          break;
        }
      }
    } finally {
      ctx.signal = runSignal;
    }
    const state = await readFinalState(run);
    if (clean && unknownOutcome) rollback.push('a write got no answer and may still land: what it may have installed was kept');
    if (out.json) document({ stoppedAt: at + 1, rolledBack: clean && !unknownOutcome, rollback, error: error.message, ...(unknownOutcome ? { unknownOutcome } : {}), ...state.json });
    else for (const line of [...rollback.map((l) => `  ${l}`), ...state.lines]) out.line(line);
    if (error instanceof PartialFailureError) for (const f of error.failures) out.error(`${f.subject}: ${f.error.message}`, f.error.hint);
    const resume = typeof run.resumeHint === 'function' ? run.resumeHint(at + 1) : run.resumeHint;
    const hint =
      clean && !unknownOutcome
        ? (run.rolledBackHint ?? `rolled back: nothing is changed. Fix the cause (${error.hint ?? error.message}) and run again`)
        : `${error.hint && !unknownOutcome ? `${error.hint}; then ` : ''}${resume}`;
    const subject = run.subject ? `${run.subject} ` : '';
    throw new StepsStopped(`${subject}stopped at step ${at + 1} of ${n} (${run.steps[at]!.name}): ${error.message}`, error.exitCode, hint, err);
  }
  const state = await readFinalState(run);
  if (out.json) document(state.json);
  else for (const line of state.lines) out.line(line);
  return { steps: reports, noop: false };
}

async function readFinalState(run: StepRun): Promise<{ lines: string[]; json: Record<string, unknown> }> {
  if (!run.finalState) return { lines: [], json: {} };
  try {
    return await run.finalState();
  } catch (err) {
    const message = `could not read where things stand: ${asUserError(err).message}`;
    return { lines: [message], json: { finalStateError: message } };
  }
}
