// AWS SDK v3 clients, created on first use (so `--help` never loads the SDK) and once per
// process. Endpoints come from the SDK's own AWS_ENDPOINT_URL[_<SERVICE>] variables; when one
// is set for S3 we switch to path-style addressing, which local stand-ins need.
import type { S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { IAMClient } from '@aws-sdk/client-iam';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, InterruptedError, ServiceError } from '../core/errors.js';

export interface AwsOptions {
  region: string;
  profile?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Sockets per client; S3 reads are round-trip bound, so concurrency is the throughput. */
  maxSockets?: number;
  /** Time to the response headers before a request fails (and the SDK retries it); default 30 s. */
  requestTimeoutMs?: number;
  /** The SDK's own warnings (it would print them on stderr itself), for --debug. */
  debug?: (message: string) => void;
}

/** Keys as the SDK's credential providers give them. */
export interface AwsIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/**
 * Where S3 is and who we are, without the S3 client: the lean GET (s3-get.ts) needs nothing
 * more, and loading @aws-sdk/client-s3 and its request handler cost some 170 ms of a
 * search's start-up. Same region, endpoint and credential chain as s3().
 */
export interface S3Target {
  region: string;
  /** AWS_ENDPOINT_URL[_S3] when set (path-style addressing then). */
  endpoint?: URL | undefined;
  credentials: () => Promise<AwsIdentity>;
  /** The HTTP proxy plain-HTTP requests go through (HTTP_PROXY, unless NO_PROXY names the endpoint). */
  proxy?: URL | undefined;
}

export interface AwsClients {
  s3(): Promise<S3Client>;
  /** For the lean GET; undefined when S3 is configured beyond it (FIPS, dual-stack, a profile's endpoint_url): use s3(). */
  s3Target(): Promise<S3Target | undefined>;
  ssm(): Promise<SSMClient>;
  lambda(): Promise<LambdaClient>;
  kms(): Promise<KMSClient>;
  logs(): Promise<CloudWatchLogsClient>;
  glue(): Promise<GlueClient>;
  athena(): Promise<AthenaClient>;
  iam(): Promise<IAMClient>;
  /** The endpoint a service is pointed at, for messages ("cannot reach S3 at …"). */
  endpointOf(service: AwsServiceId): string;
  destroy(): void;
}

/** Concurrent GETs the S3 client is sized for (`logs grep --concurrency` at most). */
export const S3_MAX_GETS = 512;
/** Listings a scan runs at once next to its GETs (logs/store.ts: time ranges of a day). */
const S3_LISTINGS = 16;

export type AwsServiceId = 'S3' | 'SSM' | 'LAMBDA' | 'KMS' | 'CLOUDWATCH_LOGS' | 'GLUE' | 'ATHENA' | 'IAM';

/** The first label of each service's public endpoint (for NO_PROXY). */
const SERVICE_HOSTS: Record<AwsServiceId, string> = { S3: 's3', SSM: 'ssm', LAMBDA: 'lambda', KMS: 'kms', CLOUDWATCH_LOGS: 'logs', GLUE: 'glue', ATHENA: 'athena', IAM: 'iam' };

export function endpointFor(env: NodeJS.ProcessEnv, service: AwsServiceId): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

