// Every flag that takes a duration reads the same forms (`500ms`, `2s`, `5m`, `1h`, a bare
// number of the flag's own unit) through one parser, and says the same things about bad input.
import { describe, expect, it } from 'vitest';
import type { ArgDef } from '../src/commands/define.js';
import { runCli } from './support/run-cli.js';

type Flag = { argv: string[]; key: string; unit: 'ms' | 's' | 'm'; load: () => Promise<{ default: { options: Record<string, ArgDef> } }> };

const flags: Record<string, Flag> = {
  'drains test --timeout': { argv: ['drains', 'test'], key: 'timeout', unit: 's', load: () => import('../src/commands/drains/test.js') },
  'drains rotate --timeout': { argv: ['drains', 'rotate'], key: 'timeout', unit: 's', load: () => import('../src/commands/drains/rotate.js') },
  'drains rotate --grace': { argv: ['drains', 'rotate'], key: 'grace', unit: 's', load: () => import('../src/commands/drains/rotate.js') },
  'drains wire --wait': { argv: ['drains', 'wire'], key: 'wait', unit: 's', load: () => import('../src/commands/drains/wire.js') },
  'audit smoke --timeout': { argv: ['audit', 'smoke'], key: 'timeout', unit: 's', load: () => import('../src/commands/audit/smoke.js') },
  'doctor --timeout': { argv: ['doctor'], key: 'timeout', unit: 's', load: () => import('../src/commands/doctor.js') },
  'attachments url --ttl': { argv: ['attachments', 'url', 'c/t/f.pdf'], key: 'ttl', unit: 's', load: () => import('../src/commands/attachments/url.js') },
  'logs tail --interval': { argv: ['logs', 'tail', '--app', 'raxx-api-prod'], key: 'interval', unit: 's', load: () => import('../src/commands/logs/tail.js') },
  'logs status --warn-silent-minutes': { argv: ['logs', 'status'], key: 'warnSilentMinutes', unit: 'm', load: () => import('../src/commands/logs/status.js') },
  'logs ship --retry-base-ms': { argv: ['logs', 'ship', 'auth'], key: 'retryBaseMs', unit: 'ms', load: () => import('../src/commands/logs/ship.js') },
  'receiver serve --poll': { argv: ['receiver', 'serve'], key: 'poll', unit: 'ms', load: () => import('../src/commands/receiver/serve.js') },
};

// Forms each flag accepts, as milliseconds (within the flag's own limits); each flag reads them
// in its own unit, and a bare number is that unit.
const within60s: [string, number][] = [['1s', 1_000], ['1S', 1_000], [' 2s ', 2_000], ['1.5s', 1_500], ['1000ms', 1_000], ['0.5m', 30_000]];
const wholeSeconds: [string, number][] = [['90s', 90_000], ['1.5m', 90_000], ['1H', 3_600_000], [' 5m ', 300_000], ['2000ms', 2_000]];
const wholeMinutes: [string, number][] = [['1m', 60_000], ['2M', 120_000], [' 2m ', 120_000], ['120s', 120_000], ['0.5h', 1_800_000], ['60000ms', 60_000]];
const formsOf = (name: string, f: Flag) => (f.unit === 'm' ? wholeMinutes : name.endsWith('--ttl') ? wholeSeconds : within60s);
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000 };

describe('duration flags × forms', () => {
  const rows = Object.entries(flags).flatMap(([name, f]) => [
    ...formsOf(name, f).map(([text, ms]) => [name, text, ms / UNIT_MS[f.unit], f] as const),
    [name, '60', 60, f] as const,
  ]);
  it.each(rows)('%s %j → %s', async (_name, text, value, f) => {
    const def = (await f.load()).default;
    const parsed = def.options[f.key]!.schema.safeParse(text);
    expect(parsed.error).toBeUndefined();
    expect(parsed.data).toBe(value);
  });

  it('an hour where the flag allows one', async () => {
    const def = (await flags['attachments url --ttl']!.load()).default;
    expect(def.options.ttl!.schema.safeParse('1h').data).toBe(3600);
    expect(def.options.ttl!.schema.safeParse(undefined).data).toBe(300);
  });
});

