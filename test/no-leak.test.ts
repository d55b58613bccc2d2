// No secret reaches any output. Every command that handles a token or a password runs
// in-process against the stand-ins (moto, the Heroku API stand-in with drains whose URLs carry
// tokens, the receiver served locally, drain objects whose lines hold secrets), once per way an
// operator asks for more output: --debug, --json, DEBUG=* (which turns on the `debug` package
// inside dependencies) and HEROKU_DEBUG. Everything is searched: the command's stdout and
// stderr, and whatever a library writes to the process's own stdout, stderr or console.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { frame } from '@raxx/log-format/logplex';
import { runCli, type CliResult } from './support/run-cli.js';
import { captureProcessOutput } from './support/capture.js';
import { motoAvailable } from './support/moto.js';
import { useHeroku, useMoto } from './support/fixtures.js';
import { createBucket, createReceiverFunction, functionEnvironment, getDrainParameters, putDrainParameters, setFunctionEnvironment } from './support/aws-fixtures.js';
import { freePort, waitFor } from './support/stand-in.js';
import { batch, put } from './commands/logs/fixtures.js';
import { startReceiver } from './support/drain-stand-ins.js';

const HEROKU_TOKEN = 'heroku-api-token-leak-4d1f8a2c6e9b3a7d';
const DRAIN_TOKEN = 'drain-token-leak-8e2b6d4f1a3c5e7b9d0f';
const OLD_TOKEN = 'drain-token-leak-old-1c3e5a7b9d2f4a6c';
const VENDOR_KEY = 'vendorkey0leak7f3a9c1e5b2d4c6e8f';
const VENDOR_PASSWORD = 'vendor-pass-leak-2b4d6f';
const DB_PASSWORD = 'db-pass-leak-5f7a9c1e';
const LOG_TOKEN = 'log-line-token-leak-3a5c7e9b';
const LOG_KEY = 'wJalrXUtnFEMIleakK7MDENGbPxRfiCY';
const APPS = ['raxx-api-prod', 'raxx-console-prod'];
const BUCKET = 'raxx-heroku-logs-prod';
const FUNCTION = 'raxx-heroku-log-drain-receiver';
/** Yesterday, 14:00 UTC: inside the bucket's retention whenever the test runs. */
const T0 = Math.floor(Date.now() / 86_400_000 - 1) * 86_400_000 + 14 * 3_600_000;
const DAY = new Date(T0).toISOString().slice(0, 10);

/** Log lines as an app would write them: each shape of secret the redactor must catch. */
const SECRET_LINES = [
  `boot DATABASE_URL=postgres://owner:${DB_PASSWORD}@db.internal:5432/raxx`,
  `config {"DRAIN_TOKEN":"${LOG_TOKEN}","BUCKET_NAME":"raxx"}`,
  `rotated {"AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"${LOG_KEY}"}`,
  `request Authorization: Bearer ${LOG_TOKEN}`,
];

const MODES: { name: string; args: string[]; env: Record<string, string> }[] = [
  { name: '--debug', args: ['--debug'], env: {} },
  { name: '--json', args: ['--json'], env: {} },
  { name: 'DEBUG=*', args: ['--debug'], env: { DEBUG: '*' } },
  { name: 'HEROKU_DEBUG', args: ['--debug'], env: { HEROKU_DEBUG: '1', HEROKU_DEBUG_HEADERS: '1', DEBUG: 'http' } },
];

