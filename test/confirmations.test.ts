// Every confirmation, typed (the KMS alias) or [y/N], on a real terminal: Ctrl-C or Ctrl-D at
// the question stops the run with exit 130 and changes nothing. The CLI runs from source on a
// pseudo-terminal against the stand-ins, and each case compares what the stand-in holds before
// and after.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALIAS, attachmentKey, createAttachmentsBucket, createBackendUser, accessKeys, remove, upload, USER, versions } from './commands/attachments/fixtures.js';
import { createBucket, functionEnvironment, getDrainParameters, listKeys } from './support/aws-fixtures.js';
import { startDrainStack } from './support/drain-stand-ins.js';
import { motoAvailable } from './support/moto.js';
import { useHeroku, useMoto, usePostgres } from './support/fixtures.js';
import { postgresAvailable } from './support/postgres.js';
import { CTRL_C, killAll, ptyAvailable, sourceCli, spawnPty } from './support/pty.js';
import { runCli } from './support/run-cli.js';
import { tempDir } from './support/temp.js';

const CTRL_D = '\u0004';
const HEROKU_TOKEN = 'heroku-api-token-confirm-7c9e1a3b5d';
const DRAIN_TOKEN = 'drain-token-confirm-4b6d8f0a2c4e6a8c0e2b';
const DRAIN_BUCKET = 'raxx-heroku-logs-prod';
const FUNCTION = 'raxx-heroku-log-drain-receiver';
const API = 'raxx-api-prod';
const APPS = ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'];
const ID_VAR = 'AWS_ACCESS_KEY_ID_SUPPORT';
const SECRET_VAR = 'AWS_SECRET_ACCESS_KEY_SUPPORT';
const TYPED = `type ${ALIAS} to confirm: `;
const YES_NO = '[y/N] ';
const home = tempDir('raxx-ops-confirm-home-');
const dir = tempDir('raxx-ops-confirm-');

interface Case {
  /** The command line after `raxx-ops`. */
  argv: string[];
  /** The question's last words on the terminal. */
  prompt: string;
  env: Record<string, string>;
  /** What the stand-ins hold that the command would change. */
  state(): Promise<unknown>;
  /** Stops what set-up started. */
  stop?(): Promise<void>;
}

afterEach(() => killAll());

