import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp.js';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createAwsClients, awsError } from '../../src/lib/aws.js';
import { ConfigError, ServiceError } from '../../src/lib/errors.js';
import { motoAvailable, startMoto, TEST_AWS_ENV, type MotoServer } from '../support/moto.js';

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
    const aws = createAwsClients({ region: 'us-east-1', profile: 'raxx-nonexistent', env: { ...noCredentials, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    const saved = { ...process.env };
    Object.assign(process.env, noCredentials);
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
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

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
