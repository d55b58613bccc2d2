// A healthy Raxx stack in moto and the Heroku API stand-in, provisioned as the runbooks'
// Terraform leaves it: the drain bucket (versioning, encryption, public-access blocks,
// lifecycle), the SSM parameters, the receiver function, its log group with ordinary lines,
// the attachments bucket (its four lifecycle rules, the customer key behind its alias), every
// app's current drain, and a fresh object per app. A receiver serves the drain URL on loopback,
// so a synthetic batch goes end to end. Tests break one thing at a time with the helpers below.
import { buildObjectKey } from '@raxx/log-format/object-key';
import { frame } from '@raxx/log-format/logplex';
import { startReceiverServer, type ReceiverServer } from '@raxx/log-drain-receiver/serve';
import { gzipSync } from 'node:zlib';
import type { PutBucketLifecycleConfigurationCommandInput } from '@aws-sdk/client-s3';
import type { AwsClients } from '../../src/lib/aws/clients.js';
import { createReceiverFunction, fixtureClients, putDrainParameters } from './aws-fixtures.js';
import type { HerokuApiServer } from './heroku-api.js';

export const STACK = {
  apps: ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'],
  drainBucket: 'raxx-heroku-logs-prod',
  attachmentsBucket: 'raxx-support-attachments-prod',
  functionName: 'raxx-heroku-log-drain-receiver',
  logGroup: '/aws/lambda/raxx-heroku-log-drain-receiver',
  kmsAlias: 'alias/raxx-support-attachments',
  ssmPrefix: '/raxx/log-drain/',
  drainToken: 'drain-token-9c2e7a4b1f8d3e6a5c0b7d2f4e1a8c3b',
  supportUser: 'raxx-support-backend-user',
} as const;

export interface Stack {
  aws: AwsClients;
  receiver: ReceiverServer;
  /** The drain URL in SSM: the receiver with ?token=. */
  drainUrl: string;
  /** The app's current drain URL. */
  desired(app: string): string;
  keyId: string;
  /** Appends lines to the receiver's log group, as Lambda writes them. */
  logLines(lines: { text: string; level?: 'INFO' | 'WARN' | 'ERROR'; agoMs?: number }[]): Promise<void>;
  /** A drain object of the app `agoMs` before now. */
  putObject(app: string, agoMs: number): Promise<string>;
  stop(): Promise<void>;
}

const LOG_STREAM = '2025/06/01/[$LATEST]0123456789abcdef0123456789abcdef';

/** The healthy stack; the receiver answers with the stack's token. */
export async function provisionStack(env: Record<string, string>, heroku: HerokuApiServer): Promise<Stack> {
  const aws = fixtureClients(env);
  const s3 = await aws.s3();
  const receiver = await startReceiverServer({ handlerDeps: { s3, bucket: STACK.drainBucket, tokens: () => ({ current: STACK.drainToken }), log: () => undefined } });
  const drainUrl = `${receiver.url}/?token=${STACK.drainToken}`;
  const { keyId, logLines, putObject } = await provisionInfrastructure(aws, env, { drainUrl, drainToken: STACK.drainToken });

  // Every app wired, and a batch from each two minutes ago.
  const desired = (app: string) => `${drainUrl}&app=${app}`;
  for (const app of STACK.apps) heroku.addDrain(app, desired(app));
  for (const app of STACK.apps) await putObject(app, 2 * 60_000);

  return {
    aws,
    receiver,
    drainUrl,
    desired,
    keyId,
    logLines,
    putObject,
    async stop() {
      await receiver.close();
      aws.destroy();
    },
  };
}

export interface Infrastructure {
  keyId: string;
  /** The support backend's IAM user and its one access key. */
  supportKey: { user: string; id: string; secret: string };
  logLines: Stack['logLines'];
  putObject: Stack['putObject'];
}

/**
 * Everything the runbooks' Terraform creates in AWS, with the drain URL (the receiver's, with
 * ?token=) in SSM and the token in the function's environment. No receiver, no drains.
 */