export function createAwsClients(opts: AwsOptions): AwsClients {
  const cache = new Map<string, Promise<{ destroy(): void }>>();
  // The SDK warns on every Node 20 process about versions it will publish in 2027; the
  // installed SDK is pinned by the lockfile, and stderr belongs to the operator.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  let profileChecked: Promise<void> | undefined;

  async function base(service: AwsServiceId, sockets = opts.maxSockets ?? 64) {
    await (profileChecked ??= checkProfile(opts));
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    const { Agent: HttpAgent } = await import('node:http');
    const { Agent: HttpsAgent } = await import('node:https');
    const maxSockets = sockets;
    const endpoint = endpointFor(opts.env, service);
    const credentials = envKeys(opts);
    // HTTPS_PROXY / HTTP_PROXY / NO_PROXY, decided for this service's endpoint.
    const { proxyAgent } = await import('../core/proxy.js');
    const where = endpoint ?? `https://${SERVICE_HOSTS[service]}.${opts.region}.amazonaws.com`;
    const proxied = await proxyAgent(where, opts.env, { keepAlive: true, maxSockets });
    return {
      region: opts.region,
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(credentials ? { credentials } : {}),
      ...(endpoint ? { endpoint } : {}),
      maxAttempts: 3,
      // The credential chain warns with console.warn unless given a logger (e.g. on a profile
      // and environment keys both set): stderr belongs to raxx-ops' own messages.
      logger: sdkLogger(opts.debug),
      // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes
      // and keeps waiting: a stalled endpoint would hang the command at 3 a.m.
      requestHandler: new NodeHttpHandler({
        connectionTimeout: 3_000,
        requestTimeout: opts.requestTimeoutMs ?? 30_000,
        throwOnRequestTimeout: true,
        httpAgent: proxied && !where.startsWith('https:') ? proxied : new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: proxied && where.startsWith('https:') ? proxied : new HttpsAgent({ keepAlive: true, maxSockets }),
      }),
    };
  }

  function once<T extends { destroy(): void }>(key: string, make: () => Promise<T>): Promise<T> {
    let p = cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = make();
      cache.set(key, p);
    }
    return p;
  }

  let target: Promise<S3Target | undefined> | undefined;

  return {
    s3Target: () =>
      (target ??= (async (): Promise<S3Target | undefined> => {
        await (profileChecked ??= checkProfile(opts));
        const on = (v: string | undefined) => v !== undefined && v.toLowerCase() === 'true';
        if (on(opts.env.AWS_USE_FIPS_ENDPOINT) || on(opts.env.AWS_USE_DUALSTACK_ENDPOINT)) return undefined;
        if (await configMentions(opts, /^\s*(use_fips_endpoint|use_dualstack_endpoint|endpoint_url)\s*=/m)) return undefined;
        const endpoint = endpointFor(opts.env, 'S3');
        // Through a proxy: plain HTTP goes to it in absolute form; a TLS tunnel (CONNECT) is
        // the SDK's business (an HttpsProxyAgent), so S3 over HTTPS behind a proxy uses it.
        const { proxyFor } = await import('../core/proxy.js');
        const proxy = proxyFor(endpoint ?? `https://s3.${opts.region}.amazonaws.com`, opts.env);
        if (proxy && (!endpoint || endpoint.startsWith('https:'))) return undefined;
        const keys = envKeys(opts);
        let credentials: () => Promise<AwsIdentity>;
        if (keys) credentials = () => Promise.resolve(keys);
        else {
          // The chain the S3 client uses by default (SSO, profiles, process, IMDS …), memoised by the SDK.
          const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
          credentials = defaultProvider({ ...(opts.profile ? { profile: opts.profile } : {}), logger: sdkLogger(opts.debug) });
        }
        return { region: opts.region, endpoint: endpoint ? new URL(endpoint) : undefined, credentials, ...(proxy ? { proxy } : {}) };
      })()),
    s3: () =>
      once('s3', async () => {
        const { S3Client } = await import('@aws-sdk/client-s3');
        // Small objects are round-trip bound: S3 reads get more sockets than the other services.
        const cfg = await base('S3', opts.maxSockets ?? S3_MAX_GETS + S3_LISTINGS);
        return new S3Client({ ...cfg, forcePathStyle: cfg.endpoint !== undefined });
      }),
    ssm: () =>
      once('ssm', async () => {
        const { SSMClient } = await import('@aws-sdk/client-ssm');
        return new SSMClient(await base('SSM'));
      }),
    lambda: () =>
      once('lambda', async () => {
        const { LambdaClient } = await import('@aws-sdk/client-lambda');
        return new LambdaClient(await base('LAMBDA'));
      }),
    kms: () =>
      once('kms', async () => {
        const { KMSClient } = await import('@aws-sdk/client-kms');
        return new KMSClient(await base('KMS'));
      }),
    logs: () =>
      once('logs', async () => {
        const { CloudWatchLogsClient } = await import('@aws-sdk/client-cloudwatch-logs');
        return new CloudWatchLogsClient(await base('CLOUDWATCH_LOGS'));
      }),
    glue: () =>
      once('glue', async () => {
        const { GlueClient } = await import('@aws-sdk/client-glue');
        return new GlueClient(await base('GLUE'));
      }),
    athena: () =>
      once('athena', async () => {
        const { AthenaClient } = await import('@aws-sdk/client-athena');
        return new AthenaClient(await base('ATHENA'));
      }),
    iam: () =>
      once('iam', async () => {
        const { IAMClient } = await import('@aws-sdk/client-iam');
        return new IAMClient(await base('IAM'));
      }),
    endpointOf: (service) => endpointFor(opts.env, service) ?? `the ${opts.region} public endpoint`,
    destroy() {
      for (const p of cache.values()) void p.then((c) => c.destroy(), () => undefined);
      cache.clear();
    },
  };
}

