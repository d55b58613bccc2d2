// Every changing command's plan names the environment and what it touches, and says when a
// resource is shared between environments (the runbooks share the attachments bucket and key,
// and the drain stack, between prod and staging). An env with no resource of its own while prod
// has one is refused (exit 3), never given prod's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../support/moto.js';
import { useMoto } from '../support/fixtures.js';
import { runCli } from '../support/run-cli.js';
import { tempDir } from '../support/temp.js';
import { createAttachmentsBucket } from './attachments/fixtures.js';

const dir = tempDir('raxx-ops-scope-');
const NOWHERE = { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', HEROKU_API_KEY: 'x', HEROKU_API_URL: 'http://127.0.0.1:9' };

function config(name: string, body: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

describe('an env without a resource of its own is refused, not given prod\'s (exit 3)', () => {
  // prod was given its own attachments key and bucket and its own drain SSM prefix, per environment.
  const split = config('split', {
    environments: { prod: { attachments: { bucket: 'raxx-attachments-prod-2', kmsAlias: 'alias/raxx-attachments-2' }, drain: { ssmPrefix: '/raxx/prod/log-drain/', functionName: 'raxx-prod-receiver' } } },
  });
  const cases: { argv: string[]; setting: string }[] = [
    { argv: ['attachments', 'lockdown', '--dry-run'], setting: 'attachments.kmsAlias' },
    { argv: ['attachments', 'unlock', '--dry-run'], setting: 'attachments.kmsAlias' },
    { argv: ['attachments', 'kms-retire', '--dry-run'], setting: 'attachments.kmsAlias' },
    { argv: ['attachments', 'kms-retire', '--cancel', '--dry-run'], setting: 'attachments.kmsAlias' },
    { argv: ['attachments', 'restore', '--customer', '0b6c7a52-8a7e-4a43-9d38-7d1a2c1f9e10', '--dry-run'], setting: 'attachments.bucket' },
    { argv: ['drains', 'wire', '--dry-run'], setting: 'drain.ssmPrefix' },
    { argv: ['drains', 'rotate', '--dry-run'], setting: 'drain.functionName' },
  ];
  for (const c of cases) {
    it(`--env staging ${c.argv.join(' ')} → 3, naming ${c.setting}`, async () => {
      const r = await runCli(['--env', 'staging', ...c.argv], { env: { ...NOWHERE, RAXX_OPS_CONFIG: split } });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^error: no .* configured for --env staging \(prod has its own in the config file; using prod's is never assumed\)/);
      expect(r.stderr).toContain(`hint: set environments.staging.${c.setting} in the config file`);
      expect(r.stdout).toBe('');
    });
  }

  it('a top-level value is both environments\' own (shared): not refused', async () => {
    const shared = config('shared', { attachments: { kmsAlias: 'alias/raxx-attachments-2', bucket: 'raxx-attachments-2' } });
    const r = await runCli(['--env', 'staging', 'attachments', 'lockdown', '--dry-run'], { env: { ...NOWHERE, RAXX_OPS_CONFIG: shared } });
    // Past the scope: it goes on to ask KMS (unreachable here).
    expect(r.stderr).not.toMatch(/configured for --env staging/);
    expect(r.code).toBe(4);
  });
});

describe.skipIf(!motoAvailable)('plans name the environment and every resource (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;

  beforeAll(async () => {
    await createAttachmentsBucket(aws);
  });

  for (const env of ['staging', 'prod']) {
    for (const verb of ['lockdown', 'kms-retire']) {
      it(`--env ${env} attachments ${verb} --dry-run names ${env}, the key and the bucket, shared with the other env`, async () => {
        const other = env === 'prod' ? 'staging' : 'prod';
        const r = await runCli(['--env', env, 'attachments', verb, '--dry-run'], { env: moto.env });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`environment: ${env}\n`);
        expect(r.stdout).toContain(`  attachments KMS key: alias/raxx-support-attachments (shared with ${other}: a change here is a change there too)\n`);
        expect(r.stdout).toContain(`  attachments bucket: raxx-support-attachments-prod (shared with ${other}: a change here is a change there too)\n`);
        const json = await runCli(['--env', env, '--json', 'attachments', verb, '--dry-run'], { env: moto.env });
        expect(json.json<{ scope: unknown }>().scope).toEqual({
          environment: env,
          resources: [
            { resource: 'attachments KMS key', name: 'alias/raxx-support-attachments', sharedWith: [other] },
            { resource: 'attachments bucket', name: 'raxx-support-attachments-prod', sharedWith: [other] },
          ],
        });
      });
    }
  }

  it('a resource each env has its own of is not called shared', async () => {
    const own = config('own', {
      environments: { prod: { attachments: { kmsAlias: 'alias/raxx-support-attachments' } }, staging: { attachments: { kmsAlias: 'alias/raxx-attachments-staging', bucket: 'raxx-attachments-staging' } } },
    });
    const r = await runCli(['attachments', 'lockdown', '--dry-run'], { env: { ...moto.env, RAXX_OPS_CONFIG: own } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('  attachments KMS key: alias/raxx-support-attachments\n');
    expect(r.stdout).toContain('  attachments bucket: raxx-support-attachments-prod\n');
  });
});