export async function provisionInfrastructure(aws: AwsClients, env: Record<string, string>, opts: { drainUrl: string; drainToken: string }): Promise<Infrastructure> {
  const { drainUrl, drainToken } = opts;
  const s3m = await import('@aws-sdk/client-s3');
  const s3 = await aws.s3();

  // The drain bucket, as the drain's Terraform creates it.
  const drain = STACK.drainBucket;
  await s3.send(new s3m.CreateBucketCommand({ Bucket: drain }));
  await s3.send(new s3m.PutBucketVersioningCommand({ Bucket: drain, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(new s3m.PutBucketEncryptionCommand({ Bucket: drain, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  await blockPublicAccess(aws, drain);
  await setDrainLifecycle(aws, 365);

  // The receiver's parameters, its function configuration and its log group.
  await putDrainParameters(aws, { prefix: STACK.ssmPrefix, url: drainUrl, token: drainToken });
  const ssm = await aws.ssm();
  const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
  await ssm.send(new PutParameterCommand({ Name: `${STACK.ssmPrefix}bucket_name`, Value: drain, Type: 'String' }));
  await ssm.send(new PutParameterCommand({ Name: `${STACK.ssmPrefix}bucket_arn`, Value: `arn:aws:s3:::${drain}`, Type: 'String' }));
  await createReceiverFunction(aws, env, { functionName: STACK.functionName, variables: { BUCKET_NAME: drain, DRAIN_TOKEN: drainToken, KEY_PREFIX: 'logs/' } });
  const logs = await aws.logs();
  const cwl = await import('@aws-sdk/client-cloudwatch-logs');
  await logs.send(new cwl.CreateLogGroupCommand({ logGroupName: STACK.logGroup }));
  await logs.send(new cwl.CreateLogStreamCommand({ logGroupName: STACK.logGroup, logStreamName: LOG_STREAM }));
  const logLines: Stack['logLines'] = async (lines) => {
    const now = Date.now();
    const events = lines.map((l, i) => ({
      timestamp: now - (l.agoMs ?? 60_000) + i,
      message: `${new Date(now - (l.agoMs ?? 60_000)).toISOString()}\t6f1c1d2e-0000-4000-8000-00000000000${i % 10}\t${l.level ?? 'INFO'}\t${l.text}`,
    }));
    await logs.send(new cwl.PutLogEventsCommand({ logGroupName: STACK.logGroup, logStreamName: LOG_STREAM, logEvents: events.sort((a, b) => a.timestamp - b.timestamp) }));
  };
  await logLines([
    { text: 'START RequestId: 6f1c1d2e-0000-4000-8000-000000000001 Version: $LATEST', agoMs: 120_000 },
    { text: '{"level":"info","msg":"drain batch stored","outcome":"stored","status":200,"app":"raxx-api-prod"}', agoMs: 119_000 },
    { text: 'END RequestId: 6f1c1d2e-0000-4000-8000-000000000001', agoMs: 118_000 },
  ]);

  // The attachments bucket and its customer key, as the attachments runbook's Terraform has them.
  const kms = await aws.kms();
  const kmsm = await import('@aws-sdk/client-kms');
  const key = await kms.send(new kmsm.CreateKeyCommand({ Description: 'raxx support attachments' }));
  const keyId = key.KeyMetadata!.KeyId!;
  await kms.send(new kmsm.CreateAliasCommand({ AliasName: STACK.kmsAlias, TargetKeyId: keyId }));
  await kms.send(new kmsm.EnableKeyRotationCommand({ KeyId: keyId }));
  const att = STACK.attachmentsBucket;
  await s3.send(new s3m.CreateBucketCommand({ Bucket: att }));
  await s3.send(new s3m.PutBucketVersioningCommand({ Bucket: att, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(
    new s3m.PutBucketEncryptionCommand({ Bucket: att, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key.KeyMetadata!.Arn! }, BucketKeyEnabled: true }] } }),
  );
  await blockPublicAccess(aws, att);
  await setAttachmentsLifecycle(aws, ATTACHMENT_RULES);
  await s3.send(new s3m.PutObjectCommand({ Bucket: att, Key: '5b7c1a2e-1111-4aaa-8bbb-0123456789ab/6c8d2b3f-2222-4bbb-8ccc-0123456789ab/7d9e3c4a-3333-4ccc-8ddd-0123456789ab.pdf', Body: Buffer.alloc(2048, 1) }));

  // The support backend's IAM user, with the one key its apps hold.
  const iam = await aws.iam();
  const iamm = await import('@aws-sdk/client-iam');
  await iam.send(new iamm.CreateUserCommand({ UserName: STACK.supportUser }));
  const ak = (await iam.send(new iamm.CreateAccessKeyCommand({ UserName: STACK.supportUser }))).AccessKey!;

  const putObject: Stack['putObject'] = async (app, agoMs) => {
    const t = Date.now() - agoMs;
    const line = `<190>1 ${new Date(t).toISOString()} host app web.1 - GET /health status=200\n`;
    const key = buildObjectKey({ app, epochMs: t, id: `${Math.random().toString(16).slice(2, 10)}-0000-4000-8000-000000000000` });
    await s3.send(new s3m.PutObjectCommand({ Bucket: drain, Key: key, Body: gzipSync(Buffer.from(frame([line]))) }));
    return key;
  };
  return { keyId, supportKey: { user: STACK.supportUser, id: ak.AccessKeyId!, secret: ak.SecretAccessKey! }, logLines, putObject };
}

export async function blockPublicAccess(aws: AwsClients, bucket: string, off: string[] = []): Promise<void> {
  const s3 = await aws.s3();
  const { PutPublicAccessBlockCommand } = await import('@aws-sdk/client-s3');
  const flags = Object.fromEntries(['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'].map((k) => [k, !off.includes(k)]));
  await s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: flags }));
}

/**
 * The drain bucket's tiers (the audit runbook's: STANDARD_IA at 90 days), expiring at `days`,
 * and the rule the runbook's Terraform lacks: compacted days (`logs compact`) hold the same lines,
 * so they expire with the log objects (docs/query.md; doctor fails without it).
 */
export async function setDrainLifecycle(aws: AwsClients, days: number): Promise<void> {
  const s3 = await aws.s3();
  const { PutBucketLifecycleConfigurationCommand } = await import('@aws-sdk/client-s3');
  const transitions = days > 90 ? [{ Days: 90, StorageClass: 'STANDARD_IA' as const }] : [];
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: STACK.drainBucket,
      LifecycleConfiguration: {
        Rules: [
          { ID: 'logs-tiers', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Transitions: transitions, Expiration: { Days: days } },
          { ID: 'compacted-days', Status: 'Enabled', Filter: { Prefix: 'compacted/' }, Expiration: { Days: days } },
        ],
      },
    }),
  );
}