/**
 * Keys from the environment we were given, unless a profile was named: the default chain reads
 * process.env, and in-process runs (tests) must see their own environment. Same precedence
 * as the chain.
 */
function envKeys(opts: AwsOptions): AwsIdentity | undefined {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = opts.env;
  return !opts.profile && accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
}

/** Whether the shared config file has a line like this (settings the lean GET does not model). */
async function configMentions(opts: AwsOptions, line: RegExp): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  const file = opts.env.AWS_CONFIG_FILE ?? join(opts.env.HOME ?? homedir(), '.aws', 'config');
  try {
    return line.test(await readFile(file, 'utf8'));
  } catch {
    return false;
  }
}

/** Warnings to --debug; per-request lines (inputs, outputs, errors we report ourselves) nowhere. */
function sdkLogger(debug: ((message: string) => void) | undefined) {
  const say = (...args: unknown[]) => debug?.(`aws sdk: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ').replace(/\s+/g, ' ').trim()}`);
  return { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: say, error: () => undefined };
}

/**
 * A named profile (--profile, else AWS_PROFILE) must exist in ~/.aws/config or
 * ~/.aws/credentials: the SDK would otherwise try every other source and end in a vague
 * "could not load credentials".
 */
async function checkProfile(opts: AwsOptions): Promise<void> {
  const profile = opts.profile ?? opts.env.AWS_PROFILE;
  if (!profile) return;
  const { loadSharedConfigFiles } = await import('@smithy/core/config');
  const home = opts.env.HOME ?? homedir();
  const files = await loadSharedConfigFiles({
    filepath: opts.env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials'),
    configFilepath: opts.env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'),
    ignoreCache: true,
  });
  if (files.configFile[profile] || files.credentialsFile[profile]) return;
  throw new ConfigError(`AWS profile ${profile} not found`, {
    hint: `see the profiles with \`aws configure list-profiles\`; an SSO profile is added with \`aws configure sso\`, then \`aws sso login --profile ${profile}\``,
  });
}

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId', 'UnrecognizedClientException', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'TokenRefreshRequired']);
/** The request handler's rejections (error code or name) when no response came: the connection failed or timed out. */
export const CONNECTION_ERRORS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'TimeoutError']);
/** Error names of a service asking the client to slow down. */
const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestLimitExceeded']);
/** A request signed with a clock too far from the service's. */
const SKEWED = new Set(['RequestTimeTooSkewed', 'RequestExpired']);

/** "62 min behind AWS" / "1.5 h ahead of AWS": offset is AWS's time minus ours. */
function describeOffset(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  return `${minutes >= 90 ? `${(minutes / 60).toFixed(1)} h` : `${minutes} min`} ${ms > 0 ? 'behind' : 'ahead of'} AWS`;
}

