// AWS state the drain tests start from, created in moto the way the drain's Terraform creates
// it in the account: the SSM parameters, the drain bucket and the receiver function.
import { zipSync, strToU8 } from 'fflate';
import { createAwsClients, type AwsClients } from '../../src/lib/aws/clients.js';

export function fixtureClients(env: Record<string, string>, region = 'us-east-1'): AwsClients {
  return createAwsClients({ region, env });
}

/** The `drain_url` and `drain_token` SecureString parameters (either may be left out). */
export async function putDrainParameters(aws: AwsClients, opts: { prefix?: string; url?: string; token?: string }): Promise<void> {
  const prefix = opts.prefix ?? '/raxx/log-drain/';
  const ssm = await aws.ssm();
  const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
  for (const [name, value] of [
    ['drain_url', opts.url],
    ['drain_token', opts.token],
  ] as const) {
    if (value === undefined) continue;
    await ssm.send(new PutParameterCommand({ Name: `${prefix}${name}`, Value: value, Type: 'SecureString', Overwrite: true }));
  }
}

export async function getDrainParameters(aws: AwsClients, prefix = '/raxx/log-drain/'): Promise<{ url: string | undefined; token: string | undefined }> {
  const ssm = await aws.ssm();
  const { GetParametersCommand } = await import('@aws-sdk/client-ssm');
  const res = await ssm.send(new GetParametersCommand({ Names: [`${prefix}drain_url`, `${prefix}drain_token`], WithDecryption: true }));
  const get = (n: string) => res.Parameters?.find((p) => p.Name === `${prefix}${n}`)?.Value;
  return { url: get('drain_url'), token: get('drain_token') };
}

export async function createBucket(aws: AwsClients, bucket: string): Promise<void> {
  const s3 = await aws.s3();
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** Every key under a prefix (moto answers up to 1,000 per page; the tests stay below). */
export async function listKeys(aws: AwsClients, bucket: string, prefix = ''): Promise<string[]> {
  const s3 = await aws.s3();
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** A tiny deployment package: moto stores the code but never runs it. */
function tinyZip(): Uint8Array {
  return zipSync({ 'index.mjs': strToU8('export const handler = async () => ({ statusCode: 200 });\n') });
}

/**
 * The receiver function with its environment. moto's CreateFunction needs an existing IAM role
 * (it checks the ARN) and a zip.
 */
export async function createReceiverFunction(aws: AwsClients, env: Record<string, string>, opts: { functionName: string; variables: Record<string, string>; region?: string }): Promise<void> {
  const { IAMClient, CreateRoleCommand, GetRoleCommand } = await import('@aws-sdk/client-iam');
  const iam = new IAMClient({ region: opts.region ?? 'us-east-1', endpoint: env.AWS_ENDPOINT_URL, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'testing' } });
  const roleName = `${opts.functionName}-role`;
  let roleArn: string | undefined;
  try {
    roleArn = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role?.Arn;
  } catch {
    roleArn = undefined;
  }
  if (!roleArn) {
    const res = await iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    );
    roleArn = res.Role!.Arn!;
  }
  iam.destroy();
  const lambda = await aws.lambda();
  const { CreateFunctionCommand } = await import('@aws-sdk/client-lambda');
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: opts.functionName,
      Runtime: 'nodejs20.x',
      Role: roleArn,
      Handler: 'index.handler',
      Code: { ZipFile: tinyZip() },
      Timeout: 15,
      Environment: { Variables: opts.variables },
    }),
  );
}

