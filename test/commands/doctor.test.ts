// doctor against a healthy stack in moto and the Heroku API stand-in, then with one thing
// broken at a time: each time the right check fails with the runbook's failure mode and fix.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Client } from 'pg';
import { runCli, type CliResult } from '../support/run-cli.js';
import { motoAvailable } from '../support/moto.js';
import { useHeroku, useMoto, usePostgres } from '../support/fixtures.js';
import { postgresAvailable } from '../support/postgres.js';
import { loadAuditDatabase } from '../support/audit-schema.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/stand-in.js';
import { tempDir } from '../support/temp.js';
import { putDrainParameters, setFunctionEnvironment } from '../support/aws-fixtures.js';
import { ATTACHMENT_RULES, blockPublicAccess, DRAIN_TIERS, provisionStack, setAttachmentsLifecycle, setDrainLifecycle, setLifecycle, setPolicy, STACK, type LifecycleRuleInput, type Stack } from '../support/doctor-stack.js';
import { expectNoSecretsIn } from '../support/no-secrets.js';

const HEROKU_TOKEN = 'heroku-api-token-3b8e1f6a9c2d5e7f0a4b';
const PG = { owner: 'owner-pw-7c1e3a5b9d2f4a6c', app: 'raptor-pw-2b4d6f8a1c3e5a7b', archiver: 'archiver-pw-9e1a3c5b7d2f4e6a' };
const WEBHOOK_SECRET = 'T0123ABCD/B0456EFGH/slackwebhooksecret1234';

interface Report {
  status: 'pass' | 'warn' | 'fail';
  modes: string[];
  checks: { id: string; status: string; findings: { status: string; message: string; mode?: string; fix?: string }[] }[];
}

