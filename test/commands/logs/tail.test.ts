// logs tail against moto: the engine with a faked clock (hours pass in a second, objects land
// between polls, across midnight, late under an earlier key), and the command as an operator
// runs it (real time, Ctrl-C on a pseudo-terminal).
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { CTRL_C, killAll, ptyAvailable, sourceCli, spawnPty } from '../../support/pty.js';
import { tempDir } from '../../support/temp.js';
import { LogStore, type LogObject } from '../../../src/lib/logs/store.js';
import { tail, TAIL_HORIZON_MS, type TailOptions } from '../../../src/lib/logs/tail.js';
import { batch, BUCKET, createDrainBucket, put, reference, type Stored } from './fixtures.js';

const API = 'raxx-api-prod';
const CONSOLE = 'raxx-console-prod';
const MIN = 60_000;

describe.skipIf(!motoAvailable)('logs tail (moto)', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  let store: LogStore;

  beforeAll(() => {
    store = new LogStore({ s3: () => aws.s3(), bucket: BUCKET, keyPrefix: 'logs/', endpoint: moto.env.AWS_ENDPOINT_URL! });
  });
  beforeEach(() => createDrainBucket(aws));
  afterEach(() => killAll());

  /**
   * Runs the engine on a faked clock: each sleep advances it by the interval and then lands
   * the objects scheduled up to the new time (as the receiver would have written them).
   */
  async function run(opts: { start: number; apps: string[]; backlog: number; polls: number; intervalMs?: number; landing?: Map<number, Stored[]>; select?: (l: string) => string | undefined }) {
    let clock = opts.start;
    const printed: { obj: LogObject; lines: string[] }[] = [];
    const events: string[] = [];
    const landing = opts.landing ?? new Map<number, Stored[]>();
    const ac = new AbortController();
    const o: TailOptions = {
      apps: opts.apps,
      backlog: opts.backlog,
      intervalMs: opts.intervalMs ?? 2_000,
      silentAfterMs: 15 * MIN,
      select: opts.select ?? ((l) => l.replace(/^\d{1,8} </, '<')),
      now: () => clock,
      async sleep(ms) {
        const next = clock + ms;
        for (const [at, objs] of [...landing]) {
          if (at <= next) {
            await put(aws, objs);
            landing.delete(at);
          }
        }
        clock = next;
      },
      signal: ac.signal,
      print: (obj, lines) => void printed.push({ obj, lines }),
      silent: (app) => void events.push(`silent ${app}`),
      resumed: (app) => void events.push(`resumed ${app}`),
      problem: (obj, p) => void events.push(`problem ${obj.key} ${p}`),
      polls: opts.polls,
    };
    const stats = await tail(store, o);
    return { printed, events, stats, lines: printed.flatMap((p) => p.lines), keys: printed.map((p) => p.obj.key) };
  }

  const texts = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} line ${i}`);

  it('prints the last N lines of every app in time order, then what lands, in key order', async () => {
    const t0 = Date.parse('2025-06-02T12:00:00Z');
    const old = [batch(API, t0 - 30 * MIN, texts('a1', 4)), batch(CONSOLE, t0 - 20 * MIN, texts('c1', 4)), batch(API, t0 - 10 * MIN, texts('a2', 4))];
    await put(aws, old);
    const later = [batch(CONSOLE, t0 + 1_000, texts('c2', 2)), batch(API, t0 + 500, texts('a3', 2))];
    const r = await run({ start: t0, apps: [API, CONSOLE], backlog: 6, polls: 3, landing: new Map([[t0 + 2_000, later]]) });
    // The backlog: the last 6 lines of the three objects (c1's last two, a2's four).
    expect(r.lines.slice(0, 6)).toEqual([...reference(old).slice(-6)]);
    // Then the two new objects, by key time across apps (a3 before c2).
    expect(r.lines.slice(6)).toEqual(reference(later));
    expect(r.keys.slice(-2)).toEqual([later[1]!.key, later[0]!.key]);
  });

  it('prints an object that lands late under an earlier key once, and nothing twice', async () => {
    const t0 = Date.parse('2025-06-02T12:00:00Z');
    const first = batch(API, t0 + 1_000, texts('first', 2));
    const late = batch(API, t0 - 40 * MIN, texts('late', 2)); // a Logplex retry of an old batch
    const after = batch(API, t0 + 5_000, texts('after', 2));
    const landing = new Map([
      [t0 + 2_000, [first]],
      [t0 + 6_000, [late, after]],
    ]);
    const r = await run({ start: t0, apps: [API], backlog: 0, polls: 6, landing });
    expect(r.keys).toEqual([first.key, late.key, after.key]);
    expect(new Set(r.keys).size).toBe(r.keys.length);
  });

  it('follows across midnight, including a batch filed in the old day after midnight', async () => {
    const t0 = Date.parse('2025-06-01T23:59:00Z');
    const before = batch(API, Date.parse('2025-06-01T23:59:30Z'), texts('before', 1));
    const after = batch(API, Date.parse('2025-06-02T00:00:30Z'), texts('after', 1));
    const lateOld = batch(API, Date.parse('2025-06-01T23:59:50Z'), texts('late-old-day', 1));
    const landing = new Map([
      [t0 + 40_000, [before]],
      [t0 + 100_000, [after]],
      [t0 + 120_000, [lateOld]],
    ]);
    const r = await run({ start: t0, apps: [API], backlog: 0, polls: 70, landing });
    expect(before.key).toContain('/2025/06/01/');
    expect(after.key).toContain('/2025/06/02/');
    expect(r.keys).toEqual([before.key, after.key, lateOld.key]);
  });

  it.each([
    ['an hour behind', -60],
    ['an hour ahead', 60],
  ])("this machine's clock %s of the bucket's: new and late objects are still printed, once", async (_, offsetMin) => {
    const real = Date.parse('2025-06-02T12:00:00Z');
    const laptop = real + offsetMin * MIN;
    const fresh = batch(API, real + 1_000, texts('fresh', 1));
    const late = batch(API, real - 40 * MIN, texts('late', 1));
    const next = batch(API, real + 9_000, texts('next', 1));
    const landing = new Map([
      [laptop + 2_000, [fresh]],
      [laptop + 6_000, [late]],
      [laptop + 10_000, [next]],
    ]);
    const r = await run({ start: laptop, apps: [API], backlog: 0, polls: 8, landing });
    expect(r.keys).toEqual([fresh.key, late.key, next.key]);
  });

  it('with a pattern prints only the matching lines, backlog included', async () => {
    const t0 = Date.parse('2025-06-02T12:00:00Z');
    await put(aws, [batch(API, t0 - MIN, ['status=200 a', 'status=503 b', 'status=200 c', 'status=504 d'])]);
    const later = batch(API, t0 + 1_000, ['status=502 e', 'status=200 f']);
    const select = (l: string) => (/status=5\d\d/.test(l) ? l.replace(/^\d{1,8} </, '<') : undefined);
    const r = await run({ start: t0, apps: [API], backlog: 10, polls: 2, landing: new Map([[t0 + 2_000, [later]]]), select });
    expect(r.lines.map((l) => l.split(' - ')[1])).toEqual(['status=503 b', 'status=504 d', 'status=502 e']);
  });

  it('reports a silent app once after the threshold, and again when it resumes', async () => {
    const t0 = Date.parse('2025-06-02T12:00:00Z');
    await put(aws, [batch(API, t0 - 5 * MIN, texts('x', 1)), batch(CONSOLE, t0 - 5 * MIN, texts('y', 1))]);
    // The console keeps writing; the API falls silent until 30 minutes in.
    const landing = new Map<number, Stored[]>();
    for (let m = 1; m <= 40; m++) landing.set(t0 + m * MIN, [batch(CONSOLE, t0 + m * MIN - 1_000, texts(`c${m}`, 1))]);
    landing.set(t0 + 30 * MIN, [...landing.get(t0 + 30 * MIN)!, batch(API, t0 + 30 * MIN - 500, texts('api-back', 1))]);
    const r2 = await run({ start: t0, apps: [API, CONSOLE], backlog: 0, polls: 40, intervalMs: MIN, landing });
    expect(r2.events).toEqual([`silent ${API}`, `resumed ${API}`]);
    // Forty polls against moto: as the two hours below, more than the default on a busy machine.
  }, 120_000);

  it('two hours of polling keep only the horizon of keys in memory', async () => {
    const t0 = Date.parse('2025-06-02T12:00:00Z');
    const landing = new Map<number, Stored[]>();
    // One object every two minutes for two hours (60 objects), polled every minute.
    for (let s = 120; s <= 7_200; s += 120) landing.set(t0 + s * 1_000, [batch(API, t0 + s * 1_000 - 100, texts(`t${s}`, 1))]);
    const total = landing.size;
    const r = await run({ start: t0, apps: [API], backlog: 0, polls: 120, intervalMs: 60_000, landing });
    expect(r.keys.length).toBe(total);
    expect(new Set(r.keys).size).toBe(total);
    // At most the objects of the horizon (65 min + 10 min) are remembered, not all 60.
    expect(r.stats.seen).toBeLessThanOrEqual(Math.ceil((TAIL_HORIZON_MS + 10 * MIN) / 120_000) + 1);
    expect(r.stats.seen).toBeLessThan(total);
  }, 120_000);

  it('--json prints NDJSON records, and several apps carry the app prefix', async () => {
    const now = Date.now();
    await put(aws, [batch(API, now - MIN, texts('a', 1)), batch(CONSOLE, now - 30_000, texts('c', 1))]);
    // Stopped (as by Ctrl-C) once the backlog is out.
    const until = (lines: number) => {
      const ac = new AbortController();
      return { signal: ac.signal, onStdout: (s: string) => void (s.split('\n').length > lines && ac.abort()) };
    };
    const plain = await runCli(['logs', 'tail', '--app', API, '--app', CONSOLE, '--interval', '500ms'], { env: moto.env, ...until(2) });
    expect(plain.code).toBe(130);
    expect(plain.stdout.split('\n').filter(Boolean).map((l) => l.split(':<')[0])).toEqual([API, CONSOLE]);
    const json = await runCli(['logs', 'tail', '--app', API, '--json', '--interval', '500ms'], { env: moto.env, ...until(1) });
    expect(json.code).toBe(130);
    expect(json.records()).toEqual([expect.objectContaining({ app: API, message: 'a line 0' })]);
  });

  it.each([
    [['--interval', '10ms'], /--interval: 10ms is less than 500 ms/],
    [['--interval', 'soon'], /--interval: "soon" is not a duration/],
    [['-n', '-1'], /must be 0 or more/],
    [['-n', 'many'], /lines/],
    [['a(b'], /pattern|regular expression/i],
    [['--app', 'Not_An_App'], /not a valid Heroku app name/],
    [['--app', 'raxx-nowhere-prod'], /no log objects at all for raxx-nowhere-prod/],
  ])('bad input %j → exit 2 with a hint', async (args, message) => {
    await put(aws, [batch(API, Date.now() - MIN, texts('x', 1))]);
    const r = await runCli(['logs', 'tail', '--app', API, ...args], { env: moto.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it.skipIf(!ptyAvailable)('on a terminal: the backlog, then a line that lands, then Ctrl-C → 130', async () => {
    await put(aws, [batch(API, Date.now() - 2 * MIN, texts('old', 3))]);
    const home = tempDir('raxx-ops-home-');
    const t = spawnPty(sourceCli(['logs', 'tail', '--app', API, '-n', '2', '--interval', '500ms']), { env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', ...moto.env } });
    await t.waitFor('old line 2', 30_000);
    expect(t.output()).not.toContain('old line 0');
    await put(aws, [batch(API, Date.now(), texts('fresh', 2))]);
    await t.waitFor('fresh line 1', 10_000);
    t.type(CTRL_C);
    const exit = await t.exited;
    expect(exit.code).toBe(130);
    const shown = t.output().split(/\r?\n/).filter((l) => / - (old|fresh) line/.test(l)).map((l) => l.split(' - ')[1]);
    expect(shown).toEqual(['old line 1', 'old line 2', 'fresh line 0', 'fresh line 1']);
  }, 60_000);
});
