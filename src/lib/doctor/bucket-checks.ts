// The buckets as the runbooks' Terraform leaves them: the drain bucket (audit runbook:
// retention of at least 90 days, tiers as they actually are) and the attachments bucket
// (versioned, encrypted with the customer key, private, four lifecycle rules, a rotating key),
// and what each costs a month. Reads bucket settings only; never an object's content.
import type { LifecycleRule, S3Client } from '@aws-sdk/client-s3';
import type { Context } from '../run/context.js';
import { AwsCredentialsError, awsError } from '../aws/clients.js';
import { InterruptedError, ServiceError } from '../core/errors.js';
import { branch } from '../core/abort.js';
import { describeRule, earliestExpiry, judgeRules, reaches, ruleTags } from './lifecycle.js';
import { fail, pass, warn, type Finding } from './report.js';
import { monthlyUsd } from '../core/sizes.js';

type Ctx = Pick<Context, 'aws' | 'config' | 'signal' | 'now'>;

/** A bucket setting, or undefined when S3 answers that it is not configured. */
async function setting<T>(ctx: Ctx, bucket: string, action: string, call: (s3: S3Client) => Promise<T>, notConfigured: string[]): Promise<T | undefined> {
  const s3 = await ctx.aws.s3();
  try {
    return await call(s3);
  } catch (err) {
    const e = err as { name?: string; Code?: string };
    if (notConfigured.includes(e.name ?? '') || notConfigured.includes(e.Code ?? '')) return undefined;
    throw awsError(err, 'S3', `${action} ${bucket}`, ctx.aws.endpointOf('S3'));
  }
}

const PAB_FLAGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

/** What every private bucket of the runbooks has: it exists, versioning, default encryption, the four public-access blocks. */
async function commonSettings(ctx: Ctx, bucket: string, terraform: string) {
  const s3m = await import('@aws-sdk/client-s3');
  const s3 = await ctx.aws.s3();
  try {
    await s3.send(new s3m.HeadBucketCommand({ Bucket: bucket }), { abortSignal: branch(ctx.signal) });
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchBucket' || e.$metadata?.httpStatusCode === 404) return { exists: false as const };
    throw awsError(err, 'S3', `HeadBucket ${bucket}`, ctx.aws.endpointOf('S3'));
  }
  const [versioning, encryption, pab, lifecycle] = await Promise.all([
    setting(ctx, bucket, 'GetBucketVersioning', (c) => c.send(new s3m.GetBucketVersioningCommand({ Bucket: bucket }), { abortSignal: branch(ctx.signal) }), []),
    setting(ctx, bucket, 'GetBucketEncryption', (c) => c.send(new s3m.GetBucketEncryptionCommand({ Bucket: bucket }), { abortSignal: branch(ctx.signal) }), ['ServerSideEncryptionConfigurationNotFoundError']),
    setting(ctx, bucket, 'GetPublicAccessBlock', (c) => c.send(new s3m.GetPublicAccessBlockCommand({ Bucket: bucket }), { abortSignal: branch(ctx.signal) }), ['NoSuchPublicAccessBlockConfiguration']),
    setting(ctx, bucket, 'GetBucketLifecycleConfiguration', (c) => c.send(new s3m.GetBucketLifecycleConfigurationCommand({ Bucket: bucket }), { abortSignal: branch(ctx.signal) }), ['NoSuchLifecycleConfiguration']),
  ]);
  const findings: Finding[] = [pass(`${bucket} exists`)];
  const status = versioning?.Status ?? 'never enabled';
  findings.push(
    status === 'Enabled'
      ? pass('versioning Enabled')
      : fail(`versioning is ${status}: a deleted or overwritten object cannot be restored`, `aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled (and keep it in ${terraform})`),
  );
  const rule = encryption?.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
  if (!rule) findings.push(fail('no default encryption', `re-apply ${terraform} (server-side encryption by default)`));
  const pabConfig = pab?.PublicAccessBlockConfiguration;
  const off = PAB_FLAGS.filter((k) => pabConfig?.[k] !== true);
  findings.push(
    off.length === 0
      ? pass('all four public-access blocks on')
      : fail(`public-access block off: ${off.join(', ')}`, `aws s3api put-public-access-block --bucket ${bucket} --public-access-block-configuration ${PAB_FLAGS.map((k) => `${k}=true`).join(',')}`),
  );
  return { exists: true as const, findings, encryption: rule, rules: (lifecycle?.Rules ?? []).filter((r) => r.Status === 'Enabled') };
}