export async function functionEnvironment(aws: AwsClients, functionName: string): Promise<Record<string, string>> {
  const lambda = await aws.lambda();
  const { GetFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
  const res = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
  return res.Environment?.Variables ?? {};
}

export async function setFunctionEnvironment(aws: AwsClients, functionName: string, variables: Record<string, string>): Promise<void> {
  const lambda = await aws.lambda();
  const { UpdateFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: functionName, Environment: { Variables: variables } }));
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** X-Amz-Target of JSON APIs (SSM): e.g. AmazonSSM.PutParameter. */
  target: string;
  /** Action= of query-protocol APIs (IAM): e.g. CreateAccessKey. */
  action: string;
}

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  /** The most requests that were open at once (received, answer not yet finished). */
  readonly peakInFlight: number;
  /**
   * Make matching requests fail: with `status`, an AWS-shaped error answer; without, the
   * connection is dropped (an outage). `landed`: the request reaches AWS and takes effect, and
   * only its answer is lost (a time-out after the write). `times` limits how many (default:
   * until clear()).
   */
  fail(match: (req: ProxiedRequest) => boolean, opts?: { status?: number; times?: number; landed?: boolean }): void;
  /** Runs `fn` once the answer to the first matching request has been sent (e.g. to abort the run). */
  after(match: (req: ProxiedRequest) => boolean, fn: () => void): void;
  /**
   * Holds matching requests `ms` before passing them on (`times`: how many, default until
   * clear()): a client with a shorter deadline gives up, and the request still lands afterwards,
   * as a slow API's write does.
   */
  delay(match: (req: ProxiedRequest) => boolean, ms: number, opts?: { times?: number }): void;
  /** Resolves once every delayed request so far has reached the target and been answered there. */
  delayedLanded(): Promise<void>;
  clear(): void;
  stop(): Promise<void>;
}

/** A loopback proxy in front of moto that can make chosen AWS calls fail. */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { createServer, request } = await import('node:http');
  const upstream = new URL(target);
  let rules: { match: (r: ProxiedRequest) => boolean; status?: number | undefined; landed?: boolean | undefined; left: number }[] = [];
  let hooks: { match: (r: ProxiedRequest) => boolean; fn: () => void }[] = [];
  let delays: { match: (r: ProxiedRequest) => boolean; ms: number; left: number }[] = [];
  const landing: Promise<void>[] = [];
  const requests: ProxiedRequest[] = [];
  let open = 0;
  let peak = 0;
  const server = createServer((req, res) => {
    open += 1;
    peak = Math.max(peak, open);
    res.once('close', () => (open -= 1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body.toString('utf8'))?.[1] ?? '';
      const info: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', target: String(req.headers['x-amz-target'] ?? ''), action };
      requests.push(info);
      const hook = hooks.find((h) => h.match(info));
      if (hook) {
        hooks = hooks.filter((h) => h !== hook);
        res.once('finish', hook.fn);
      }
      const rule = rules.find((r) => r.left > 0 && r.match(info));
      if (rule?.landed) {
        rule.left--;
        const through = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
          up.resume();
          up.on('end', () => req.socket.destroy());
        });
        through.on('error', () => req.socket.destroy());
        through.end(body);
        return;
      }
      if (rule) {
        rule.left--;
        if (rule.status === undefined) {
          req.socket.destroy();
          return;
        }
        res.writeHead(rule.status, { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceUnavailable' });
        res.end(JSON.stringify({ __type: 'ServiceUnavailable', message: 'injected failure' }));
        return;
      }
      const forward = (landed?: () => void) => {
        const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
          up.once('end', () => landed?.());
          if (res.destroyed) {
            up.resume();
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        out.on('error', () => {
          landed?.();
          res.destroy();
        });
        out.end(body);
      };
      const delay = delays.find((d) => d.left > 0 && d.match(info));
      if (delay) {
        delay.left--;
        landing.push(new Promise<void>((resolve) => setTimeout(() => forward(resolve), delay.ms)));
        return;
      }
      forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    get peakInFlight() {
      return peak;
    },
    fail(match, opts = {}) {
      rules.push({ match, status: opts.status, landed: opts.landed, left: opts.times ?? Number.POSITIVE_INFINITY });
    },
    after(match, fn) {
      hooks.push({ match, fn });
    },
    delay(match, ms, opts = {}) {
      delays.push({ match, ms, left: opts.times ?? Number.POSITIVE_INFINITY });
    },
    async delayedLanded() {
      await Promise.all(landing);
    },
    clear() {
      rules = [];
      hooks = [];
      delays = [];
    },
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
