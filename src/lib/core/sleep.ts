import { setTimeout as wait } from 'node:timers/promises';
import { stopError } from './errors.js';

/**
 * Waits `ms`. When `signal` aborts, rejects at once with why the run stopped (Ctrl-C, or the
 * reason given to abort()): a retry loop never sends again after the operator gave up. A loop
 * that should simply end on Ctrl-C catches it.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return void (await wait(ms));
  if (signal.aborted) throw stopError(signal);
  try {
    await wait(ms, undefined, { signal });
  } catch (err) {
    if (signal.aborted) throw stopError(signal);
    throw err;
  }
}

export interface Backoff {
  /** The first wait; each retry doubles it. */
  baseMs: number;
  /** No wait is longer. */
  capMs?: number;
  /**
   * 'full': a random wait up to the doubled value (many clients retrying at once spread out);
   * a number: up to that fraction of baseMs added; none by default.
   */
  jitter?: 'full' | number;
}

/** The wait before retry `n` (0 for the first retry): one exponential formula for every retry loop. */
export function backoffMs(n: number, b: Backoff): number {
  const doubled = Math.min(b.capMs ?? Infinity, b.baseMs * 2 ** n);
  if (b.jitter === 'full') return doubled * Math.random();
  return doubled + (b.jitter ? Math.random() * b.baseMs * b.jitter : 0);
}

/** Waits the backoff before retry `n`; rejects as sleep() does when the run stops. */
export function backoff(n: number, b: Backoff, signal?: AbortSignal): Promise<void> {
  return sleep(backoffMs(n, b), signal);
}
