// Keeps `npm run sandbox` from rotting: the same scenario (scripts/sandbox/scenario.ts), with
// each raxx-ops command run in-process through runCli instead of as a subprocess of the build.
import { describe, expect, it } from 'vitest';
import { runSandbox, type CliRunner, type CommandResult, type LineSink } from '../scripts/sandbox/scenario.js';
import { motoAvailable } from './support/moto.js';
import { postgresAvailable } from './support/postgres.js';
import { runCli } from './support/run-cli.js';

/** Hands the output of a finished command to the scenario line by line. */
function emit(r: CommandResult, onLine: LineSink): CommandResult {
  for (const stream of ['stdout', 'stderr'] as const) {
    const lines = r[stream].split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const line of lines) onLine(stream, line);
  }
  return r;
}

const inProcess: CliRunner = {
  async run(argv, { env, signal, onLine }) {
    return emit(await runCli(argv, { env, signal }), onLine);
  },
  start(argv, { env, onLine }) {
    const ac = new AbortController();
    const done = runCli(argv, { env, signal: ac.signal }).then((r) => emit(r, onLine));
    return {
      done,
      stop() {
        ac.abort();
        return done;
      },
    };
  },
};

describe.runIf(motoAvailable && postgresAvailable)('sandbox', () => {
  it('runs every step of the tour and tears down', async () => {
    const transcript: string[] = [];
    // Faster than `npm run sandbox`: no grace after the rotation and a sparser history (logs
    // status then says warning, not healthy, which still exits 0).
    const report = await runSandbox({ runner: inProcess, print: (l) => transcript.push(l), graceSeconds: 0, historyEveryMinutes: 60 });
    expect(report.failure, transcript.slice(-40).join('\n')).toBeUndefined();
    expect(report.steps.map((s) => [s.step, s.ok])).toEqual(Array.from({ length: 13 }, (_, i) => [i + 1, true]));
    expect(report.sender.batches).toBeGreaterThan(0);
    expect(report.sender).toMatchObject({ status403: 0, lost: 0 });
    expect(transcript).toContain('$ raxx-ops drains rotate --yes --grace 0');
    for (const command of ['drains wire', 'drains test', 'logs grep', 'logs status', 'audit smoke', 'attachments restore', 'attachments rotate-access-key', 'logs ship', 'logs compact', 'logs query', 'drains rotate', 'doctor']) {
      expect(transcript.some((l) => l.startsWith(`$ raxx-ops ${command}`)), command).toBe(true);
    }
    expect(transcript).toContain('  ✓ doctor fails the token check, names failure mode B and the fix (raxx-ops drains rotate, which repairs), exit 1');
    expect(transcript.filter((l) => l.startsWith('  ✓ ')).length).toBeGreaterThanOrEqual(30);
    // The whole tour: about two minutes on a busy two-core machine, so the limit leaves room.
  }, 300_000);

  it('--only runs one step with the set-up it needs, and --keep hands over the stack until asked to stop', async () => {
    const transcript: string[] = [];
    let kept: Record<string, string> | undefined;
    const report = await runSandbox({
      runner: inProcess,
      print: (l) => transcript.push(l),
      historyEveryMinutes: 240,
      only: 'restore',
      keep: async (env) => {
        kept = env;
        // The stack is up: a command run by hand against it works.
        const r = await runCli(['attachments', 'kms-status'], { env });
        expect(r.code, r.stderr).toBe(0);
      },
    });
    expect(report.failure, transcript.slice(-40).join('\n')).toBeUndefined();
    expect(report.steps.map((s) => s.title.split(':')[0])).toEqual(['stand-ins', 'the receiver', 'log drain runbook', 'Logplex starts posting router and web lines to every app\'s drain; the database\'s log follows', 'attachments runbook', 'tearing down']);
    expect(transcript.some((l) => l.startsWith('$ raxx-ops attachments restore'))).toBe(true);
    expect(transcript.some((l) => l.startsWith('$ raxx-ops audit smoke'))).toBe(false);
    expect(Object.keys(kept ?? {})).toEqual(expect.arrayContaining(['AWS_ENDPOINT_URL', 'HEROKU_API_URL', 'HEROKU_API_KEY', 'RAXX_OPS_CONFIG']));
    await expect(runSandbox({ runner: inProcess, print: () => undefined, only: 'nope' })).rejects.toThrow(/no tour step "nope"/);
  }, 90_000);
});