/** 6. The drain bucket: settings, no policy grants, and a lifecycle that keeps log objects readable for the retention floor. */
export async function checkDrainBucket(ctx: Ctx): Promise<{ findings: Finding[]; data: Record<string, unknown> }> {
  const bucket = ctx.config.drain.bucket;
  const floor = ctx.config.health.retentionFloorDays;
  const terraform = "the drain bucket's Terraform";
  const [common, policy] = await Promise.all([commonSettings(ctx, bucket, terraform), readPolicy(ctx, bucket)]);
  if (!common.exists) return { findings: [fail(`${bucket} does not exist: every write fails (NoSuchBucket)`, `re-create it with ${terraform}`, 'C')], data: {} };
  const findings = [...common.findings];
  if (common.encryption) findings.push(pass(`default encryption ${common.encryption.SSEAlgorithm}`));
  findings.push(...judgePolicy(bucket, policy, 'any', terraform));
  const now = ctx.now().getTime();
  const prefix = ctx.config.drain.keyPrefix;
  // Every enabled rule that can reach an object under the log prefix counts: the earliest action wins.
  const applies = common.rules.filter((r) => reaches(r, prefix));
  const tiers = applies.map((r) => describeRule(r, now));
  const shortest = earliestExpiry(common.rules, prefix, now);
  const violations = judgeRules(common.rules, prefix, { expireDays: floor, noncurrentDays: floor, objects: 'log object', terraform }, now);
  for (const v of violations) findings.push(fail(v.what, v.fix, v.action.kind === 'expire' || v.action.kind === 'noncurrent-expire' ? 'audit D' : undefined));
  if (violations.length > 0) {
    // The failures name their rules; the tiers say what else is there.
  } else if (applies.length === 0) {
    findings.push(warn(`no lifecycle rule for ${prefix}: objects are kept forever in STANDARD (the cost grows every month)`, `add the runbook's tiers in ${terraform}: STANDARD_IA after 30 days, expire after ${floor} days or more`));
  } else {
    findings.push(pass(`lifecycle keeps log objects ${shortest === undefined ? 'forever' : `${shortest} days`} (≥ ${floor}), never in an archive class; tiers: ${tiers.join('; ')}`));
  }
  findings.push(...(await compactedRetention(ctx, bucket, common.rules, shortest, terraform, now)));
  return { findings, data: { lifecycle: tiers, retentionDays: shortest ?? null } };
}

/**
 * Compacted days (`logs compact`) hold the same lines as the log objects: kept longer, the
 * lines outlive the retention the log objects' lifecycle sets (the runbook deletes them after
 * 365 days, "no further retention"). Judged only when the bucket holds compacted days.
 */
async function compactedRetention(ctx: Ctx, bucket: string, rules: LifecycleRule[], logDays: number | undefined, terraform: string, now: number): Promise<Finding[]> {
  if (logDays === undefined) return [];
  const prefix = ctx.config.query.compactedPrefix;
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const listed = await setting(ctx, bucket, 'ListObjectsV2', (c) => c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }), { abortSignal: branch(ctx.signal) }), []);
  if (!listed?.KeyCount) return [];
  const days = earliestExpiry(rules, prefix, now);
  if (days !== undefined && days <= logDays) return [pass(`compacted days under ${prefix} expire at ${days} days, with the log objects (${logDays})`)];
  return [
    fail(
      `compacted days under ${prefix} are kept ${days === undefined ? 'forever' : `${days} days`}, past the log objects' ${logDays}: the lines they hold outlive the retention`,
      `add a lifecycle rule for ${prefix} that expires at ${logDays} days (like the log objects') in ${terraform}, then apply`,
    ),
  ];
}

/** The runbook's shortest life of an attachment (resolved tickets) and of a noncurrent version. */
const ATTACHMENT_MIN_DAYS = 90;
const ATTACHMENT_NONCURRENT_DAYS = 30;

