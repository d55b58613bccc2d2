// Decides what a test file does when a local stand-in is missing: under CI it is an error
// (a green run must mean the tests ran), elsewhere the tests are skipped with a line that
// says how to install what is missing.
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';

export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

export function requireStandIn(name: string, available: boolean, installHint: string): boolean {
  if (available) return true;
  if (isCI()) {
    throw new Error(`stand-in missing under CI: ${name}. ${installHint}`);
  }
  console.warn(`[stand-in] ${name} not found, skipping its tests. ${installHint}`);
  return false;
}

export function commandWorks(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

/** A free TCP port on loopback (the OS picks it; closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: Error | undefined;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastErr = err instanceof Error ? err : new Error(String(err));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${lastErr.name}: ${lastErr.message}` : ''}`);
}

/** A one-shot event a test can await and a stand-in (or a callback) can fire. */
export interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
