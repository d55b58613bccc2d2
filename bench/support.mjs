// What the benchmarks share: command-line options, a child's peak resident set, moto with a
// config for the built CLI, the signer's hash, and the deterministic random numbers their data
// is made from.
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** `--name value` from the command line, or `dflt`. */
export function option(name, dflt, args = process.argv.slice(2)) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}

/**
 * Polls the high-water mark of a child's resident set (Linux /proc) every `everyMs` while it
 * runs; `stop()` ends the polling and returns the peak in MB.
 */
export function watchPeakRss(pid, everyMs) {
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // exited
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(poll);
      return peakKb / 1024;
    },
  };
}

/**
 * A moto and a work folder for a benchmark of the built CLI: `fn` gets the CLI's environment
 * (`config` written and named) and moto; both are gone afterwards, however `fn` ends.
 */
export async function withBenchMoto(prefix, config, fn) {
  if (!existsSync(`${root}dist/cli.js`)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const { tsImport } = await import('tsx/esm/api');
  const { startMoto } = await tsImport('../test/support/moto.ts', import.meta.url);
  const moto = await startMoto();
  const work = await mkdtemp(join(tmpdir(), prefix));
  try {
    const path = join(work, 'raxx-ops.json');
    await writeFile(path, JSON.stringify(config));
    const env = { ...process.env, ...moto.env, RAXX_OPS_CONFIG: path, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' };
    return await fn({ env, moto });
  } finally {
    await moto.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** The hash a SigV4 signer asks for, on node:crypto (as the SDK's Node client uses). */
export class Sha256 {
  constructor(secret) {
    this.h = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(data) {
    this.h.update(data);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

/** A small deterministic PRNG (mulberry32): the same numbers every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
