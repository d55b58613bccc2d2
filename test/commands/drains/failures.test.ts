// One failure, one report: a cause shared by every app (the token, the API being unreachable,
// a second factor) is one `error:` and one `hint:` with its own exit code, however many apps
// the command covers; a cause of one app's is listed under that app. Each row runs the CLI
// in-process against moto and the Heroku API stand-in.
import { beforeEach, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { runCli } from '../../support/run-cli.js';
import { motoAvailable } from '../../support/moto.js';
import { useHeroku, useMoto } from '../../support/fixtures.js';
import { createBucket, putDrainParameters } from '../../support/aws-fixtures.js';

const HEROKU_TOKEN = 'heroku-api-token-failures-6a8c0e2b4d';
const APPS = ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'];
const TWO_FACTOR = { id: 'two_factor', message: 'A second authentication factor or pre-authorization is required for this request.' };

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const lines = (stderr: string, prefix: string) => stderr.split('\n').filter((l) => l.startsWith(prefix));

describe.skipIf(!motoAvailable)('one failure, one report', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: APPS });
  let env: Record<string, string>;
  beforeEach(async () => {
    await putDrainParameters(aws, { url: 'http://127.0.0.1:9/?token=drain-token-failures-1234', token: 'drain-token-failures-1234' });
    // The drain bucket, which also holds the lease of changing commands.
    await createBucket(aws, 'raxx-heroku-logs-prod');
    env = { ...moto.env, ...heroku.env };
  });

  const rows: { name: string; argv: string[]; setup: () => Promise<void> | void; code: number; error: RegExp; hint: RegExp; errors?: number; hints?: number }[] = [
    {
      name: 'a rejected Heroku token, three apps',
      argv: ['drains', 'list'],
      setup: () => void (env.HEROKU_API_KEY = 'wrong-token-0123456789'),
      code: 3,
      error: /^error: Heroku rejected the API token \(Invalid credentials provided\.\)$/,
      hint: /heroku login.*HEROKU_API_KEY/,
    },
    {
      name: 'a rejected Heroku token while wiring',
      argv: ['drains', 'wire', '--yes'],
      setup: () => void (env.HEROKU_API_KEY = 'wrong-token-0123456789'),
      code: 3,
      error: /^error: Heroku rejected the API token/,
      hint: /heroku login/,
    },
    {
      name: 'an unreachable Heroku API, three apps',
      argv: ['drains', 'list'],
      setup: async () => void (env.HEROKU_API_URL = `http://127.0.0.1:${await closedPort()}`),
      code: 4,
      error: /^error: cannot reach the Heroku API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/,
      hint: /check the network.*HEROKU_API_URL/,
    },
    {
      name: 'an unreachable Heroku API while removing',
      argv: ['drains', 'remove', '--stale', '--yes'],
      setup: async () => void (env.HEROKU_API_URL = `http://127.0.0.1:${await closedPort()}`),
      code: 4,
      error: /^error: cannot reach the Heroku API/,
      hint: /HEROKU_API_URL/,
    },
    {
      name: 'a second factor asked for every app',
      argv: ['drains', 'list'],
      setup: () => heroku.failNext(3, 403, { body: TWO_FACTOR }),
      code: 3,
      error: /^error: Heroku asks for a second factor \(two_factor\)/,
      hint: /two-factor/,
    },
    {
      name: 'a second factor asked for one app: listed under it',
      argv: ['drains', 'list'],
      setup: () => heroku.failNext(1, 403, { pathIncludes: 'raxx-console-prod', body: TWO_FACTOR }),
      code: 3,
      error: /^error: could not list the drains of 1 app: raxx-console-prod$/,
      hint: /two-factor/,
      errors: 2,
    },
    {
      name: 'no Heroku token anywhere',
      argv: ['drains', 'list'],
      setup: () => void delete env.HEROKU_API_KEY,
      code: 3,
      error: /^error: no Heroku API token found$/,
      hint: /heroku login/,
    },
    {
      name: '--profile nosuch',
      argv: ['--profile', 'nosuch', 'drains', 'list'],
      setup: () => undefined,
      code: 3,
      error: /^error: AWS profile nosuch not found$/,
      hint: /aws configure list-profiles.*aws sso login --profile nosuch/,
    },
  ];

  for (const row of rows) {
    it(`${row.name} → exit ${row.code}, one error, one hint`, async () => {
      await row.setup();
      const started = Date.now();
      const r = await runCli(row.argv, { env });
      expect(r.code, r.stderr).toBe(row.code);
      expect(Date.now() - started, 'fails fast, not 15 s per app').toBeLessThan(10_000);
      const errors = lines(r.stderr, 'error:');
      const hints = lines(r.stderr, 'hint:');
      expect(errors, r.stderr).toHaveLength(row.errors ?? 1);
      expect(hints, r.stderr).toHaveLength(row.hints ?? 1);
      expect(errors[0]).toMatch(row.error);
      expect(hints[0]).toMatch(row.hint);
      expect(r.stderr).not.toMatch(/WARNING|Multiple credential sources/);
      expect(r.stdout + r.stderr).not.toContain('wrong-token-0123456789');
      expect(r.stdout + r.stderr).not.toContain(HEROKU_TOKEN);
    });
  }
});
