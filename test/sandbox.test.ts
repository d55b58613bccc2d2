// Keeps `npm run sandbox` from rotting: the same scenario (scripts/sandbox/scenario.ts), with
// each raxx-ops command run in-process through runCli instead of as a subprocess of the build.
import { describe, expect, it } from 'vitest';
import { runSandbox, type CliRunner, type CommandResult, type LineSink } from '../scripts/sandbox/scenario.js';
import { motoAvailable } from './support/moto.js';
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

describe.runIf(motoAvailable)('sandbox', () => {
  it('runs every step of the drain scenario and tears down', async () => {
    const transcript: string[] = [];
    // Faster than `npm run sandbox`: no grace after the rotation and a sparser history (logs
    // status then says warning, not healthy, which still exits 0).
    const report = await runSandbox({ runner: inProcess, print: (l) => transcript.push(l), graceSeconds: 0, historyEveryMinutes: 60 });
    expect(report.failure, transcript.slice(-40).join('\n')).toBeUndefined();
    expect(report.steps.map((s) => [s.step, s.ok])).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => [n, true]));
    expect(report.sender.batches).toBeGreaterThan(0);
    expect(report.sender).toMatchObject({ status403: 0, lost: 0 });
    expect(transcript).toContain('$ raxx-ops drains rotate --yes --grace 0');
    expect(transcript.filter((l) => l.startsWith('  ✓ ')).length).toBeGreaterThan(15);
  }, 60_000);
});
