// Shared fixtures: one call inside a describe starts a stand-in in that describe's hooks and
// stops it afterwards, however the tests end. The handle is usable as soon as the hooks have
// run (in tests and in later hooks); it forwards to the stand-in that is running then, so a
// per-test stand-in is a fresh one in every test.
//
// Hooks run as a stack (vitest's default): a fixture declared first starts first and stops
// last, so declare moto before what leans on it.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { AwsClients } from '../../src/lib/aws/clients.js';
import { fixtureClients, startFaultProxy, type FaultProxy } from './aws-fixtures.js';
import { startHerokuApi, type HerokuApiServer, type StartHerokuApiOptions } from './heroku-api.js';
import { startMoto, type MotoServer } from './moto.js';
import { startPostgres, type PgCluster, type StartPostgresOptions } from './postgres.js';

/** 'file': one for the describe's tests; 'each': a new one for every test. */
export type Scope = 'file' | 'each';

type Options<T> = T | (() => T);
const resolve = <T>(o: Options<T>): T => (typeof o === 'function' ? (o as () => T)() : o);

/**
 * A handle that forwards every property to what `current()` returns; reading it while
 * nothing is running is a mistake in the test, said as such rather than as `undefined`.
 */
function live<T extends object>(name: string, current: () => T | undefined, extra: Record<string, (target: T) => unknown> = {}, fixed: Record<string, unknown> = {}): T {
  return new Proxy({} as T, {
    get(_, prop) {
      if (prop === 'then') return undefined; // not a promise: `await handle` must not call into it
      if (typeof prop === 'string' && prop in fixed) return fixed[prop];
      const target = current();
      if (!target) throw new Error(`${name} is not running: read it in a test or a hook of the describe that declared it`);
      if (typeof prop === 'string' && prop in extra) return extra[prop]!(target);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** What a fixture holds: the stand-in running now, if any. */
interface Slot<T> {
  current: T | undefined;
}

/** Starts with `start` and stops with `stop` in the scope's hooks; nothing is left running. */
function lifecycle<T>(scope: Scope, start: () => Promise<T>, stop: (t: T) => Promise<void> | void): Slot<T> {
  const slot: Slot<T> = { current: undefined };
  const up = async () => {
    slot.current = await start();
  };
  const down = async () => {
    const t = slot.current;
    slot.current = undefined;
    if (t !== undefined) await stop(t);
  };
  if (scope === 'each') {
    beforeEach(up);
    afterEach(down);
  } else {
    beforeAll(up);
    afterAll(down);
  }
  return slot;
}

export interface MotoHandle extends Omit<MotoServer, 'stop'> {
  /**
   * SDK clients pointed at this moto (destroyed with it). A handle too, so it can be taken
   * once where the describe declares it: `const { aws } = moto`.
   */
  aws: AwsClients;
}

/**
 * moto_server for the describe's tests, with SDK clients on it. `reset: 'each'` empties it
 * before every test (moto's state is global to the server).
 */
export function useMoto(opts: { reset?: 'each' } = {}): MotoHandle {
  const slot = lifecycle(
    'file',
    async () => {
      const moto = await startMoto();
      return { moto, aws: fixtureClients(moto.env) };
    },
    async ({ moto, aws }) => {
      aws.destroy();
      await moto.stop();
    },
  );
  if (opts.reset === 'each') beforeEach(() => slot.current?.moto.reset());
  const aws = live<AwsClients>('moto', () => slot.current?.aws);
  return live<MotoHandle>('moto', () => slot.current?.moto as MotoHandle | undefined, {}, { aws });
}

export interface HerokuHandle extends HerokuApiServer {
  /** HEROKU_API_KEY and HEROKU_API_URL pointing the CLI at this stand-in. */
  env: { HEROKU_API_KEY: string; HEROKU_API_URL: string };
  /** Replaces the running stand-in with one started with other options (stopped as usual). */
  restart(opts: StartHerokuApiOptions): Promise<void>;
}

/** The Heroku Platform API stand-in; by default a fresh one (no drains, no calls) per test. */
export function useHeroku(opts: Options<StartHerokuApiOptions> = {}, scope: Scope = 'each'): HerokuHandle {
  const slot = lifecycle(scope, () => startHerokuApi(resolve(opts)), (h) => h.stop());
  return live<HerokuHandle>('the Heroku API stand-in', () => slot.current as HerokuHandle | undefined, {
    env: (h) => ({ HEROKU_API_KEY: h.token, HEROKU_API_URL: h.url }),
    restart: (h) => async (next: StartHerokuApiOptions) => {
      slot.current = undefined;
      await h.stop();
      slot.current = await startHerokuApi(next);
    },
  });
}

/** A throwaway PostgreSQL cluster for the describe's tests. */
export function usePostgres(opts: StartPostgresOptions = {}): PgCluster {
  const slot = lifecycle('file', () => startPostgres(opts), (c) => c.stop());
  return live('the PostgreSQL cluster', () => slot.current);
}

/** A fault proxy in front of `target` (e.g. moto's endpoint), by default a fresh one per test. */
export function useFaultProxy(target: () => string, scope: Scope = 'each'): FaultProxy {
  const slot = lifecycle(scope, () => startFaultProxy(target()), (p) => p.stop());
  return live('the fault proxy', () => slot.current);
}