/** The runbook's four lifecycle rules of the attachments bucket. */
const ATTACHMENT_RULES: { what: string; matches(r: LifecycleRule): boolean }[] = [
  { what: 'resolved tickets expire after 90 days', matches: (r) => r.Expiration?.Days === 90 },
  { what: 'unresolved-tagged objects expire after 365 days', matches: (r) => r.Expiration?.Days === 365 && ruleTags(r).length > 0 },
  { what: 'noncurrent versions expire after 30 days', matches: (r) => r.NoncurrentVersionExpiration?.NoncurrentDays === 30 },
  { what: 'incomplete multipart uploads aborted after 7 days', matches: (r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 7 },
];

/** 7. The attachments bucket and its customer key. */
export async function checkAttachmentsBucket(ctx: Ctx): Promise<{ findings: Finding[]; data: Record<string, unknown> }> {
  const { bucket, kmsAlias } = ctx.config.attachments;
  const terraform = "the attachments bucket's Terraform";
  const [common, key, policy] = await Promise.all([commonSettings(ctx, bucket, terraform), describeKey(ctx, kmsAlias), readPolicy(ctx, bucket)]);
  const findings: Finding[] = [];
  if (!common.exists) findings.push(fail(`${bucket} does not exist`, `create it with ${terraform}`));
  else {
    findings.push(...common.findings);
    const enc = common.encryption;
    if (enc) {
      const keyId = enc.KMSMasterKeyID;
      const ours = key.found && keyId !== undefined && [key.keyId, key.arn, kmsAlias, key.aliasArn].includes(keyId);
      if (enc.SSEAlgorithm !== 'aws:kms' && enc.SSEAlgorithm !== 'aws:kms:dsse') findings.push(fail(`default encryption is ${enc.SSEAlgorithm}, not the customer key ${kmsAlias}`, `set SSE-KMS with ${kmsAlias} in ${terraform}`));
      else if (!ours) findings.push(fail(`default encryption uses ${keyId ?? 'the AWS-managed key'}, not the key behind ${kmsAlias}`, `set SSE-KMS with ${kmsAlias} in ${terraform}`));
      else findings.push(pass(`default encryption SSE-KMS with the key behind ${kmsAlias}`));
    }
    findings.push(...judgePolicy(bucket, policy, 'public', terraform));
    const violations = judgeRules(common.rules, '', { expireDays: ATTACHMENT_MIN_DAYS, noncurrentDays: ATTACHMENT_NONCURRENT_DAYS, objects: 'attachment', terraform }, ctx.now().getTime());
    for (const v of violations) findings.push(fail(v.what, v.fix));
    for (const rule of ATTACHMENT_RULES) {
      const r = common.rules.find((x) => rule.matches(x));
      findings.push(r ? pass(`lifecycle: ${rule.what} (${r.ID ?? 'no id'})`) : fail(`lifecycle rule missing: ${rule.what}`, `add the runbook's rule to ${terraform} and apply (the four rules: resolved 90 d, unresolved-tagged 365 d, noncurrent 30 d, multipart 7 d)`));
    }
  }
  if (!key.found) findings.push(fail(`${kmsAlias} does not exist`, `create the key and alias with ${terraform}`));
  else {
    findings.push(key.state === 'Enabled' ? pass(`key ${key.keyId} Enabled`) : fail(`key ${key.keyId} is ${key.state}: attachments cannot be read or written`, key.state === 'PendingDeletion' ? `aws kms cancel-key-deletion --key-id ${key.keyId} && aws kms enable-key --key-id ${key.keyId}` : `aws kms enable-key --key-id ${key.keyId} (after the incident is closed)`));
    findings.push(key.rotating ? pass('automatic key rotation enabled') : fail('automatic key rotation is off', `aws kms enable-key-rotation --key-id ${key.keyId}`));
  }
  return { findings, data: { rules: common.exists ? common.rules.map((r) => describeRule(r, ctx.now().getTime())) : [] } };
}

async function describeKey(ctx: Ctx, alias: string) {
  const kms = await ctx.aws.kms();
  const { DescribeKeyCommand, GetKeyRotationStatusCommand } = await import('@aws-sdk/client-kms');
  let meta;
  try {
    meta = (await kms.send(new DescribeKeyCommand({ KeyId: alias }), { abortSignal: branch(ctx.signal) })).KeyMetadata;
  } catch (err) {
    if ((err as { name?: string }).name === 'NotFoundException') return { found: false as const };
    throw awsError(err, 'KMS', `DescribeKey ${alias}`, ctx.aws.endpointOf('KMS'));
  }
  const keyId = meta?.KeyId ?? '';
  const arn = meta?.Arn ?? '';
  let rotating = false;
  try {
    // DescribeKey does not report rotation (docs/facts.md); GetKeyRotationStatus does.
    rotating = (await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }), { abortSignal: branch(ctx.signal) })).KeyRotationEnabled === true;
  } catch (err) {
    throw awsError(err, 'KMS', `GetKeyRotationStatus ${keyId}`, ctx.aws.endpointOf('KMS'));
  }
  return { found: true as const, keyId, arn, aliasArn: arn.replace(/:key\/.*$/, `:${alias}`), state: meta?.KeyState ?? 'unknown', rotating };
}

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** The bucket policy's statements; undefined when there is none, 'unreadable' when it is not JSON. */
async function readPolicy(ctx: Ctx, bucket: string): Promise<Statement[] | undefined | 'unreadable'> {
  const { GetBucketPolicyCommand } = await import('@aws-sdk/client-s3');
  const res = await setting(ctx, bucket, 'GetBucketPolicy', (c) => c.send(new GetBucketPolicyCommand({ Bucket: bucket }), { abortSignal: branch(ctx.signal) }), ['NoSuchBucketPolicy', 'NoSuchBucket']);
  if (!res?.Policy) return undefined;
  try {
    const doc = JSON.parse(res.Policy) as { Statement?: unknown };
    return ((Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Statement[]).filter((x) => x && typeof x === 'object');
  } catch {
    return 'unreadable';
  }
}

/** Condition keys that pin a request to an account, network or principal (S3's own test of "public"). */
const NARROWING_KEYS = new Set(['aws:sourcearn', 'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourceaccount', 'aws:sourceowner', 'aws:principalaccount', 'aws:principalorgid', 'aws:principalorgpaths', 'aws:principalarn', 'aws:userid', 'aws:sourceip', 's3:dataaccesspointaccount', 's3:dataaccesspointarn']);

const anyone = (p: unknown): boolean => p === '*' || (typeof p === 'object' && p !== null && Object.values(p).some((v) => v === '*' || (Array.isArray(v) && v.includes('*'))));

/** Allow to everyone (Principal "*", or NotPrincipal, which allows everyone else) with no condition that narrows it. */
export function isPublicStatement(s: Statement): boolean {
  if (s.Effect !== 'Allow' || !(s.NotPrincipal !== undefined || anyone(s.Principal))) return false;
  const narrowed = Object.values(s.Condition ?? {}).some((block) =>
    Object.entries(block ?? {}).some(([key, value]) => {
      if (!NARROWING_KEYS.has(key.toLowerCase())) return false;
      const values = (Array.isArray(value) ? value : [value]).map(String);
      return values.length > 0 && !values.some((v) => v === '*' || v === '0.0.0.0/0' || v === '::/0');
    }),
  );
  return !narrowed;
}

/**
 * The bucket policy against the runbook: `public` fails statements that let anyone in;
 * `any` (the drain bucket: "no bucket policy grants") fails every Allow statement. Deny
 * statements (TLS only, and the like) pass.
 */
function judgePolicy(bucket: string, statements: Statement[] | undefined | 'unreadable', forbid: 'public' | 'any', terraform: string): Finding[] {
  if (statements === undefined) return [pass('no bucket policy')];
  if (statements === 'unreadable') return [warn('the bucket policy is not JSON: cannot tell what it grants', `read it: aws s3api get-bucket-policy --bucket ${bucket}`)];
  const name = (s: Statement, i: number) => s.Sid || `statement ${i + 1}`;
  const open = statements.map((s, i) => ({ s, name: name(s, i), public: isPublicStatement(s) })).filter((x) => x.public || (forbid === 'any' && x.s.Effect === 'Allow'));
  if (open.length === 0) return [pass(forbid === 'any' ? 'the bucket policy grants nothing (Deny statements only)' : 'no bucket policy statement grants public access')];
  const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action.join(', ') : typeof s.Action === 'string' ? s.Action : s.Action === undefined ? '?' : JSON.stringify(s.Action));
  const fix = `remove ${open.length === 1 ? 'that statement' : 'those statements'} from the policy in ${terraform} and apply (or aws s3api delete-bucket-policy --bucket ${bucket} when nothing else is in it)`;
  return open.map((x) =>
    x.public
      ? fail(`the bucket policy grants public access: ${x.name} allows ${actions(x.s)} to anyone`, fix)
      : fail(`the bucket policy grants ${actions(x.s)} to ${JSON.stringify(x.s.Principal ?? x.s.NotPrincipal)} (${x.name}): the runbook says no bucket policy grants on the drain bucket (writes come from the function's role only)`, fix),
  );
}

