import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { tempDir } from '../support/temp.js';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createAwsClients, awsError } from '../../src/lib/aws/clients.js';
import { ConfigError, ServiceError } from '../../src/lib/core/errors.js';
import { captureProcessOutput } from '../support/capture.js';
import { motoAvailable, TEST_AWS_ENV } from '../support/moto.js';
import { useMoto } from '../support/fixtures.js';

const emptyHome = tempDir('raxx-ops-aws-home-');
const noCredentials = { HOME: emptyHome, AWS_CONFIG_FILE: join(emptyHome, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(emptyHome, 'credentials'), AWS_EC2_METADATA_DISABLED: 'true' };

describe('AWS error mapping', () => {
  it('an unreachable endpoint is a service failure (exit 4) naming the endpoint', async () => {
    const aws = createAwsClients({ region: 'us-east-1', env: { ...TEST_AWS_ENV, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    const s3 = await aws.s3();
    const { ListBucketsCommand } = await import('@aws-sdk/client-s3');
    const err = await s3.send(new ListBucketsCommand({})).catch((e: unknown) => awsError(e, 'S3', 'ListBuckets', aws.endpointOf('S3')));
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).exitCode).toBe(4);
    expect((err as Error).message).toContain('http://127.0.0.1:9');
    aws.destroy();
  });

  it('an endpoint that accepts and never answers fails as a timeout (exit 4) instead of hanging', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const aws = createAwsClients({ region: 'us-east-1', env: { ...TEST_AWS_ENV, AWS_ENDPOINT_URL: endpoint }, requestTimeoutMs: 200 });
    try {
      const ssm = await aws.ssm();
      const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
      const err = await ssm.send(new GetParameterCommand({ Name: '/raxx/x' })).then(
        () => undefined,
        (e: unknown) => awsError(e, 'SSM', 'GetParameter', aws.endpointOf('SSM')),
      );
      expect(err).toBeInstanceOf(ServiceError);
      expect((err as ServiceError).exitCode).toBe(4);
      expect((err as Error).message).toMatch(/cannot reach SSM at http:\/\/127\.0\.0\.1:\d+ \(GetParameter\): (TimeoutError|ETIMEDOUT)/);
      // The SDK retried the timed-out attempt (maxAttempts 3).
      expect(sockets.length).toBeGreaterThanOrEqual(2);
    } finally {
      aws.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('missing credentials are a configuration error (exit 3) with a login hint', async () => {
    // A profile that exists but holds no credentials (an SSO profile never logged in, say).
    const home = tempDir('raxx-ops-aws-profile-');
    const files = { ...noCredentials, AWS_CONFIG_FILE: join(home, 'config') };
    writeFileSync(files.AWS_CONFIG_FILE, '[profile raxx-empty]\nregion = us-east-1\n');
    const aws = createAwsClients({ region: 'us-east-1', profile: 'raxx-empty', env: { ...files, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    const saved = { ...process.env };
    Object.assign(process.env, files);
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      const s3 = await aws.s3();
      const { ListBucketsCommand } = await import('@aws-sdk/client-s3');
      const err = await s3.send(new ListBucketsCommand({})).catch((e: unknown) => awsError(e, 'S3', 'ListBuckets'));
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).hint).toMatch(/aws sso login/);
    } finally {
      process.env = saved;
      aws.destroy();
    }
  });
});

describe.skipIf(!motoAvailable)('AWS clients against the local S3', () => {
  const moto = useMoto();

  it('use the AWS_ENDPOINT_URL endpoint with path-style S3 and share one client per service', async () => {
    const aws = createAwsClients({ region: 'us-east-1', env: moto.env });
    const s3 = await aws.s3();
    expect(await aws.s3()).toBe(s3);
    const { CreateBucketCommand, PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new CreateBucketCommand({ Bucket: 'raxx-aws-test' }));
    await s3.send(new PutObjectCommand({ Bucket: 'raxx-aws-test', Key: 'k', Body: 'hello' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'raxx-aws-test', Key: 'k' }));
    expect(await got.Body?.transformToString()).toBe('hello');
    aws.destroy();
  });
});

describe('--profile', () => {
  it('a profile in neither ~/.aws file is one configuration error (exit 3) naming it, before the SDK is asked', async () => {
    const aws = createAwsClients({ region: 'us-east-1', profile: 'nosuch', env: { ...noCredentials, ...TEST_AWS_ENV } });
    const err = await aws.ssm().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe('AWS profile nosuch not found');
    expect((err as ConfigError).hint).toMatch(/aws configure list-profiles.*aws sso login --profile nosuch/);
    // AWS_PROFILE names it the same way.
    const viaEnv = await createAwsClients({ region: 'us-east-1', env: { ...noCredentials, AWS_PROFILE: 'other' } }).s3().catch((e: unknown) => e);
    expect((viaEnv as ConfigError).message).toBe('AWS profile other not found');
  });

  it("a profile that exists is used; the SDK's warning about environment keys also set goes to --debug, not stderr", async () => {
    const home = tempDir('raxx-ops-aws-profile-');
    const files = { AWS_CONFIG_FILE: join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials') };
    writeFileSync(files.AWS_CONFIG_FILE, '[profile ops]\nregion = us-east-1\n');
    writeFileSync(files.AWS_SHARED_CREDENTIALS_FILE, '[ops]\naws_access_key_id = testing\naws_secret_access_key = testing\n');
    // The SDK's credential chain reads process.env itself.
    const saved = { ...process.env };
    Object.assign(process.env, TEST_AWS_ENV, files);
    const debug: string[] = [];
    try {
      const aws = createAwsClients({ region: 'us-east-1', profile: 'ops', env: { ...TEST_AWS_ENV, ...files, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }, debug: (m) => debug.push(m) });
      const { text } = await captureProcessOutput(async () => {
        const { GetParameterCommand } = await import('@aws-sdk/client-ssm');
        const err = await (await aws.ssm()).send(new GetParameterCommand({ Name: '/x' })).catch((e: unknown) => awsError(e, 'SSM', 'GetParameter', 'http://127.0.0.1:9'));
        expect(err).toBeInstanceOf(ServiceError); // got as far as the network: the profile's keys were found
        aws.destroy();
      });
      expect(text).toBe('');
      expect(debug.join('\n')).toMatch(/Multiple credential sources detected/);
    } finally {
      process.env = saved;
    }
  });
});
