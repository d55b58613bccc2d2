// Ctrl-C during `npm run sandbox` stops everything it started. The tour runs as its own process
// (scripts/sandbox.ts, the CLI from source so nothing needs building), is interrupted at a
// random step, and afterwards no process of it is left: none in its process group, no
// PostgreSQL on its cluster, no moto_server on its port, and its temporary folders are gone.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { motoAvailable } from './support/moto.js';
import { postgresAvailable } from './support/postgres.js';
import { SOURCE_CLI_ENV } from './support/source-cli-bundle.js';
import { tempDir } from './support/temp.js';
import { waitFor } from './support/stand-in.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const STEPS = 13;

/** Every live process: pid, process group and command line. */
function processes(): { pid: number; pgid: number; cmdline: string }[] {
  const out: { pid: number; pgid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name in stat is parenthesised and may hold spaces: split after it.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      out.push({ pid: Number(entry), pgid: Number(fields[2]), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // Gone while reading.
    }
  }
  return out;
}

describe.runIf(motoAvailable && postgresAvailable && process.platform === 'linux')('sandbox: Ctrl-C', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    // Only if the test failed half-way: nothing of it may outlive the run.
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  });

  // Never the last step: tearing down is what Ctrl-C would do anyway.
  const step = 1 + Math.floor(Math.random() * (STEPS - 1));
  it(`interrupted at step ${step} of ${STEPS}, it leaves no process and no folder behind`, async () => {
    // Its own temp directory (tsx's cache lands there too), removed after the file; the
    // postgres user must reach the cluster's folder inside it.
    const tmp = tempDir('raxx-ops-sandbox-ctrl-c-');
    chmodSync(tmp, 0o755);
    child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(root, 'scripts', 'sandbox.ts')], {
      cwd: root,
      // Each command from the run's bundle of the source (source-cli-bundle.ts) when there is
      // one: through tsx, with this cold cache, every command would compile the source again.
      env: { ...process.env, RAXX_OPS_SANDBOX_FROM_SOURCE: '1', RAXX_OPS_SANDBOX_CLI: process.env[SOURCE_CLI_ENV] ?? '', NO_COLOR: '1', TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, as a terminal's foreground job: what it starts shares it.
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (new RegExp(`^== ${step}/${STEPS} `, 'm').test(stdout)) resolve();
      });
      void exited.then(() => reject(new Error(`the sandbox ended before step ${step}:\n${stdout}\n${stderr}`)));
    });
    // Somewhere inside the step, not only at its start: the random delay is the point.
    await new Promise((r) => setTimeout(r, Math.random() * 1500));
    const pgid = child.pid!;
    process.kill(child.pid!, 'SIGINT');
    const code = await exited;
    const transcript = `${stdout}\n${stderr}`;
    expect(code, transcript.slice(-3000)).toBe(130);
    expect(stdout).toContain('Ctrl-C: stopping and tearing down');

    const pgDir = /logging to (\S+)\/postgres\.log/.exec(stdout)?.[1];
    const motoPort = /moto_server on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1];
    const workDir = /declared in (\S+)\/raxx-ops\.json/.exec(stdout)?.[1];
    const leftOver = () =>
      processes().filter(
        (p) => p.pgid === pgid || (pgDir !== undefined && p.cmdline.includes(pgDir)) || (motoPort !== undefined && /moto/.test(p.cmdline) && p.cmdline.includes(`-p ${motoPort}`)),
      );
    // Exiting children may still be being reaped: wait until they are gone (or a while passed).
    await waitFor(() => leftOver().length === 0, 'the sandbox processes to be gone', 5_000).catch(() => undefined);
    const left = leftOver();
    expect(left.map((p) => `${p.pid} ${p.cmdline}`), transcript.slice(-3000)).toEqual([]);
    if (pgDir) expect(existsSync(pgDir), `${pgDir} is removed`).toBe(false);
    if (workDir) expect(existsSync(workDir), `${workDir} is removed`).toBe(false);
    // The step is random: a late one runs most of the tour first, over two minutes when busy.
  }, 300_000);
});