type Rule = NonNullable<NonNullable<PutBucketLifecycleConfigurationCommandInput['LifecycleConfiguration']>['Rules']>[number];
export type { Rule as LifecycleRuleInput };

/** The drain bucket's healthy rule (STANDARD_IA at 90 days, expiry at 365), then `extra`. */
export const DRAIN_TIERS: Rule = { ID: 'logs-tiers', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Transitions: [{ Days: 90, StorageClass: 'STANDARD_IA' }], Expiration: { Days: 365 } };

/** Replaces a bucket's lifecycle with `rules`. */
export async function setLifecycle(aws: AwsClients, bucket: string, rules: Rule[]): Promise<void> {
  const s3 = await aws.s3();
  const { PutBucketLifecycleConfigurationCommand } = await import('@aws-sdk/client-s3');
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
}

/** Replaces a bucket's policy. */
export async function setPolicy(aws: AwsClients, bucket: string, statements: object[]): Promise<void> {
  const { PutBucketPolicyCommand } = await import('@aws-sdk/client-s3');
  await (await aws.s3()).send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));
}

export type AttachmentRule = 'resolved' | 'unresolved' | 'noncurrent' | 'multipart';
export const ATTACHMENT_RULES: AttachmentRule[] = ['resolved', 'unresolved', 'noncurrent', 'multipart'];

/** The attachments runbook's lifecycle rules (the ones named), then `extra`. */
export async function setAttachmentsLifecycle(aws: AwsClients, rules: AttachmentRule[], extra: Rule[] = []): Promise<void> {
  const all: Record<AttachmentRule, Rule> = {
    resolved: { ID: 'resolved-90d', Status: 'Enabled', Filter: { Tag: { Key: 'ticket-status', Value: 'resolved' } }, Expiration: { Days: 90 } },
    unresolved: { ID: 'unresolved-365d', Status: 'Enabled', Filter: { Tag: { Key: 'ticket-status', Value: 'unresolved' } }, Expiration: { Days: 365 } },
    noncurrent: { ID: 'noncurrent-30d', Status: 'Enabled', Filter: { Prefix: '' }, NoncurrentVersionExpiration: { NoncurrentDays: 30 } },
    multipart: { ID: 'multipart-7d', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } },
  };
  await setLifecycle(aws, STACK.attachmentsBucket, [...rules.map((r) => all[r]), ...extra]);
}