/** Also S3's RequestTimeout error code: it gave up waiting for our request. */
const NETWORK_CODES = new Set([...CONNECTION_ERRORS, 'RequestTimeout']);

/** Missing or expired AWS credentials: every AWS call of the run fails the same way. */
export class AwsCredentialsError extends ConfigError {}

/**
 * Turn an SDK failure into a typed error: missing or expired credentials are configuration
 * (exit 3, log in again); everything else AWS said or failed to say is a service failure (4).
 */
export function awsError(err: unknown, service: string, action: string, endpoint?: string): Error {
  if (err instanceof ConfigError || err instanceof ServiceError || err instanceof InterruptedError) return err;
  // A request cut short by Ctrl-C (the abort signal) is the interruption, not a failure of AWS.
  if ((err as { name?: string }).name === 'AbortError') return new InterruptedError();
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  const code = e.code ?? name;
  if (CREDENTIAL_ERRORS.has(name) || /Could not load credentials|credential/i.test(e.message ?? '')) {
    return new AwsCredentialsError(`AWS credentials are missing or expired (${service} ${action}): ${e.message ?? name}`, {
      hint: 'log in with `aws sso login --profile <profile>` and pass --profile, or set AWS_PROFILE',
      cause: err,
    });
  }
  if (NETWORK_CODES.has(code) || NETWORK_CODES.has(name) || /ECONNREFUSED|ENOTFOUND|socket hang up/i.test(e.message ?? '')) {
    return new ServiceError(service, `cannot reach ${service}${endpoint ? ` at ${endpoint}` : ''} (${action}): ${code}`, {
      code,
      hint: endpoint?.startsWith('http://') ? 'is the local stand-in running? check AWS_ENDPOINT_URL' : 'check the network, VPN and --region',
      cause: err,
    });
  }
  const status = e.$metadata?.httpStatusCode;
  // The SDK appends lines of its own ("Deserialization error: … inspect $response"): one line here.
  let detail = (e.message ?? '').split('\n')[0]!.trim();
  const extra = err as { bucketRegion?: string; clockOffsetMs?: number; $response?: { headers?: Record<string, string | undefined> } };
  const responseHeaders = extra.$response?.headers ?? {};
  const bucketRegion = extra.bucketRegion ?? responseHeaders['x-amz-bucket-region'];
  if (bucketRegion && !detail.includes(bucketRegion)) detail = `${detail ? `${detail}; ` : ''}the bucket is in ${bucketRegion}`;
  const serverDate = Date.parse(responseHeaders.date ?? '');
  const offset = extra.clockOffsetMs ?? (Number.isNaN(serverDate) ? undefined : serverDate - Date.now());
  const skewed = SKEWED.has(name);
  return new ServiceError(service, `${service} ${action} failed: ${name}${status ? ` (HTTP ${status})` : ''}${detail && detail !== name ? `: ${detail}` : ''}`, {
    code: name,
    hint: skewed
      ? `this computer's clock is ${offset !== undefined ? describeOffset(offset) : 'too far from AWS\'s'}, and AWS refuses requests signed more than 15 minutes from its own time even after correcting for it once; set the clock right (turn on automatic date and time, or \`sudo sntp -sS time.apple.com\` / \`sudo chronyc makestep\`) and run it again`
      : bucketRegion
        ? `the bucket is in ${bucketRegion}: pass --region ${bucketRegion} (or set "region" in the config)`
        : name === 'AccessDenied' || name === 'AccessDeniedException' || status === 403
        ? 'the AWS identity in use lacks permission; check --profile'
        : THROTTLING.has(name) || status === 429
          ? `${service} kept throttling the requests after backing off; try again in a minute, or with a lower --concurrency`
          : status !== undefined && status >= 500
            ? `${service} failed on its side after retries; try again in a few minutes, and check https://health.aws.amazon.com if it persists`
            : `rerun with --debug for ${service}'s full answer`,
    cause: err,
  });
}
