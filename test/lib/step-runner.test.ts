// The step runner on its own: plan, one confirmation, order, verification, rollback up to the
// point of no return, resume from what the steps report as done, and the --json report.
import { describe, expect, it } from 'vitest';
import { createContext, type Context } from '../../src/lib/run/context.js';
import { ServiceError, UnknownOutcomeError } from '../../src/lib/core/errors.js';
import type { RollbackContext } from '../../src/lib/run/step-runner.js';
import { runSteps, StepsStopped, type Step } from '../../src/lib/run/step-runner.js';

async function context(opts: { json?: boolean; yes?: boolean; signal?: AbortSignal } = {}): Promise<{ ctx: Context; stdout: () => string; stderr: () => string }> {
  let stdout = '';
  let stderr = '';
  const ctx = await createContext(
    { env: 'prod', json: Boolean(opts.json), color: false, debug: false, yes: opts.yes ?? true },
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {}, ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  return { ctx, stdout: () => stdout, stderr: () => stderr };
}

/*
 * A toy system: a set of switches; each step turns one on, verifiably, and can turn it off.
 * Its steps are async like real ones, so a failure in them is a rejection, never a throw.
 */
/* eslint-disable @typescript-eslint/require-await -- see above: async without await is the point here */
function system() {
  const on = new Set<string>();
  const log: string[] = [];
  const step = (name: string, extra: Partial<Step> & { fail?: string } = {}): Step => ({
    name,
    done: () => Promise.resolve(on.has(name)),
    async apply() {
      log.push(`apply ${name}`);
      if (extra.fail === 'apply') throw new ServiceError('Toy', `${name} refused`, { hint: 'try later' });
      on.add(name);
    },
    async verify() {
      if (extra.fail === 'verify' || !on.has(name)) throw new ServiceError('Toy', `${name} did not take`);
      return `${name} is on`;
    },
    async rollback() {
      log.push(`rollback ${name}`);
      on.delete(name);
    },
    ...extra,
  });
  return { on, log, step };
}

describe('runSteps', () => {
  it('prints the plan, asks once, applies and verifies in order', async () => {
    const { ctx, stdout } = await context();
    const sys = system();
    let asked = 0;
    const result = await runSteps(ctx, {
      title: 'switch a and b on',
      dryRun: false,
      steps: [sys.step('a'), sys.step('b')],
      confirm: async () => void asked++,
      resumeHint: 'run again',
    });
    expect(asked).toBe(1);
    expect(sys.log).toEqual(['apply a', 'apply b']);
    expect(result.steps.map((s) => s.status)).toEqual(['done', 'done']);
    expect(stdout()).toBe('switch a and b on\nsteps:\n  step 1/2  a: planned\n  step 2/2  b: planned\nstep 1/2  a: done  a is on\nstep 2/2  b: done  b is on\n');
  });

  it('a dry run plans and changes nothing, without asking', async () => {
    const { ctx, stdout } = await context({ json: true });
    const sys = system();
    sys.on.add('a');
    await runSteps(ctx, { title: 't', dryRun: true, json: { what: 'toy' }, steps: [sys.step('a'), sys.step('b')], confirm: () => Promise.reject(new Error('asked')), resumeHint: '' });
    expect(sys.log).toEqual([]);
    expect(JSON.parse(stdout())).toEqual({ what: 'toy', dryRun: true, steps: [{ step: 1, name: 'a', status: 'already done' }, { step: 2, name: 'b', status: 'planned' }] });
  });

  it('a failure rolls back the steps of this run, in reverse, and keeps the cause’s exit code', async () => {
    const { ctx, stdout } = await context({ json: true });
    const sys = system();
    const err = await runSteps(ctx, { title: 't', dryRun: false, steps: [sys.step('a'), sys.step('b'), sys.step('c', { fail: 'verify' })], confirm: async () => {}, resumeHint: 'rerun' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepsStopped);
    expect((err as StepsStopped).exitCode).toBe(4);
    expect((err as StepsStopped).message).toMatch(/^stopped at step 3 of 3 \(c\): c did not take/);
    expect((err as StepsStopped).hint).toMatch(/^rolled back: nothing is changed/);
    expect(sys.log).toEqual(['apply a', 'apply b', 'apply c', 'rollback c', 'rollback b', 'rollback a']);
    expect(sys.on.size).toBe(0);
    const doc = JSON.parse(stdout()) as { stoppedAt: number; rolledBack: boolean; steps: { status: string }[] };
    expect(doc.stoppedAt).toBe(3);
    expect(doc.rolledBack).toBe(true);
    expect(doc.steps.map((s) => s.status)).toEqual(['rolled back', 'rolled back', 'rolled back']);
  });

  it('a rollback that fails stops the ones before it: what they did may keep its leftovers working', async () => {
    const { ctx, stdout } = await context({ json: true });
    const sys = system();
    const b = sys.step('b');
    const err = (await runSteps(ctx, {
      title: 't',
      dryRun: false,
      steps: [sys.step('a'), { ...b, rollback: () => Promise.reject(new ServiceError('Toy', 'b stuck')) }, sys.step('c', { fail: 'apply' })],
      confirm: async () => {},
      resumeHint: (step) => `finish from step ${step}`,
    }).catch((e: unknown) => e)) as StepsStopped;
    expect(sys.log).toEqual(['apply a', 'apply b', 'apply c', 'rollback c']);
    expect([...sys.on]).toEqual(['a', 'b']);
    expect(err.hint).toBe('try later; then finish from step 3');
    const doc = JSON.parse(stdout()) as { rolledBack: boolean; rollback: string[]; steps: { status: string }[] };
    expect(doc.rolledBack).toBe(false);
    expect(doc.rollback[1]).toMatch(/step 2 could not be rolled back: b stuck/);
    expect(doc.steps.map((s) => s.status)).toEqual(['done', 'done', 'rolled back']);
  });

  it('past a point of no return nothing is rolled back, and a rerun resumes without repeating a finished step', async () => {
    const { ctx } = await context();
    const sys = system();
    let failC = true;
    const steps = () => [
      sys.step('a'),
      sys.step('b', { pointOfNoReturn: true }),
      { ...sys.step('c'), apply: async () => {
        sys.log.push('apply c');
        if (failC) throw new ServiceError('Toy', 'c refused');
        sys.on.add('c');
      } },
      sys.step('d'),
    ];
    const err = (await runSteps(ctx, { title: 't', dryRun: false, steps: steps(), confirm: async () => {}, resumeHint: 'run it again to finish' }).catch((e: unknown) => e)) as StepsStopped;
    expect(err.hint).toMatch(/run it again to finish/);
    expect([...sys.on]).toEqual(['a', 'b']);
    failC = false;
    sys.log.length = 0;
    const result = await runSteps(ctx, { title: 't', dryRun: false, steps: steps(), confirm: async () => {}, resumeHint: '' });
    expect(sys.log).toEqual(['apply c', 'apply d']);
    expect(result.steps.map((s) => s.status)).toEqual(['already done', 'already done', 'done', 'done']);
  });

  it('Ctrl-C between steps stops before the next one and rolls back (exit 130)', async () => {
    const abort = new AbortController();
    const { ctx } = await context({ signal: abort.signal });
    const sys = system();
    const a = sys.step('a');
    const err = (await runSteps(ctx, {
      title: 't',
      dryRun: false,
      steps: [{ ...a, apply: async () => { await a.apply(); abort.abort(); } }, sys.step('b')],
      confirm: async () => {},
      resumeHint: '',
    }).catch((e: unknown) => e)) as StepsStopped;
    expect(err.exitCode).toBe(130);
    expect(sys.log).toEqual(['apply a', 'rollback a']);
  });

  it('a write without an answer: rollbacks are told, and the run never says nothing is changed', async () => {
    const { ctx, stdout } = await context({ json: true });
    const sys = system();
    const told: RollbackContext[] = [];
    const steps = [
      sys.step('a', { rollback: async (why) => void told.push(why) }),
      sys.step('b', {
        apply: () => Promise.reject(new UnknownOutcomeError('Toy', 'b got no answer; the change may or may not have been made', 'ETIMEDOUT', undefined)),
        rollback: async (why) => void told.push(why),
      }),
    ];
    const err = (await runSteps(ctx, { title: 't', dryRun: false, steps, confirm: async () => {}, resumeHint: 'run it again: it reads the state first' }).catch((e: unknown) => e)) as StepsStopped;
    expect(err).toBeInstanceOf(StepsStopped);
    expect(told).toEqual([{ unknownOutcome: true }, { unknownOutcome: true }]);
    expect(err.hint).toBe('run it again: it reads the state first');
    const doc = JSON.parse(stdout()) as { rolledBack: boolean; unknownOutcome: boolean; rollback: string[] };
    expect(doc).toMatchObject({ rolledBack: false, unknownOutcome: true });
    expect(doc.rollback.at(-1)).toBe('a write got no answer and may still land: what it may have installed was kept');
  });

  it('nothing to do when every step is already done: no question asked', async () => {
    const { ctx, stdout } = await context({ yes: false });
    const sys = system();
    sys.on.add('a');
    const result = await runSteps(ctx, { title: 't', dryRun: false, steps: [sys.step('a')], confirm: () => ctx.confirm('sure?'), resumeHint: '' });
    expect(result.noop).toBe(true);
    expect(stdout()).toMatch(/nothing to do/);
  });
});
