// Shared fixtures: one call inside a describe starts a stand-in in that describe's hooks and
// stops it afterwards, however the tests end. The handle is usable as soon as the hooks have
// run (in tests and in later hooks); it forwards to the stand-in that is running then, so a
// per-test stand-in is a fresh one in every test.
//
// Hooks run as a stack (vitest's default): a fixture declared first stops last, so declare
// moto before what leans on it. The per-describe stand-ins (moto, PostgreSQL, a per-describe
// Heroku API) do not lean on each other: the first of their beforeAll hooks starts them all
// at once and each hook then waits for its own, so a describe with moto and PostgreSQL waits
// for the slower of the two rather than for both in turn.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { getCurrentSuite } from 'vitest/suite';
import type { AwsClients } from '../../src/lib/aws/clients.js';
import { fixtureClients, startFaultProxy, type FaultProxy } from './aws-fixtures.js';
import { startHerokuApi, type HerokuApiServer, type StartHerokuApiOptions } from './heroku-api.js';
import { startMoto, type MotoServer } from './moto.js';
import { startPostgres, type PgCluster, type StartPostgresOptions } from './postgres.js';
import { startFaultProxy as startS3FaultProxy, type FaultProxy as S3FaultProxy, type FaultProxyOptions } from './fault-proxy.js';
import { startSlack, type SlackStandIn } from './slack-webhook.js';
import { startDrainStack } from './drain-stand-ins.js';

/** 'file': one for the describe's tests; 'each': a new one for every test. */
export type Scope = 'file' | 'each';

type Options<T> = T | (() => T);
const resolve = <T>(o: Options<T>): T => (typeof o === 'function' ? (o as () => T)() : o);

/**
 * A handle that forwards every property to what `current()` returns; reading it while
 * nothing is running is a mistake in the test, said as such rather than as `undefined`.
 */
export function live<T extends object>(name: string, current: () => T | undefined, extra: Record<string, (target: T) => unknown> = {}, fixed: Record<string, unknown> = {}): T {
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

/**
 * Starts with `start` and stops with `stop` in the scope's hooks; nothing is left running.
 * `together`: a per-describe stand-in that needs no other fixture to start.
 */
function lifecycle<T>(scope: Scope, start: () => Promise<T>, stop: (t: T) => Promise<void> | void, together = false): Slot<T> {
  const slot: Slot<T> = { current: undefined };
  const down = async () => {
    const t = slot.current;
    slot.current = undefined;
    if (t !== undefined) await stop(t);
  };
  const up = async () => {
    slot.current = await start();
  };
  if (scope === 'each') {
    beforeEach(up);
    afterEach(down);
    return slot;
  }
  if (!together) {
    beforeAll(up);
    afterAll(down);
    return slot;
  }
  // Started together with the describe's other independent stand-ins (see above). Whatever
  // started is stopped, even when another one failed and its own hook never ran.
  let started: Promise<void> | undefined;
  const kick = () => {
    started ??= start().then((t) => {
      slot.current = t;
    });
    return started;
  };
  const group = startedTogether(kick);
  beforeAll(async () => {
    for (const other of group) other().catch(() => undefined); // each reports in its own hook
    await kick();
  });
  afterAll(async () => {
    await started?.catch(() => undefined);
    started = undefined;
    await down();
  });
  return slot;
}

const groups = new WeakMap<object, (() => Promise<void>)[]>();

/** The start functions declared in the describe being collected now, with `kick` among them. */
function startedTogether(kick: () => Promise<void>): (() => Promise<void>)[] {
  const suite = getCurrentSuite();
  let group = groups.get(suite);
  if (!group) groups.set(suite, (group = []));
  group.push(kick);
  return group;
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
    true,
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
  // Options given as a function may read another fixture, so that stand-in starts in turn.
  const slot = lifecycle(scope, () => startHerokuApi(resolve(opts)), (h) => h.stop(), typeof opts !== 'function');
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
  const slot = lifecycle('file', () => startPostgres(opts), (c) => c.stop(), true);
  return live('the PostgreSQL cluster', () => slot.current);
}

/** A fault proxy in front of `target` (e.g. moto's endpoint), by default a fresh one per test. */
export function useFaultProxy(target: () => string, scope: Scope = 'each'): FaultProxy {
  const slot = lifecycle(scope, () => startFaultProxy(target()), (p) => p.stop());
  return live('the fault proxy', () => slot.current);
}

/**
 * The S3 fault proxy (fault-proxy.ts: faults by method and path, a skewed clock) in front of
 * `target` for the describe's tests; its faults cleared after every test.
 */
export function useS3FaultProxy(target: () => string, opts: FaultProxyOptions = {}): S3FaultProxy {
  const slot = lifecycle('file', () => startS3FaultProxy(target(), opts), (p) => p.close());
  afterEach(() => slot.current?.setFaults([]));
  return live('the S3 fault proxy', () => slot.current);
}

/** A Slack webhook stand-in for the describe's tests; its messages cleared after every test. */
export function useSlack(): SlackStandIn {
  const slot = lifecycle('file', startSlack, (s) => s.close());
  afterEach(() => {
    if (slot.current) slot.current.messages.length = 0;
  });
  return live('the Slack stand-in', () => slot.current);
}

/**
 * The drain as the runbooks leave it (bucket, receiver function served on loopback, SSM
 * parameters), made afresh in `moto` for every test; the handle is the served receiver.
 */
export function useDrainStack(moto: MotoHandle, opts: { bucket: string; functionName: string; token: string }): { base: string } {
  const slot = lifecycle('each', () => startDrainStack(moto.aws, moto.env, opts), (r) => r.stop());
  return live('the drain stack', () => slot.current);
}
