// The world the drain rotation tests start from: moto (emptied before every test), the Heroku
// API stand-in with three production apps, and the drain as the runbooks leave it (bucket,
// receiver function served on loopback, SSM parameters) on `token`, made afresh per test.
import { expect } from 'vitest';
import type { CliResult } from '../../support/run-cli.js';
import { functionEnvironment } from '../../support/aws-fixtures.js';
import { startHerokuProxy } from '../../support/drain-stand-ins.js';
import { useDrainStack, useHeroku, useMoto } from '../../support/fixtures.js';
import { expectNoSecretsIn } from '../../support/no-secrets.js';

export const APPS = ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'];
export const BUCKET = 'raxx-heroku-logs-prod';
export const FUNCTION = 'raxx-heroku-log-drain-receiver';

export function useDrainWorld(opts: { herokuToken: string; token: string }) {
  const moto = useMoto({ reset: 'each' });
  const heroku = useHeroku({ token: opts.herokuToken, apps: APPS });
  const receiver = useDrainStack(moto, { bucket: BUCKET, functionName: FUNCTION, token: opts.token });
  return {
    moto,
    aws: moto.aws,
    heroku,
    receiver,
    /** The app's drains that point at the served receiver. */
    receiverDrains: (app: string) => heroku.drains(app).filter((d) => d.url.startsWith(receiver.base)),
    /** None of `secrets` in the run's output, nor any token the function holds now (added to `secrets`). */
    async expectNoSecrets(r: CliResult, secrets: Set<string>): Promise<void> {
      for (const v of Object.values(await functionEnvironment(moto.aws, FUNCTION))) if (v.length > 8 && v !== BUCKET) secrets.add(v);
      expectNoSecretsIn(r, secrets);
    },
  };
}

/**
 * Runs `run` with Heroku behind a proxy that answers the POST `isPost` picks after the client's
 * one-second deadline (the drain is made): the run must still end well. Returns its result
 * once the held answer has been let go.
 */
export async function withLatePost(herokuUrl: string, isPost: (q: { method: string; path: string }) => boolean, run: (herokuEnv: Record<string, string>) => Promise<CliResult>): Promise<CliResult> {
  const via = await startHerokuProxy(herokuUrl, (q) => (isPost(q) ? { holdAnswerMs: 2500 } : {}));
  try {
    const r = await run({ HEROKU_API_URL: via.url, HEROKU_TIMEOUT: '1' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await via.held();
    return r;
  } finally {
    await via.stop();
  }
}