/** USD per 1,000 PUTs (us-east-1). */
const PUT_PER_1000 = 0.005;
/** The runbooks' alert line. */
export const COST_ALERT_USD = 20;
/** Listing pages per bucket (1,000 objects each): enough for a month of most apps, bounded for all. */
const COST_PAGES = 20;

export interface BucketCost {
  bucket: string;
  objects: number;
  bytesByClass: Record<string, number>;
  /** Objects written in the last 30 days (PUTs), from the same listing. */
  putsLast30Days: number;
  monthlyUsd: number;
  /** The listing stopped at its page limit: figures are lower bounds. */
  partial: boolean;
}

/** 8. Each bucket's monthly cost from a bounded listing: size by storage class, and PUTs of the last 30 days. */
export async function checkCost(ctx: Ctx & { now(): Date }): Promise<{ findings: Finding[]; data: { buckets: BucketCost[] } }> {
  const buckets = [ctx.config.drain.bucket, ctx.config.attachments.bucket];
  const since = ctx.now().getTime() - 30 * 86_400_000;
  // One bucket that refuses (AccessDenied on it alone) leaves the other's figure standing.
  const costs = await Promise.all(
    buckets.map((b) =>
      bucketCost(ctx, b, since).catch((err: unknown) => {
        if (err instanceof AwsCredentialsError || err instanceof InterruptedError) throw err;
        return { bucket: b, error: err instanceof ServiceError ? (err.code ?? err.service) : 'error' };
      }),
    ),
  );
  const findings = costs.map((c): Finding => {
    if (!c) return pass('bucket missing: nothing to cost (see its check)');
    if ('error' in c) return warn(`${c.bucket}: not costed: the listing failed (${c.error})`, "see that bucket's own check");
    const sizes = Object.entries(c.bytesByClass).map(([k, v]) => `${k} ${(v / 1e9).toFixed(3)} GB`).join(', ') || 'empty';
    const what = `${c.bucket}: ~$${c.monthlyUsd.toFixed(2)}/month${c.partial ? ' at least' : ''} (${c.objects} object${c.objects === 1 ? '' : 's'}${c.partial ? `, first ${COST_PAGES * 1000} listed` : ''}: ${sizes}; ${c.putsLast30Days} PUTs in 30 days; current versions only)`;
    return c.monthlyUsd > COST_ALERT_USD ? warn(`${what}: over the $${COST_ALERT_USD}/month alert line`, "check the lifecycle tiers (the drain bucket's check lists them) and the write rate") : pass(what);
  });
  return { findings, data: { buckets: costs.filter((c): c is BucketCost => c !== undefined && !('error' in c)) } };
}

