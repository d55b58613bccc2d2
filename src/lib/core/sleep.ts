import { setTimeout as wait } from 'node:timers/promises';

/** Waits `ms`, or less when `signal` aborts; callers check the signal afterwards. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await wait(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
}