/** Both keys at the question of one case: 130, "interrupted", nothing changed. */
function atTheQuestion(name: string, setUp: () => Promise<Case>) {
  for (const [key, label] of [
    [CTRL_C, 'Ctrl-C'],
    [CTRL_D, 'Ctrl-D'],
  ] as const) {
    it(`${name}: ${label} at the question exits 130, nothing changed`, async () => {
      const c = await setUp();
      try {
        const before = await c.state();
        const t = spawnPty(sourceCli(c.argv), { env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', ...c.env } });
        await t.waitFor(c.prompt, 30_000);
        t.type(key);
        const exit = await t.exited;
        expect(exit.code, t.output()).toBe(130);
        expect(t.output()).toMatch(/interrupted/);
        expect(t.output()).not.toMatch(/unexpected error|Aborted with Ctrl|not confirmed/);
        expect(await c.state()).toEqual(before);
      } finally {
        await c.stop?.();
      }
      // A stand-in set up and a CLI started from source: slow on a loaded machine.
    }, 90_000);
  }
}

describe.runIf(ptyAvailable && motoAvailable)('confirmations on a terminal (AWS and Heroku stand-ins)', () => {
  // Every case starts from empty stand-ins.
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: APPS });

  const keyState = async () => {
    const { DescribeKeyCommand } = await import('@aws-sdk/client-kms');
    const m = (await (await aws.kms()).send(new DescribeKeyCommand({ KeyId: ALIAS }))).KeyMetadata!;
    return { state: m.KeyState, deletion: m.DeletionDate?.toISOString() ?? null };
  };
  const freshKey = () => createAttachmentsBucket(aws);
  const kms = (argv: string[]): Case => ({ argv: ['attachments', ...argv], prompt: TYPED, env: moto.env, state: keyState });

  atTheQuestion('attachments lockdown (typed)', async () => {
    await freshKey();
    return kms(['lockdown']);
  });

  atTheQuestion('attachments unlock (typed)', async () => {
    const keyId = await freshKey();
    const { DisableKeyCommand } = await import('@aws-sdk/client-kms');
    await (await aws.kms()).send(new DisableKeyCommand({ KeyId: keyId }));
    return kms(['unlock']);
  });

  atTheQuestion('attachments kms-retire (typed)', async () => {
    await freshKey();
    return kms(['kms-retire']);
  });

  atTheQuestion('attachments kms-retire --cancel (typed)', async () => {
    const keyId = await freshKey();
    const { ScheduleKeyDeletionCommand } = await import('@aws-sdk/client-kms');
    await (await aws.kms()).send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 14 }));
    return kms(['kms-retire', '--cancel']);
  });

  atTheQuestion('attachments restore ([y/N])', async () => {
    await freshKey();
    const key = attachmentKey();
    await upload(aws, key, 'report');
    await remove(aws, key);
    return { argv: ['attachments', 'restore', key], prompt: YES_NO, env: moto.env, state: async () => (await versions(aws)).map((v) => `${v.key}@${v.versionId}:${v.deleteMarker}`).sort() };
  });

  atTheQuestion('attachments rotate-access-key ([y/N])', async () => {
    await createBucket(aws, DRAIN_BUCKET);
    const original = await createBackendUser(aws);
    for (const app of APPS) heroku.setConfigVars(app, { [ID_VAR]: original.id, [SECRET_VAR]: original.secret });
    return {
      argv: ['attachments', 'rotate-access-key'],
      prompt: YES_NO,
      env: { ...moto.env, ...heroku.env },
      state: async () => ({ keys: await accessKeys(aws), user: USER, vars: APPS.map((a) => heroku.configVars(a)) }),
    };
  });

  /** The drain as the runbooks leave it, every app wired. */
  async function drainStack() {
    const receiver = await startDrainStack(aws, moto.env, { bucket: DRAIN_BUCKET, functionName: FUNCTION, token: DRAIN_TOKEN });
    const env = { ...moto.env, ...heroku.env };
    expect((await runCli(['drains', 'wire'], { env })).code).toBe(0);
    const state = async () => ({
      drains: APPS.map((a) => heroku.drains(a).map((d) => d.url).sort()),
      fn: await functionEnvironment(aws, FUNCTION),
      ssm: await getDrainParameters(aws),
    });
    return { receiver, env, state };
  }

  atTheQuestion('drains rotate ([y/N])', async () => {
    const s = await drainStack();
    return { argv: ['drains', 'rotate'], prompt: YES_NO, env: s.env, state: s.state, stop: () => s.receiver.stop() };
  });

  atTheQuestion('drains wire --prune ([y/N])', async () => {
    const s = await drainStack();
    heroku.addDrain(API, `${s.receiver.base}?token=stale-token-0a1b2c3d4e5f6a7b&app=${API}`);
    return { argv: ['drains', 'wire', '--prune'], prompt: YES_NO, env: s.env, state: s.state, stop: () => s.receiver.stop() };
  });

  atTheQuestion('drains remove --all ([y/N])', async () => {
    const s = await drainStack();
    return { argv: ['drains', 'remove', '--all'], prompt: YES_NO, env: s.env, state: s.state, stop: () => s.receiver.stop() };
  });

  atTheQuestion('drains remove --all --force, taking over a live lease (typed)', async () => {
    const s = await drainStack();
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const lease = { name: 'drains', owner: 'alice@laptop', command: 'raxx-ops drains rotate', startedAt: new Date().toISOString(), expiresAt: new Date().toISOString(), token: 'x' };
    await (await aws.s3()).send(new PutObjectCommand({ Bucket: DRAIN_BUCKET, Key: 'raxx-ops/leases/drains.json', Body: JSON.stringify(lease) }));
    const state = async () => ({ ...(await s.state()), lease: (await listKeys(aws, DRAIN_BUCKET, 'raxx-ops/leases/')).length });
    return { argv: ['drains', 'remove', '--all', '--force'], prompt: 'type drains to confirm: ', env: s.env, state, stop: () => s.receiver.stop() };
  });

  atTheQuestion('logs sources setup ([y/N])', async () => {
    await createBucket(aws, DRAIN_BUCKET);
    const config = join(dir, 'sources.json');
    await writeFile(config, JSON.stringify({ logSources: [{ name: 'auth', required: true }] }));
    const { GetBucketLifecycleConfigurationCommand } = await import('@aws-sdk/client-s3');
    const rules = async () => {
      try {
        return (await (await aws.s3()).send(new GetBucketLifecycleConfigurationCommand({ Bucket: DRAIN_BUCKET }))).Rules ?? [];
      } catch {
        return [];
      }
    };
    return { argv: ['logs', 'sources', 'setup'], prompt: YES_NO, env: { ...moto.env, RAXX_OPS_CONFIG: config }, state: rules };
  });

  atTheQuestion('logs ship --replace ([y/N])', async () => {
    await createBucket(aws, DRAIN_BUCKET);
    const { PutBucketVersioningCommand, ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
    const s3 = await aws.s3();
    await s3.send(new PutBucketVersioningCommand({ Bucket: DRAIN_BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
    const config = join(dir, 'ship.json');
    await writeFile(config, JSON.stringify({ logSources: [{ name: 'auth', required: true }] }));
    const env = { ...moto.env, RAXX_OPS_CONFIG: config };
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const file = join(dir, `auth-${day}.log`);
    await writeFile(file, 'one\n');
    expect((await runCli(['logs', 'ship', 'auth', file], { env })).code).toBe(0);
    await writeFile(file, 'one\ntwo\n');
    const state = async () => ((await s3.send(new ListObjectVersionsCommand({ Bucket: DRAIN_BUCKET, Prefix: 'logs/auth/' }))).Versions ?? []).map((v) => v.VersionId).sort();
    return { argv: ['logs', 'ship', 'auth', file, '--replace'], prompt: YES_NO, env, state };
  });

  atTheQuestion('logs athena-setup ([y/N])', async () => {
    const { GetDatabasesCommand } = await import('@aws-sdk/client-glue');
    const { GlueClient } = await import('@aws-sdk/client-glue');
    const glue = new GlueClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    return {
      argv: ['logs', 'athena-setup'],
      prompt: YES_NO,
      env: moto.env,
      state: async () => ((await glue.send(new GetDatabasesCommand({}))).DatabaseList ?? []).map((d) => d.Name),
      stop: () => Promise.resolve(glue.destroy()),
    };
  });
});

describe.runIf(ptyAvailable && postgresAvailable)('confirmations on a terminal (PostgreSQL)', () => {
  const cluster = usePostgres();

  beforeAll(async () => {
    await cluster.createRole('raptor_app', 'raptor-pw-confirm-1a2b3c');
    await cluster.createRole('audit_archiver', 'archiver-pw-confirm-4d5e6f');
  });

  atTheQuestion('audit fix-roles ([y/N])', async () => {
    const { default: pg } = await import('pg');
    const settings = async () => {
      const c = new pg.Client({ connectionString: cluster.url });
      await c.connect();
      try {
        return (await c.query<{ rolname: string; setconfig: string[] | null }>(`SELECT r.rolname, s.setconfig FROM pg_roles r LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid WHERE r.rolname IN ('raptor_app', 'audit_archiver') ORDER BY 1`)).rows;
      } finally {
        await c.end();
      }
    };
    return { argv: ['audit', 'fix-roles', '--database-url', cluster.url], prompt: YES_NO, env: {}, state: settings };
  });
});
