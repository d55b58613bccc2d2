// npm run sandbox: a tour of every runbook on this machine, with the built CLI
// (`node bin/raxx-ops …`) run as subprocesses against local stand-ins, then everything torn
// down. Exit 0 when every step did what it should, 1 when one did not, 2 on a bad flag, 3 when a
// stand-in is missing, 130 on Ctrl-C. The steps themselves are in sandbox/scenario.ts.
//
//   npm run sandbox                      the whole tour
//   npm run sandbox -- --only audit      one step, with the set-up it needs
//   npm run sandbox -- --keep            leave the stack up, print the exports to use it by hand
//
// RAXX_OPS_SANDBOX_FROM_SOURCE=1 runs the CLI from src/ instead of dist/ (the tests do);
// RAXX_OPS_SANDBOX_CLI=FILE runs FILE with node instead (the tests' bundle of src/).
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackgroundCommand, CliRunner, CommandResult, LineSink } from './sandbox/scenario.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fromSource = process.env.RAXX_OPS_SANDBOX_FROM_SOURCE === '1';
const given = process.env.RAXX_OPS_SANDBOX_CLI;
const launcher = given
  ? [given]
  : fromSource
    ? ['--conditions=source', '--import', 'tsx', join(root, 'test', 'support', 'raxx-ops-from-source.mjs')]
    : [join(root, 'bin', 'raxx-ops')];
// An empty HOME: no ~/.netrc, ~/.aws or config of the machine reaches the CLI.
const home = mkdtempSync(join(tmpdir(), 'raxx-ops-sandbox-home-'));
process.on('exit', () => rmSync(home, { recursive: true, force: true }));

/** Runs `node bin/raxx-ops ARGV` with only PATH, HOME and the given environment. */
function spawnCli(argv: string[], env: Record<string, string>, onLine: LineSink): { done: Promise<CommandResult>; interrupt(): void } {
  const child = spawn(process.execPath, [...launcher, ...argv], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream].setEncoding('utf8');
    child[stream].on('data', (chunk: string) => {
      out[stream] += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(stream, line);
    });
    child[stream].on('end', () => partial !== '' && onLine(stream, partial));
  }
  let killer: NodeJS.Timeout | undefined;
  const done = new Promise<CommandResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), ...out });
    });
  });
  return {
    done,
    interrupt() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    },
  };
}

const subprocesses: CliRunner = {
  run(argv, { env, signal, onLine }) {
    const cli = spawnCli(argv, env, onLine);
    signal.addEventListener('abort', () => cli.interrupt(), { once: true });
    return cli.done;
  },
  start(argv, { env, onLine }): BackgroundCommand {
    const cli = spawnCli(argv, env, onLine);
    return {
      done: cli.done,
      stop() {
        cli.interrupt();
        return cli.done;
      },
    };
  },
};

const print = (line: string) => process.stdout.write(`${line}\n`);
const fail = (message: string, code: number): never => {
  process.stderr.write(`sandbox: ${message}\n`);
  process.exit(code);
};

const { TOUR_STEPS } = await import('./sandbox/scenario.js');
let flags: { keep?: boolean; only?: string; help?: boolean } = {};
try {
  flags = parseArgs({ options: { keep: { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
} catch (err) {
  fail(`${(err as Error).message}\nhint: npm run sandbox -- [--keep] [--only <step>]`, 2);
}
if (flags.help) {
  print('npm run sandbox -- [--keep] [--only <step>]');
  print(`  --only <step>  one step of the tour, with the set-up it needs: ${TOUR_STEPS.join(', ')}`);
  print('  --keep         leave the stack up afterwards and print the exports to use raxx-ops against it');
  process.exit(0);
}
if (flags.only !== undefined && !TOUR_STEPS.includes(flags.only)) fail(`--only: no step "${flags.only}"\nhint: one of ${TOUR_STEPS.join(', ')}`, 2);

/** --keep: the exports for a shell, then wait for Ctrl-C. */
async function keep(env: Record<string, string>): Promise<void> {
  print('');
  print('# In another shell, to use raxx-ops against this stack (these are the stand-ins\' own keys):');
  for (const [k, v] of Object.entries(env)) print(`export ${k}=${shellWord(v)}`);
  print(`alias raxx-ops=${shellWord(`node ${join(root, 'bin', 'raxx-ops')}`)}`);
  print('# e.g.  raxx-ops doctor   ·   raxx-ops logs grep status=503 --app raxx-api-prod --since 10m');
  print('# Ctrl-C here stops everything.');
  if (controller.signal.aborted) return;
  await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
}

function shellWord(v: string): string {
  return /^[\w./:=@%+,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

// moto_server first: without it there is nothing to run.
const { motoCommand, MOTO_INSTALL_HINT } = await import('../test/support/moto-command.js');
if (!motoCommand) fail(`moto_server is not installed. ${MOTO_INSTALL_HINT}`, 3);

const { runSandbox } = await import('./sandbox/scenario.js');
const { postgresAvailable } = await import('../test/support/postgres.js');
if (!postgresAvailable) fail('PostgreSQL is not installed.\nhint: apt-get install postgresql (initdb and pg_ctl; as root, runuser and the postgres user too)', 3);
const controller = new AbortController();
let interruptedAt = 0;
process.on('SIGINT', () => {
  // npm and tsx pass the terminal's Ctrl-C on as well: copies arriving within a second are one press.
  if (controller.signal.aborted) {
    if (Date.now() - interruptedAt > 1000) process.exit(130);
    return;
  }
  interruptedAt = Date.now();
  print(flags.keep && keeping ? '\nCtrl-C: tearing down' : '\nCtrl-C: stopping and tearing down (press again to quit at once)');
  controller.abort();
});

let keeping = false;
print(`raxx-ops sandbox: ${flags.only ? `the "${flags.only}" step of the tour` : 'a tour of every runbook'} against local stand-ins`);
print('Each `$ raxx-ops …` runs the built CLI; its stdout is shown after │, its stderr after ┊.');
const report = await runSandbox({
  runner: subprocesses,
  print,
  signal: controller.signal,
  workDir: '.raxx-ops-sandbox',
  ...(flags.only ? { only: flags.only } : {}),
  ...(flags.keep ? { keep: (env: Record<string, string>) => ((keeping = true), keep(env)) } : {}),
});

print('');
print('== summary');
for (const s of report.steps) print(`  ${s.ok ? '✓' : '✗'} ${s.step}. ${s.title} (${(s.ms / 1000).toFixed(1)} s)`);
const { sender } = report;
if (sender.batches > 0) {
  print(`  Logplex sender: ${sender.batches} batches, ${sender.lines} lines, ${sender.status403} answered 403, ${sender.lost} lost`);
}
print(`  ${report.commands} raxx-ops commands in ${(report.ms / 1000).toFixed(1)} s`);
if (report.failure?.interrupted) fail('interrupted; everything it started is stopped', 130);
if (report.failure?.step === 0) fail(report.failure.message, 1);
if (report.failure) fail(`step ${report.failure.step} (${report.failure.title}) failed: ${report.failure.message}`, 1);
print('sandbox: every step did what it should; everything it started is stopped');