describe.skipIf(!motoAvailable)('no secret in any output', () => {
  const moto = useMoto();
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: APPS });
  let receiver: { base: string; stop(): Promise<void> };
  let env: Record<string, string>;
  const home = mkdtempSync(join(tmpdir(), 'raxx-ops-noleak-'));
  /** Every secret the run could have seen; rotate adds the tokens it makes. */
  const secrets = new Set([HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN, VENDOR_KEY, VENDOR_PASSWORD, DB_PASSWORD, LOG_TOKEN, LOG_KEY]);
  const debugPackage = createRequire(import.meta.url)('debug') as { enable(ns: string): void; disable(): string };

  beforeAll(async () => {
    await createBucket(aws, BUCKET);
    await put(aws, APPS.map((app, i) => batch(app, T0 + i * 60_000, SECRET_LINES)));
    await createReceiverFunction(aws, moto.env, { functionName: FUNCTION, variables: { BUCKET_NAME: BUCKET, DRAIN_TOKEN, KEY_PREFIX: 'logs/' } });
    receiver = await startReceiver(moto.env, FUNCTION);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ apps: APPS }));
  });
  afterAll(async () => {
    await receiver?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  // Each run starts from the same state: the function and SSM on the current token, each app
  // with its current drain, a stale one (old token), a vendor's (key in path and query, password
  // in the userinfo).
  beforeEach(async () => {
    await setFunctionEnvironment(aws, FUNCTION, { BUCKET_NAME: BUCKET, DRAIN_TOKEN, KEY_PREFIX: 'logs/' });
    await putDrainParameters(aws, { url: `${receiver.base}?token=${DRAIN_TOKEN}`, token: DRAIN_TOKEN });
    for (const app of APPS) {
      heroku.addDrain(app, `${receiver.base}?token=${DRAIN_TOKEN}&app=${app}`);
      heroku.addDrain(app, `${receiver.base}?token=${OLD_TOKEN}&app=${app}`);
      heroku.addDrain(app, `https://user:${VENDOR_PASSWORD}@logs.vendor.example/bulk/${VENDOR_KEY}/?api_key=${VENDOR_KEY}`);
    }
    env = {
      ...moto.env,
      HOME: home,
      HEROKU_API_KEY: HEROKU_TOKEN,
      HEROKU_API_URL: heroku.url,
      RAXX_OPS_CONFIG: join(home, 'config.json'),
      DATABASE_URL: `postgres://owner:${DB_PASSWORD}@127.0.0.1:1/raxx`,
    };
  });

  async function run(argv: string[], mode: (typeof MODES)[number], opts: { signal?: AbortSignal } = {}): Promise<{ r: CliResult; direct: string }> {
    const saved = { ...process.env };
    // heroku-client and the `debug` package read the real process environment.
    Object.assign(process.env, mode.env);
    if (mode.env.DEBUG) debugPackage.enable(mode.env.DEBUG);
    try {
      const { result, text } = await captureProcessOutput(() => runCli([...mode.args, ...argv], { env: { ...env, ...mode.env }, ...opts }));
      return { r: result, direct: text };
    } finally {
      debugPackage.disable();
      process.env = saved;
    }
  }

  async function expectNoSecrets(out: { r: CliResult; direct: string }, what: string): Promise<void> {
    for (const v of Object.values(await functionEnvironment(aws, FUNCTION))) if (v.length > 8 && v !== BUCKET) secrets.add(v);
    const ssm = await getDrainParameters(aws);
    if (ssm.token) secrets.add(ssm.token);
    for (const s of secrets) {
      expect(out.r.stdout, `${what}: stdout holds ${s}`).not.toContain(s);
      expect(out.r.stderr, `${what}: stderr holds ${s}`).not.toContain(s);
      expect(out.direct, `${what}: the process's own output holds ${s}`).not.toContain(s);
    }
  }

  const apps = APPS.flatMap((a) => ['--app', a]);
  const COMMANDS: { name: string; argv: string[]; ndjson?: boolean }[] = [
    { name: 'drains list', argv: ['drains', 'list', ...apps] },
    { name: 'drains wire --prune', argv: ['drains', 'wire', '--prune', '--yes', ...apps] },
    { name: 'drains wire --dry-run', argv: ['drains', 'wire', '--prune', '--dry-run', ...apps] },
    { name: 'drains remove --stale', argv: ['drains', 'remove', '--stale', '--yes', ...apps] },
    { name: 'drains test', argv: ['drains', 'test', '--timeout', '10', ...apps] },
    { name: 'drains rotate', argv: ['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '10'] },
    { name: 'config show', argv: ['config', 'show'] },
    { name: 'logs grep', argv: ['logs', 'grep', 'boot|config|rotated|request', '--app', APPS[0]!, '--date', DAY], ndjson: true },
    { name: 'logs fetch', argv: ['logs', 'fetch', '--app', APPS[1]!, '--date', DAY], ndjson: true },
  ];

  for (const mode of MODES) {
    for (const c of COMMANDS) {
      it(`${c.name} with ${mode.name}`, async () => {
        const out = await run(c.argv, mode);
        expect(out.r.code, `${c.name}: ${out.r.stderr}`).toBe(0);
        if (mode.name === '--json') expect(() => (c.ndjson ? out.r.records() : out.r.json())).not.toThrow();
        await expectNoSecrets(out, `${c.name} ${mode.name}`);
      });
    }

    it(`a rejected Heroku token with ${mode.name}`, async () => {
      env.HEROKU_API_KEY = `${HEROKU_TOKEN}-wrong`;
      secrets.add(env.HEROKU_API_KEY);
      const out = await run(['drains', 'list', ...apps], mode);
      expect(out.r.code).toBe(3);
      await expectNoSecrets(out, `401 ${mode.name}`);
    });

    it(`receiver serve with ${mode.name}`, async () => {
      const port = await freePort();
      const ac = new AbortController();
      const served = run(['receiver', 'serve', '--port', String(port), '--from-lambda', FUNCTION], mode, { signal: ac.signal });
      const base = `http://127.0.0.1:${port}/`;
      await waitFor(async () => (await fetch(base).catch(() => undefined)) !== undefined, 'receiver serve');
      const body = frame([`<190>1 ${new Date().toISOString()} host app web.1 - ${SECRET_LINES[0]}\n`]);
      const post = (url: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/logplex-1', 'Logplex-Msg-Count': '1', ...headers }, body });
      expect((await post(`${base}?token=${DRAIN_TOKEN}&app=${APPS[0]}`)).status).toBe(200);
      expect((await post(`${base}?token=${OLD_TOKEN}&app=${APPS[0]}`)).status).toBe(403);
      expect((await post(`${base}?app=${APPS[0]}`, { Authorization: `Bearer ${OLD_TOKEN}` })).status).toBe(403);
      ac.abort();
      const out = await served;
      expect(out.r.code).toBe(0);
      await expectNoSecrets(out, `receiver serve ${mode.name}`);
    });
  }
});