describe.runIf(motoAvailable && postgresAvailable)('doctor', () => {
  const moto = useMoto({ reset: 'each' });
  const cluster = usePostgres();
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: [...STACK.apps] });
  let stack: Stack;
  let env: Record<string, string>;
  let slack: { server: Server; url: string; posts: { path: string; body: { text: string } }[] };

  let db: { owner: string; app: string; superuser: string };
  let su: Client;
  const sql = async (text: string) => void (await su.query(text));
  const secrets = () => [HEROKU_TOKEN, STACK.drainToken, WEBHOOK_SECRET, PG.owner, PG.app, PG.archiver];
  function expectNoSecrets(r: CliResult): void {
    expectNoSecretsIn(r, secrets());
  }
  const doctor = async (args: string[] = []) => {
    const r = await runCli(['doctor', '--json', ...args], { env });
    expectNoSecrets(r);
    return { r, doc: r.json<Report>() };
  };
  const failing = (doc: Report) => doc.checks.filter((c) => c.status === 'fail').map((c) => c.id);

  beforeAll(async () => {
    db = await loadAuditDatabase(cluster, 'raxx', PG);
    const { default: pg } = await import('pg');
    su = new pg.Client({ connectionString: db.superuser });
    await su.connect();
    const posts: { path: string; body: { text: string } }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posts.push({ path: req.url ?? '', body: JSON.parse(body) as { text: string } });
        // A revoked webhook: Slack answers 404 no_service.
        if (req.url?.startsWith('/revoked/')) res.writeHead(404, { 'content-type': 'text/plain' }).end('no_service');
        else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    slack = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/${WEBHOOK_SECRET}`, posts };
  });
  afterAll(async () => {
    slack?.server.closeAllConnections();
    await new Promise((resolve) => slack?.server.close(resolve));
    await su?.end().catch(() => undefined);
  });
  beforeEach(async () => {
    stack = await provisionStack(moto.env, heroku);
    // The audit checks find the owner's URL where the runbook keeps it: the API app's config var.
    heroku.setConfigVars('raxx-api-prod', { DATABASE_URL: db.owner });
    env = { ...moto.env, ...heroku.env, SLACK_WEBHOOK_URL: slack.url };
    slack.posts.length = 0;
  });
  afterEach(async () => {
    await stack?.stop();
    // Undo whatever a test broke in the audited database.
    for (const role of ['raptor_app', 'audit_archiver']) await sql(`ALTER ROLE ${role} SET log_statement TO 'mod'`);
    for (const t of ['users', 'sessions', 'passkeys']) await sql(`ALTER TABLE ${t} ENABLE TRIGGER ALL`);
    await sql('REVOKE UPDATE, DELETE, TRUNCATE ON users_history, sessions_history, passkeys_history FROM raptor_app');
  });

  it('passes a healthy stack in under 5 s, every check, exit 0; --notify stays quiet', async () => {
    // The first run in this process also compiles and loads the modules (the SDK clients, pg):
    // time the run an operator repeats, not the test runner's transform.
    expect((await doctor()).r.code).toBe(0);
    const started = Date.now();
    const { r, doc } = await doctor(['--notify']);
    const ms = Date.now() - started;
    expect(r.code, r.stderr).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(doc.status).toBe('pass');
    expect(doc.checks.map((c) => [c.id, c.status])).toEqual(['drains', 'ssm', 'token', 'function', 'log-group', 'freshness', 'drain-bucket', 'attachments', 'cost', 'audit', 'sources'].map((id) => [id, 'pass']));
    expect(doc.checks.find((c) => c.id === 'audit')!.findings.map((f) => f.message)).toEqual([
      'role settings: raptor_app: log_statement=mod, audit_archiver: log_statement=mod',
      'history triggers: trg_users_history on users, trg_sessions_history on sessions, trg_passkeys_history on passkeys enabled',
      expect.stringMatching(/^append-only grants: raptor_app cannot UPDATE, DELETE or TRUNCATE public\.passkeys_history, .*public\.users_history$/),
    ]);
    const drainBucket = doc.checks.find((c) => c.id === 'drain-bucket')!;
    // The actual tiers are reported, since the runbooks disagree on them.
    expect(drainBucket.findings.map((f) => f.message).join('\n')).toMatch(/lifecycle keeps log objects 365 days .*STANDARD_IA at 90 d, expire at 365 d/);
    expect(doc.checks.find((c) => c.id === 'cost')!.findings[0]!.message).toMatch(/raxx-heroku-logs-prod: ~\$0\.00\/month \(3 objects: STANDARD/);
    expect(slack.posts).toEqual([]);
  });

  it('prints each check for people, and the SSM names but never their values', async () => {
    const r = await runCli(['doctor'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}drains/m);
    expect(r.stdout).toContain('/raxx/log-drain/drain_token exists (SecureString)');
    expect(r.stdout).toMatch(/healthy: 11 pass, 0 warn, 0 fail/);
    expectNoSecrets(r);
  });

  it('--send-test posts the synthetic batch to every app and finds its object', async () => {
    const { r, doc } = await doctor(['--send-test', '--app', 'raxx-api-prod']);
    expect(r.code, r.stderr).toBe(0);
    const test = doc.checks.find((c) => c.id === 'send-test')!;
    expect(test.status).toBe('pass');
    expect(test.findings[0]!.message).toMatch(/raxx-api-prod: 200, object in s3:\/\/raxx-heroku-logs-prod\/logs\/raxx-api-prod\//);
  });

  const HOUR = 3_600_000;
  const breaks: { name: string; check: string; mode?: string; fix: RegExp; message: RegExp; status?: string; args?: string[]; run(s: Stack): Promise<void> }[] = [
    {
      name: 'drains removed',
      check: 'drains',
      mode: 'A',
      fix: /^raxx-ops drains wire --app raxx-console-prod$/,
      message: /raxx-console-prod: no drain to the receiver/,
      run: async () => {
        expect((await runCli(['drains', 'remove', '--all', '--yes', '--app', 'raxx-console-prod'], { env })).code).toBe(0);
      },
    },
    {
      name: 'an old token on the only drain',
      check: 'drains',
      mode: 'B',
      fix: /^raxx-ops drains wire --prune --app raxx-velvet-prod$/,
      message: /raxx-velvet-prod: no current drain; 1 drain\(s\) to the receiver with an old token/,
      run: async (s) => {
        expect((await runCli(['drains', 'remove', '--all', '--yes', '--app', 'raxx-velvet-prod'], { env })).code).toBe(0);
        heroku.addDrain('raxx-velvet-prod', s.desired('raxx-velvet-prod').replace(STACK.drainToken, 'drain-token-old-7a6b5c4d3e2f1a0b9c8d'));
      },
    },
    {
      name: 'token mismatch',
      check: 'token',
      mode: 'B',
      // The function accepts no token of SSM's: rotate repairs that (test/commands/drains/repair.test.ts).
      fix: /^raxx-ops drains rotate$/,
      message: /DRAIN_TOKEN differs from SSM drain_token \(compared by SHA-256 digest\)/,
      run: async (s) => setFunctionEnvironment(s.aws, STACK.functionName, { BUCKET_NAME: STACK.drainBucket, DRAIN_TOKEN: 'drain-token-other-1f2e3d4c5b6a7980' }),
    },
    {
      name: 'auth-failure lines in the log group',
      check: 'log-group',
      mode: 'B',
      fix: /raxx-ops drains wire --prune/,
      message: /^3 "drain auth failed" in the last 30 min; newest: .*token_present=true/,
      run: async (s) => s.logLines([1, 2, 3].map((i) => ({ level: 'WARN' as const, text: `{"level":"warn","msg":"drain auth failed: token_present=true","outcome":"auth-failed","status":403,"n":${i}}`, agoMs: 300_000 - i * 1000 }))),
    },
    {
      name: 'AccessDenied write failures',
      check: 'log-group',
      mode: 'C',
      fix: /role may not write to raxx-heroku-logs-prod/,
      message: /^2 "drain write failed" in the last 30 min \(AccessDenied ×2\)/,
      run: async (s) => s.logLines([1, 2].map(() => ({ level: 'ERROR' as const, text: '{"level":"error","msg":"drain write failed: AccessDenied","outcome":"write-failed","status":500}' }))),
    },
    {
      name: 'timeouts',
      check: 'log-group',
      mode: 'D',
      fix: /raise the function timeout/,
      message: /^1 "Task timed out after" in the last 30 min/,
      run: async (s) => s.logLines([{ level: 'ERROR', text: 'Task timed out after 15.02 seconds' }]),
    },
    {
      name: 'bucket without versioning',
      check: 'drain-bucket',
      fix: /put-bucket-versioning --bucket raxx-heroku-logs-prod --versioning-configuration Status=Enabled/,
      message: /versioning is Suspended/,
      run: async (s) => {
        const { PutBucketVersioningCommand } = await import('@aws-sdk/client-s3');
        await (await s.aws.s3()).send(new PutBucketVersioningCommand({ Bucket: STACK.drainBucket, VersioningConfiguration: { Status: 'Suspended' } }));
      },
    },
    {
      name: 'lifecycle of 30 days',
      check: 'drain-bucket',
      mode: 'audit D',
      fix: /^set rule logs-tiers's expiration to at least 90 days in the drain bucket's Terraform/,
      message: /^rule logs-tiers \(prefix logs\/\) deletes log objects at 30 days, under the 90-day floor$/,
      run: async (s) => setDrainLifecycle(s.aws, 30),
    },
    {
      name: 'a public-access block off',
      check: 'attachments',
      fix: /put-public-access-block --bucket raxx-support-attachments-prod .*BlockPublicPolicy=true/,
      message: /public-access block off: BlockPublicPolicy$/,
      run: async (s) => blockPublicAccess(s.aws, STACK.attachmentsBucket, ['BlockPublicPolicy']),
    },
    {
      name: 'a bucket policy granting public access',
      check: 'attachments',
      fix: /delete-bucket-policy --bucket raxx-support-attachments-prod/,
      message: /^the bucket policy grants public access: PublicRead allows s3:GetObject to anyone$/,
      run: async (s) => {
        const { PutBucketPolicyCommand } = await import('@aws-sdk/client-s3');
        const policy = {
          Version: '2012-10-17',
          Statement: [
            { Sid: 'SupportRole', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:role/support' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${STACK.attachmentsBucket}/*` },
            { Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${STACK.attachmentsBucket}/*` },
          ],
        };
        await (await s.aws.s3()).send(new PutBucketPolicyCommand({ Bucket: STACK.attachmentsBucket, Policy: JSON.stringify(policy) }));
      },
    },
    {
      name: 'attachments encrypted with another key',
      check: 'attachments',
      fix: /set SSE-KMS with alias\/raxx-support-attachments/,
      message: /default encryption uses arn:aws:kms:.*, not the key behind alias\/raxx-support-attachments/,
      run: async (s) => {
        const { CreateKeyCommand } = await import('@aws-sdk/client-kms');
        const { PutBucketEncryptionCommand } = await import('@aws-sdk/client-s3');
        const other = await (await s.aws.kms()).send(new CreateKeyCommand({ Description: 'another key' }));
        await (await s.aws.s3()).send(
          new PutBucketEncryptionCommand({ Bucket: STACK.attachmentsBucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: other.KeyMetadata!.Arn! } }] } }),
        );
      },
    },
    {
      name: 'an attachments lifecycle rule missing',
      check: 'attachments',
      fix: /the four rules/,
      message: /lifecycle rule missing: incomplete multipart uploads aborted after 7 days/,
      run: async (s) => setAttachmentsLifecycle(s.aws, ATTACHMENT_RULES.filter((r) => r !== 'multipart')),
    },
    {
      name: 'the attachments key not rotating',
      check: 'attachments',
      fix: /^aws kms enable-key-rotation --key-id [0-9a-f-]{36}$/,
      message: /automatic key rotation is off/,
      run: async (s) => {
        const { DisableKeyRotationCommand } = await import('@aws-sdk/client-kms');
        await (await s.aws.kms()).send(new DisableKeyRotationCommand({ KeyId: s.keyId }));
      },
    },
    {
      name: 'an app silent for 3 hours',
      check: 'freshness',
      fix: /raxx-ops drains test --app raxx-api-prod/,
      message: /raxx-api-prod: silent 180 min/,
      run: async (s) => {
        const { DeleteObjectsCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
        const s3 = await s.aws.s3();
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: STACK.drainBucket, Prefix: 'logs/raxx-api-prod/' }));
        await s3.send(new DeleteObjectsCommand({ Bucket: STACK.drainBucket, Delete: { Objects: listed.Contents!.map((o) => ({ Key: o.Key! })) } }));
        await s.putObject('raxx-api-prod', 3 * HOUR + 20_000);
      },
    },
  ];

  // Every lifecycle and policy shape S3 allows, judged by what it does to the objects. (moto
  // drops a filter's object-size bounds, so size filters are judged in test/lib/doctor-lifecycle.test.ts.)
  const inDays = (n: number) => new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + n * 86_400_000);
  const drainRules = (...extra: LifecycleRuleInput[]) => async (s: Stack) => setLifecycle(s.aws, STACK.drainBucket, [DRAIN_TIERS, ...extra]);
  const attachmentRules = (...extra: LifecycleRuleInput[]) => async (s: Stack) => setAttachmentsLifecycle(s.aws, ATTACHMENT_RULES, extra);
  const statement = (sid: string, principal: unknown, extra: object = {}) => ({ Sid: sid, Effect: 'Allow', Principal: principal, Action: 's3:GetObject', Resource: 'arn:aws:s3:::*/*', ...extra });
  /** One compacted day's manifest in the drain bucket (`logs compact` wrote it). */
  const putCompactedDay = () => async (s: Stack) => {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await (await s.aws.s3()).send(new PutObjectCommand({ Bucket: STACK.drainBucket, Key: 'compacted/manifests/app=raxx-api-prod/day=2025-06-01/manifest.json', Body: '{}' }));
  };
  const shapes: typeof breaks = [
    {
      name: 'a dated expiry six days away (Expiration.Date)',
      check: 'drain-bucket',
      mode: 'audit D',
      message: /^rule dated-purge \(prefix logs\/\) deletes every log object it matches on \d{4}-\d\d-\d\d \(in 6 days\), however young$/,
      fix: /replace the dated Expiration of rule dated-purge with Expiration\.Days of at least 90/,
      run: drainRules({ ID: 'dated-purge', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Date: inDays(6) } }),
    },
    {
      name: 'a whole-bucket rule of 7 days beside the tiers',
      check: 'drain-bucket',
      mode: 'audit D',
      message: /^rule sweep-7d \(whole bucket\) deletes log objects at 7 days, under the 90-day floor$/,
      fix: /set rule sweep-7d's expiration to at least 90 days/,
      run: drainRules({ ID: 'sweep-7d', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 7 } }),
    },
    ...(['GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR'] as const).map((cls) => ({
      name: `a transition to ${cls} at 1 day`,
      check: 'drain-bucket',
      message: new RegExp(`^rule cold-${cls} \\(prefix logs/\\) moves log objects to ${cls} at 1 d: .*\\(the runbooks chose Standard-IA, never Glacier\\)$`),
      fix: new RegExp(`^use STANDARD_IA in rule cold-${cls}`),
      run: drainRules({ ID: `cold-${cls}`, Status: 'Enabled', Filter: { Prefix: 'logs/' }, Transitions: [{ Days: 1, StorageClass: cls }] }),
    })),
    {
      name: 'noncurrent versions expiring after 1 day',
      check: 'drain-bucket',
      mode: 'audit D',
      message: /^rule old-versions \(whole bucket\) deletes noncurrent versions at 1 days: a deleted or overwritten log object is gone for good/,
      fix: /NoncurrentDays to at least 90/,
      run: drainRules({ ID: 'old-versions', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }),
    },
    {
      name: "a rule on one app's prefix (Filter.Prefix)",
      check: 'drain-bucket',
      mode: 'audit D',
      message: /^rule api-only \(prefix logs\/raxx-api-prod\/\) deletes log objects at 14 days/,
      fix: /api-only/,
      run: drainRules({ ID: 'api-only', Status: 'Enabled', Filter: { Prefix: 'logs/raxx-api-prod/' }, Expiration: { Days: 14 } }),
    },
    {
      name: 'a tag-filtered rule (Filter.Tag)',
      check: 'drain-bucket',
      mode: 'audit D',
      message: /^rule tagged \(whole bucket, objects tagged purge=yes\) deletes log objects at 5 days/,
      fix: /tagged/,
      run: drainRules({ ID: 'tagged', Status: 'Enabled', Filter: { Tag: { Key: 'purge', Value: 'yes' } }, Expiration: { Days: 5 } }),
    },
    {
      name: 'an extra whole-bucket 7-day rule beside the four attachments rules',
      check: 'attachments',
      message: /^rule cleanup-7d \(whole bucket\) deletes attachments at 7 days, under the 90-day floor$/,
      fix: /cleanup-7d/,
      run: attachmentRules({ ID: 'cleanup-7d', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 7 } }),
    },
    {
      name: 'attachments moved to DEEP_ARCHIVE',
      check: 'attachments',
      message: /^rule archive \(whole bucket\) moves attachments to DEEP_ARCHIVE at 30 d: they cannot be read without a restore first/,
      fix: /STANDARD_IA in rule archive/,
      run: attachmentRules({ ID: 'archive', Status: 'Enabled', Filter: { Prefix: '' }, Transitions: [{ Days: 30, StorageClass: 'DEEP_ARCHIVE' }] }),
    },
    {
      name: 'attachments with a dated expiry',
      check: 'attachments',
      message: /^rule purge-date \(prefix 5b7c1a2e-1111-4aaa-8bbb-0123456789ab\/\) deletes every attachment it matches on /,
      fix: /Expiration\.Days of at least 90/,
      run: attachmentRules({ ID: 'purge-date', Status: 'Enabled', Filter: { Prefix: '5b7c1a2e-1111-4aaa-8bbb-0123456789ab/' }, Expiration: { Date: inDays(20) } }),
    },
    {
      name: 'attachment noncurrent versions expiring after 3 days',
      check: 'attachments',
      message: /^rule versions-3d \(whole bucket\) deletes noncurrent versions at 3 days: a deleted or overwritten attachment is gone for good after 3 days, under the 30-day floor/,
      fix: /NoncurrentDays to at least 30/,
      run: attachmentRules({ ID: 'versions-3d', Status: 'Enabled', Filter: { Prefix: '' }, NoncurrentVersionExpiration: { NoncurrentDays: 3 } }),
    },
    {
      name: 'a bucket policy granting a role access on the drain bucket',
      check: 'drain-bucket',
      message: /^the bucket policy grants s3:GetObject to \{"AWS":"arn:aws:iam::123456789012:role\/reader"\} \(ReaderRole\): the runbook says no bucket policy grants/,
      fix: /delete-bucket-policy --bucket raxx-heroku-logs-prod/,
      run: async (s) => setPolicy(s.aws, STACK.drainBucket, [{ Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${STACK.drainBucket}/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }, statement('ReaderRole', { AWS: 'arn:aws:iam::123456789012:role/reader' })]),
    },
    ...[
      { how: 'Principal {"AWS": "*"}', stmt: statement('AnyAws', { AWS: '*' }), sid: 'AnyAws' },
      { how: 'NotPrincipal', stmt: { ...statement('AllBut', undefined), Principal: undefined, NotPrincipal: { AWS: 'arn:aws:iam::123456789012:root' } }, sid: 'AllBut' },
      { how: 'a condition that does not narrow who (aws:SecureTransport)', stmt: statement('TlsAnyone', '*', { Condition: { Bool: { 'aws:SecureTransport': 'true' } } }), sid: 'TlsAnyone' },
    ].map((p) => ({
      name: `a public attachments policy: ${p.how}`,
      check: 'attachments',
      message: new RegExp(`^the bucket policy grants public access: ${p.sid} allows s3:GetObject to anyone$`),
      fix: /delete-bucket-policy --bucket raxx-support-attachments-prod/,
      run: async (s: Stack) => setPolicy(s.aws, STACK.attachmentsBucket, [p.stmt]),
    })),
    {
      name: 'a public drain bucket policy',
      check: 'drain-bucket',
      message: /^the bucket policy grants public access: Open allows s3:GetObject to anyone$/,
      fix: /raxx-heroku-logs-prod/,
      run: async (s) => setPolicy(s.aws, STACK.drainBucket, [statement('Open', '*')]),
    },
    {
      name: "the function's BUCKET_NAME pointing at another bucket",
      check: 'function',
      mode: 'C',
      message: /^the function raxx-heroku-log-drain-receiver writes to BUCKET_NAME=raxx-heroku-logs-staging, not raxx-heroku-logs-prod/,
      fix: /^BUCKET_NAME=raxx-heroku-logs-prod: set it in the drain's Terraform/,
      run: async (s) => setFunctionEnvironment(s.aws, STACK.functionName, { BUCKET_NAME: 'raxx-heroku-logs-staging', DRAIN_TOKEN: STACK.drainToken, KEY_PREFIX: 'logs/' }),
    },
    {
      name: "the function's KEY_PREFIX elsewhere",
      check: 'function',
      mode: 'C',
      message: /^the function writes under KEY_PREFIX=drain\/, not logs\/$/,
      fix: /^KEY_PREFIX=logs\//,
      run: async (s) => setFunctionEnvironment(s.aws, STACK.functionName, { BUCKET_NAME: STACK.drainBucket, DRAIN_TOKEN: STACK.drainToken, KEY_PREFIX: 'drain' }),
    },
    {
      // The runbook deletes log objects at 365 days; compacted days hold the same lines.
      name: 'compacted days with no lifecycle rule of their own (kept forever)',
      check: 'drain-bucket',
      message: /^compacted days under compacted\/ are kept forever, past the log objects' 365: the lines they hold outlive the retention$/,
      fix: /^add a lifecycle rule for compacted\/ that expires at 365 days/,
      run: async (s) => {
        // The runbook's Terraform as written: a rule for logs/ only.
        await drainRules()(s);
        await putCompactedDay()(s);
      },
    },
    {
      name: 'compacted days kept longer than the log objects',
      check: 'drain-bucket',
      message: /^compacted days under compacted\/ are kept 730 days, past the log objects' 365/,
      fix: /expires at 365 days/,
      run: async (s) => {
        await drainRules({ ID: 'compacted', Status: 'Enabled', Filter: { Prefix: 'compacted/' }, Expiration: { Days: 730 } })(s);
        await putCompactedDay()(s);
      },
    },
  ];
  breaks.push(...shapes);
  // The audit runbook's diagnosis, without a tracer: the same checks as `audit smoke` 2-4.
  breaks.push(
    {
      name: 'a role setting reset',
      check: 'audit',
      mode: 'audit B',
      message: /^role settings: raptor_app: log_statement is not set$/,
      fix: /^raxx-ops audit fix-roles \(or: ALTER ROLE "raptor_app" SET log_statement TO 'mod';\), then restart the dynos$/,
      run: async () => sql('ALTER ROLE raptor_app RESET log_statement'),
    },
    {
      name: 'a history trigger disabled',
      check: 'audit',
      mode: 'audit C',
      message: /^history triggers: trg_passkeys_history on passkeys is disabled$/,
      fix: /^ALTER TABLE "passkeys" ENABLE TRIGGER "trg_passkeys_history";$/,
      run: async () => sql('ALTER TABLE passkeys DISABLE TRIGGER trg_passkeys_history'),
    },
    {
      name: 'history not append-only',
      check: 'audit',
      message: /^append-only grants: raptor_app may DELETE public\.users_history$/,
      fix: /^REVOKE DELETE ON public\.users_history FROM "raptor_app";/,
      run: async () => sql('GRANT DELETE ON users_history TO raptor_app'),
    },
  );

  it('compacted days that expire with the log objects pass; no listener piles up on the run\'s signal', async () => {
    await drainRules({ ID: 'compacted', Status: 'Enabled', Filter: { Prefix: 'compacted/' }, Expiration: { Days: 365 } })(stack);
    await putCompactedDay()(stack);
    // Every check at once on the run's signal: no listener piles up on it (Node would warn).
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const { r, doc } = await doctor().finally(() => process.off('warning', onWarning));
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    expect(r.code, JSON.stringify(doc.checks.filter((c) => c.status !== 'pass'))).toBe(0);
    const drain = doc.checks.find((c) => c.id === 'drain-bucket')!.findings.map((f) => f.message).join('\n');
    expect(drain).toMatch(/compacted days under compacted\/ expire at 365 days, with the log objects \(365\)/);
  });

  it('rules that never reach the log objects, disabled rules and narrowing policies pass', async () => {
    await setLifecycle(stack.aws, STACK.drainBucket, [
      DRAIN_TIERS,
      { ID: 'off', Status: 'Disabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } },
      { ID: 'athena-results', Status: 'Enabled', Filter: { Prefix: 'athena-results/' }, Expiration: { Days: 1 } },
      { ID: 'uploads', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } },
    ]);
    await setPolicy(stack.aws, STACK.drainBucket, [{ Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${STACK.drainBucket}/*`, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }]);
    await setPolicy(stack.aws, STACK.attachmentsBucket, [statement('FromOurVpce', '*', { Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-0123456789abcdef0' } } })]);
    const { r, doc } = await doctor();
    expect(r.code, JSON.stringify(doc.checks.filter((c) => c.status !== 'pass'))).toBe(0);
    const drain = doc.checks.find((c) => c.id === 'drain-bucket')!.findings.map((f) => f.message).join('\n');
    expect(drain).toMatch(/lifecycle keeps log objects 365 days \(≥ 90\), never in an archive class; tiers: logs-tiers .*; uploads \(whole bucket\): incomplete uploads aborted at 7 d/);
    expect(drain).not.toMatch(/athena-results|\boff\b/);
    expect(drain).toMatch(/the bucket policy grants nothing \(Deny statements only\)/);
  });

  it.each(breaks)('$name → $check fails with the failure mode and fix', async (b) => {
    await b.run(stack);
    const { r, doc } = await doctor(b.args);
    expect(r.code, r.stderr).toBe(1);
    expect(failing(doc)).toEqual([b.check]);
    const found = doc.checks.find((c) => c.id === b.check)!.findings.filter((f) => f.status === 'fail');
    expect(found, JSON.stringify(doc.checks.find((c) => c.id === b.check))).toHaveLength(1);
    expect(found[0]!.message).toMatch(b.message);
    expect(found[0]!.fix).toMatch(b.fix);
    expect(found[0]!.mode).toBe(b.mode);
    expect(doc.modes).toEqual(b.mode ? [b.mode] : []);
    // People see the same: the check failed, the mode, the fix, and a one-line error.
    expect(r.stderr).toMatch(/^error: doctor: \d+ pass, \d+ warn, 1 fail/m);
  });

  it('SSM changed by hand: the drains and token checks both name `drains rotate`, not a re-wire from SSM', async () => {
    const other = 'drain-token-put-in-ssm-by-hand-6a8c0e2d4f6b';
    await putDrainParameters(stack.aws, { prefix: STACK.ssmPrefix, url: stack.drainUrl.replace(STACK.drainToken, other), token: other });
    const { r, doc } = await doctor();
    expect(r.code).toBe(1);
    for (const id of ['drains', 'token']) {
      const fails = doc.checks.find((c) => c.id === id)!.findings.filter((f) => f.status === 'fail');
      expect(fails.length, id).toBeGreaterThan(0);
      for (const f of fails) expect(f).toMatchObject({ mode: 'B', fix: 'raxx-ops drains rotate' });
    }
    expect(r.stdout + r.stderr).not.toContain(other);
  });

  it('clock-skew and other error lines are warnings with the newest line redacted; exit 0', async () => {
    await stack.logLines([
      { level: 'WARN', text: '{"level":"warn","msg":"drain clock skew: frame time 2019-01-01T00:00:00Z, filed on its arrival day","app":"raxx-api-prod"}', agoMs: 200_000 },
      { level: 'ERROR', text: `Runtime.UnhandledPromiseRejection: fetch failed for ${stack.drainUrl}`, agoMs: 100_000 },
    ]);
    const { r, doc } = await doctor();
    expect(r.code, r.stderr).toBe(0);
    const group = doc.checks.find((c) => c.id === 'log-group')!;
    expect(group.status).toBe('warn');
    expect(group.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/^1 "drain clock skew" in the last 30 min: .*; newest: .*drain clock skew: frame time 2019/),
      expect.stringMatching(/^1 other error line\(s\) in the last 30 min; newest: .*Runtime\.UnhandledPromiseRejection: fetch failed for http:\/\/127\.0\.0\.1:\d+\/\?token=\*\*\*\*/),
    ]);
  });

  it('a newly wired app (its drain from today, no object yet) is a warning, not a failure', async () => {
    const { DeleteObjectsCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const s3 = await stack.aws.s3();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: STACK.drainBucket, Prefix: 'logs/raxx-velvet-prod/' }));
    await s3.send(new DeleteObjectsCommand({ Bucket: STACK.drainBucket, Delete: { Objects: listed.Contents!.map((o) => ({ Key: o.Key! })) } }));
    const { r, doc } = await doctor();
    expect(r.code, r.stderr).toBe(0);
    expect(doc.status).toBe('warn');
    const fresh = doc.checks.find((c) => c.id === 'freshness')!;
    expect(fresh.status).toBe('warn');
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
    expect(fresh.findings.find((f) => f.status === 'warn')).toMatchObject({ message: expect.stringMatching(/^raxx-velvet-prod: newly wired at .*; no object since$/), fix: 'raxx-ops drains test --app raxx-velvet-prod' });
  });

  it('--notify posts a short summary with the failure mode and fix to the Slack stand-in', async () => {
    await setFunctionEnvironment(stack.aws, STACK.functionName, { BUCKET_NAME: STACK.drainBucket, DRAIN_TOKEN: 'drain-token-other-1f2e3d4c5b6a7980' });
    const r = await runCli(['doctor', '--notify'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('posted the summary to Slack');
    expect(slack.posts).toHaveLength(1);
    expect(slack.posts[0]!.path).toBe(`/services/${WEBHOOK_SECRET}`);
    const text = slack.posts[0]!.body.text;
    expect(text).toMatch(/^raxx-ops doctor \(prod\): 10 pass, 0 warn, 1 fail \(failure mode B\)\n• FAIL token: \[B\] .*fix: raxx-ops drains rotate/);
    for (const s of [HEROKU_TOKEN, STACK.drainToken, 'drain-token-other-1f2e3d4c5b6a7980']) expect(text).not.toContain(s);
    expectNoSecrets(r);
  });

  it('a notification Slack refuses is a warning; the exit code stays the checks\' own', async () => {
    await setDrainLifecycle(stack.aws, 30);
    const r = await runCli(['doctor', '--notify'], { env: { ...env, SLACK_WEBHOOK_URL: slack.url.replace('/services/', '/revoked/') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/warning: Slack answered 404 to the notification/);
    expect(slack.posts).toHaveLength(1);
    expect(slack.posts[0]!.body.text).toMatch(/\[audit D\] rule logs-tiers \(prefix logs\/\) deletes log objects at 30 days/);
    expectNoSecrets(r);
  });

  it('--notify without SLACK_WEBHOOK_URL is a configuration error before any check', async () => {
    const r = await runCli(['doctor', '--notify'], { env: { ...env, SLACK_WEBHOOK_URL: undefined } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--notify needs SLACK_WEBHOOK_URL\nhint: /);
    expect(heroku.calls).toEqual([]);
  });

  const count = (text: string, what: string) => text.split(what).length - 1;

  it('no Heroku token: the drains check says so once; the audit check points to it; the AWS checks still report', async () => {
    const r = await runCli(['doctor', '--json'], { env: { ...env, HEROKU_API_KEY: undefined } });
    expect(r.code).toBe(1);
    const doc = r.json<Report>();
    expect(failing(doc)).toEqual(['drains']);
    expect(doc.checks.find((c) => c.id === 'drains')!.findings[0]!.message).toMatch(/could not check: no Heroku API token/);
    expect(doc.checks.find((c) => c.id === 'audit')!.findings).toEqual([{ status: 'warn', message: 'not checked: the same error as the `drains` check' }]);
    expect(doc.checks.find((c) => c.id === 'freshness')!.status).toBe('pass');
    expect(count(r.stdout, 'no Heroku API token')).toBe(1);
    // With DATABASE_URL in the environment the audit checks need no Heroku at all.
    const direct = await runCli(['doctor', '--json'], { env: { ...env, HEROKU_API_KEY: undefined, DATABASE_URL: db.owner } });
    expect(direct.json<Report>().checks.find((c) => c.id === 'audit')!.status).toBe('pass');
    expectNoSecrets(direct);
  });

  it('a rejected Heroku token is reported once, on stdout, and its fix once on stderr', async () => {
    for (const json of [false, true]) {
      const r = await runCli(['doctor', ...(json ? ['--json'] : [])], { env: { ...env, HEROKU_API_KEY: 'heroku-api-token-revoked-0a1b2c3d4e5f' } });
      expect(r.code).toBe(1);
      expect(count(r.stdout, 'Heroku rejected the API token'), r.stdout).toBe(1);
      expect(r.stderr).not.toContain('Heroku rejected');
      expect(r.stderr).toMatch(/^error: doctor: \d+ pass, 1 warn, 1 fail\nhint: first fix: run `heroku login` or set HEROKU_API_KEY to a valid token\n$/);
      expect(r.stdout).not.toContain('heroku-api-token-revoked-0a1b2c3d4e5f');
    }
  });

  it('no AWS credentials: one error, exit 3, nothing on stdout; --json one error document', async () => {
    const noAws = { ...env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: 'true' };
    const r = await runCli(['doctor'], { env: noAws });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: AWS credentials are missing or expired \([^)]*\): .*\nhint: log in with `aws sso login --profile <profile>` and pass --profile, or set AWS_PROFILE\n$/);
    const j = await runCli(['doctor', '--json'], { env: noAws });
    expect(j.code).toBe(3);
    expect(j.json()).toMatchObject({ error: { code: 'config', exitCode: 3 } });
  });

  it('SSM drain_url missing: the ssm check fails with mode A; the checks that need it point there', async () => {
    const { DeleteParameterCommand } = await import('@aws-sdk/client-ssm');
    await (await stack.aws.ssm()).send(new DeleteParameterCommand({ Name: `${STACK.ssmPrefix}drain_url` }));
    const { r, doc } = await doctor();
    expect(r.code).toBe(1);
    expect(failing(doc)).toEqual(['ssm']);
    expect(doc.checks.find((c) => c.id === 'ssm')!.findings.find((f) => f.status === 'fail')).toMatchObject({ message: '/raxx/log-drain/drain_url is missing', mode: 'A' });
    for (const id of ['drains', 'token']) expect(doc.checks.find((c) => c.id === id)!.findings).toEqual([{ status: 'warn', message: 'not checked: it needs the SSM drain settings, which the `ssm` check reports failing' }]);
    expect(doc.modes).toEqual(['A']);
  });

  it('S3 refuses one bucket only (AccessDenied): its checks say so, the drain bucket and the rest still pass', async () => {
    const proxy = await startFaultProxy(moto.env.AWS_ENDPOINT_URL!);
    try {
      proxy.setFaults(['GET', 'HEAD'].map((method) => ({ method, path: (p: string) => p.startsWith(`/${STACK.attachmentsBucket}`), times: 1000, status: 403 })));
      const r = await runCli(['doctor', '--json'], { env: { ...env, AWS_ENDPOINT_URL_S3: proxy.endpoint } });
      expect(r.code).toBe(1);
      const doc = r.json<Report>();
      expect(failing(doc)).toEqual(['attachments']);
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
      expect(doc.checks.find((c) => c.id === 'attachments')!.findings[0]).toMatchObject({ status: 'fail', message: expect.stringMatching(/^could not check: S3 HeadBucket raxx-support-attachments-prod failed: .*403/) });
      expect(doc.checks.find((c) => c.id === 'drain-bucket')!.status).toBe('pass');
      const cost = doc.checks.find((c) => c.id === 'cost')!;
      expect(cost.status).toBe('warn');
      expect(cost.findings.map((f) => f.message)).toEqual([expect.stringMatching(/^raxx-heroku-logs-prod: ~\$/), expect.stringMatching(/^raxx-support-attachments-prod: not costed: the listing failed \(AccessDenied\)/)]);
    } finally {
      await proxy.close();
    }
  });

  it('Postgres unreachable: the audit check fails with the masked URL and the reason; the rest still report', async () => {
    const port = await freePort();
    const url = `postgres://raxx_owner:${PG.owner}@127.0.0.1:${port}/raxx`;
    const { r, doc } = await doctor(['--database-url', url]);
    expect(r.code).toBe(1);
    expect(failing(doc)).toEqual(['audit']);
    const f = doc.checks.find((c) => c.id === 'audit')!.findings;
    expect(f).toHaveLength(1);
    expect(f[0]!.message).toMatch(new RegExp(`^could not check: .*postgres://raxx_owner:\\*\\*\\*\\*@127\\.0\\.0\\.1:${port}/raxx`));
  });

  it('Ctrl-C while the audit check waits on a database that never answers: exit 130 at once', async () => {
    const sockets: Socket[] = [];
    const silent = createNetServer((sock) => void sockets.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const ac = new AbortController();
      let abortedAt = 0;
      silent.once('connection', () => setTimeout(() => ((abortedAt = Date.now()), ac.abort()), 200));
      const r = await runCli(['doctor', '--json', '--database-url', `postgres://raxx_owner:${PG.owner}@127.0.0.1:${(silent.address() as AddressInfo).port}/raxx`], { env, signal: ac.signal });
      expect(r.code).toBe(130);
      expect(Date.now() - abortedAt, 'well before the 10 s connect timeout').toBeLessThan(3_000);
      expect(r.json()).toMatchObject({ error: { exitCode: 130 } });
      expectNoSecrets(r);
    } finally {
      for (const sock of sockets) sock.destroy();
      silent.close();
    }
  });

  it('no database URL anywhere: the audit checks are a warning that says where to put one', async () => {
    heroku.setConfigVars('raxx-api-prod', { DATABASE_URL: null });
    const { r, doc } = await doctor();
    expect(r.code, r.stderr).toBe(0);
    expect(doc.checks.find((c) => c.id === 'audit')!.findings).toEqual([
      { status: 'warn', message: 'not checked: no DATABASE_URL: not given with --database-url, not in the environment, and not a config var of raxx-api-prod', fix: 'pass --database-url postgres://…, or set DATABASE_URL' },
    ]);
  });

  const badUrls: { url: string; message: RegExp }[] = [
    { url: 'not a url', message: /--database-url is not a valid Postgres URL/ },
    { url: `mysql://raxx_owner:${PG.owner}@127.0.0.1/raxx`, message: /--database-url is not a valid Postgres URL: scheme mysql:/ },
  ];
  it.each(badUrls)('--database-url $url → exit 2 before any check, nothing secret printed', async ({ url, message }) => {
    const r = await runCli(['doctor', '--database-url', url], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\nhint: /);
    expect(r.stdout).toBe('');
    expect(heroku.calls).toEqual([]);
    expectNoSecrets(r);
  });

  it("the shipped sources' last 7 days: a required day missing fails, an optional one warns", async () => {
    const dir = tempDir('raxx-doctor-sources-');
    const config = join(dir, 'raxx-ops.json');
    writeFileSync(config, JSON.stringify({ logSources: [{ name: 'auth', required: true }, { name: 'api' }] }));
    const { lastDays, shippedKey } = await import('../../src/lib/shipping/layout.js');
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = await stack.aws.s3();
    const days = lastDays(Date.now(), 7);
    const ship = (source: string, day: string) =>
      s3.send(new PutObjectCommand({ Bucket: STACK.drainBucket, Key: shippedKey('receiver', 'logs/', source, day), Body: gzipSync('{"level":"INFO"}\n'), Metadata: { lines: '1' } }));
    await Promise.all(days.flatMap((d) => [ship('auth', d), ship('api', d)]));
    const healthy = await doctor(['--config', config]);
    expect(healthy.r.code, healthy.r.stderr).toBe(0);
    expect(healthy.doc.checks.find((c) => c.id === 'sources')!.findings.map((f) => [f.status, f.message])).toEqual([
      ['pass', `auth (required): every day of ${days[0]}..${days[6]} shipped, 7 entries`],
      ['pass', `api: every day of ${days[0]}..${days[6]} shipped, 7 entries`],
    ]);
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    for (const [source, day] of [['auth', days[2]!], ['api', days[5]!]] as const) await s3.send(new DeleteObjectCommand({ Bucket: STACK.drainBucket, Key: shippedKey('receiver', 'logs/', source, day) }));
    const { r, doc } = await doctor(['--config', config]);
    expect(r.code).toBe(1);
    expect(failing(doc)).toEqual(['sources']);
    expect(doc.checks.find((c) => c.id === 'sources')!.findings).toEqual([
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
      { status: 'fail', message: `auth (required): missing ${days[2]} (critical: a required source must be present daily)`, fix: expect.stringMatching(/^ship the day's files: raxx-ops logs ship auth <file>…/) },
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
      { status: 'warn', message: `api: missing ${days[5]} (optional source)`, fix: expect.stringMatching(/raxx-ops logs ship api/) },
    ]);
  });
});

describe('doctor: a --since that is not in the past (exit 2)', () => {
  const now = () => new Date('2025-06-02T12:00:00Z');
  for (const since of ['2025-06-02T13:00:00Z', '14:30', '2025-06-03']) {
    it(`--since ${since}: refused, since an empty window would read as healthy`, async () => {
      const r = await runCli(['doctor', '--since', since], { now, env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' } });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`--since ${since} is not in the past`));
      expect(r.stderr.match(/^hint: times are UTC/gm)).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }
});