async function bucketCost(ctx: Ctx, bucket: string, since: number): Promise<BucketCost | undefined> {
  const s3 = await ctx.aws.s3();
  const { paginateListObjectsV2 } = await import('@aws-sdk/client-s3');
  const cost: BucketCost = { bucket, objects: 0, bytesByClass: {}, putsLast30Days: 0, monthlyUsd: 0, partial: false };
  let pages = 0;
  try {
    for await (const res of paginateListObjectsV2({ client: s3 }, { Bucket: bucket }, { abortSignal: branch(ctx.signal) })) {
      for (const o of res.Contents ?? []) {
        const cls = o.StorageClass ?? 'STANDARD';
        cost.objects++;
        cost.bytesByClass[cls] = (cost.bytesByClass[cls] ?? 0) + (o.Size ?? 0);
        if (o.LastModified && o.LastModified.getTime() >= since) cost.putsLast30Days++;
      }
      if (++pages === COST_PAGES) {
        cost.partial = Boolean(res.IsTruncated);
        break;
      }
    }
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchBucket') return undefined;
    throw awsError(err, 'S3', `ListObjectsV2 ${bucket}`, ctx.aws.endpointOf('S3'));
  }
  const storage = monthlyUsd(cost.bytesByClass);
  cost.monthlyUsd = storage + (cost.putsLast30Days / 1000) * PUT_PER_1000;
  return cost;
}