describe('duration flags: bad input → exit 2 with the accepted forms', () => {
  const cases: [string, string, RegExp, RegExp][] = [
    ['drains test --timeout', 'soon', /--timeout: "soon" is not a duration/, /hint: use a number and a unit \(a bare number is seconds\): e\.g\. 500ms, 2s, 5m, 1h/],
    ['drains test --timeout', '-5', /--timeout: "-5" is not a duration/, /hint: use a number and a unit/],
    ['drains test --timeout', '0', /--timeout: 0 is less than 1 ms/, /hint: at least 1 ms/],
    ['drains test --timeout', '2h', /--timeout: 2h is more than 1 h/, /hint: at most 1 h/],
    ['drains test --timeout', '5d', /--timeout: "5d" is not a duration/, /hint: /],
    ['drains rotate --grace', '11m', /--grace: 11m is more than 10 min/, /hint: at most 10 min/],
    ['drains wire --wait', '1 hour', /--wait: "1 hour" is not a duration/, /hint: /],
    ['audit smoke --timeout', 'NaN', /--timeout: "NaN" is not a duration/, /hint: /],
    ['doctor --timeout', '1e3', /--timeout: "1e3" is not a duration/, /hint: /],
    ['attachments url --ttl', '61m', /--ttl: 61m is more than 1 h/, /hint: support download URLs live 5 minutes; at most 1 h/],
    ['attachments url --ttl', '0', /--ttl: 0 is less than 1 s/, /hint: at least 1 s/],
    ['attachments url --ttl', '1.5s', /--ttl: 1\.5s is not a whole number of seconds/, /hint: round it to whole seconds/],
    ['logs tail --interval', '10ms', /--interval: 10ms is less than 500 ms/, /hint: at least 500 ms/],
    ['logs status --warn-silent-minutes', '90s', /--warn-silent-minutes: 90s is not a whole number of minutes/, /hint: round it/],
    ['logs status --warn-silent-minutes', '0', /--warn-silent-minutes: 0 is less than 1 min/, /hint: /],
    ['logs ship --retry-base-ms', '2m', /--retry-base-ms: 2m is more than 1 min/, /hint: at most 1 min/],
    ['receiver serve --poll', '10', /--poll: 10 is less than 50 ms/, /hint: at least 50 ms/],
  ];
  it.each(cases)('%s %j', async (name, text, message, hint) => {
    const f = flags[name]!;
    const flag = name.slice(name.lastIndexOf(' ') + 1);
    const r = await runCli([...f.argv, flag, text], { env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', HEROKU_API_KEY: 'x', HEROKU_API_URL: 'http://127.0.0.1:9' } });
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(hint);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('duration variables read the same forms', () => {
  it.each([
    ['30', 30_000],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1500ms', 1_500],
  ])('HEROKU_TIMEOUT=%s → %s ms', async (raw, ms) => {
    const { herokuTimeoutMs } = await import('../src/lib/heroku/client.js');
    expect(herokuTimeoutMs({ HEROKU_TIMEOUT: raw })).toBe(ms);
  });

  it.each(['soon', '0', '11m', '-1'])('HEROKU_TIMEOUT=%s → exit 3 naming the variable', async (raw) => {
    const r = await runCli(['drains', 'list'], { env: { HEROKU_API_KEY: 'x', HEROKU_API_URL: 'http://127.0.0.1:9', HEROKU_TIMEOUT: raw } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`HEROKU_TIMEOUT must be a number of seconds or a duration (30, 30s, 2m; at most 10 min), not ${raw}`);
    expect(r.stderr).toMatch(/hint: unset it/);
  });
});
