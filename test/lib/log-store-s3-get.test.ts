// The lean GetObject signs exactly as the SDK's own SigV4 signer does, sends what it signed,
// and maps S3 errors like the SDK. The transport is injected here; test/lib/s3-transport.test.ts
// covers the default one against a real server.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.js';
import { SignatureV4 } from '@smithy/signature-v4';
import { createAwsClients } from '../../src/lib/aws/clients.js';
import { getObjectFast, listObjectsFast, parseListing, S3HttpError, type LeanRequest, type Transport } from '../../src/lib/aws/s3-get.js';

type Source = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: Source) => (typeof d === 'string' ? d : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

class NodeSha256 {
  private h;
  constructor(secret?: Source) {
    this.h = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(d: Source) {
    this.h.update(bytes(d));
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

/** A request as sent, its path split from its query. */
interface Captured extends LeanRequest {
  query: Record<string, string>;
}

async function clientWith(env: Record<string, string>, respond: (req: Captured) => { statusCode: number; body: string }) {
  const aws = createAwsClients({ region: 'us-east-1', env: { AWS_CONFIG_FILE: '/nonexistent', ...env } });
  const s3 = (await aws.s3Target())!;
  const seen: Captured[] = [];
  const transport: Transport = (req) => {
    const [path, qs = ''] = req.path.split('?');
    const captured = { ...req, path: path!, query: Object.fromEntries(new URLSearchParams(qs)) };
    seen.push(captured);
    const r = respond(captured);
    return Promise.resolve({ statusCode: r.statusCode, body: Readable.from([Buffer.from(r.body)]) });
  };
  return { aws, s3, seen, opts: { transport } };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('getObjectFast', () => {
  const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', AWS_SESSION_TOKEN: 'session-token-example' };

  it('signs like the SDK (virtual-hosted on AWS, with a session token)', async () => {
    vi.useFakeTimers({ now: new Date('2025-06-02T10:11:12Z'), toFake: ['Date'] });
    const { aws, s3, seen, opts } = await clientWith(keys, () => ({ statusCode: 200, body: 'gz' }));
    const get = getObjectFast(s3, 'raxx-heroku-logs-prod', opts);
    expect(get).toBeDefined();
    const key = 'logs/raxx-api-prod/2025/06/02/1748858400000-0A1B (x)!.gz';
    const res = await get!(key, new AbortController().signal);
    let body = '';
    for await (const c of Buffer.isBuffer(res.body) ? [res.body] : res.body) body += String(c);
    expect(body).toBe('gz');
    const req = seen[0]!;
    expect(req).toMatchObject({ protocol: 'https:', hostname: 'raxx-heroku-logs-prod.s3.us-east-1.amazonaws.com' });
    expect(req.path).toBe('/logs/raxx-api-prod/2025/06/02/1748858400000-0A1B%20%28x%29%21.gz');

    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: keys.AWS_ACCESS_KEY_ID, secretAccessKey: keys.AWS_SECRET_ACCESS_KEY, sessionToken: keys.AWS_SESSION_TOKEN }, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
    const expected = await signer.sign(
      { method: 'GET', protocol: 'https:', hostname: req.hostname, path: req.path, query: {}, headers: { host: req.hostname, 'x-amz-content-sha256': req.headers['x-amz-content-sha256']! } },
      { signingDate: new Date('2025-06-02T10:11:12Z') },
    );
    expect(req.headers.authorization).toBe(expected.headers.authorization);
    expect(req.headers['x-amz-security-token']).toBe(keys.AWS_SESSION_TOKEN);
    aws.destroy();
  });

  it('uses path style and the port for a local endpoint', async () => {
    const { aws, s3, seen, opts } = await clientWith({ ...keys, AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }, () => ({ statusCode: 200, body: '' }));
    const get = getObjectFast(s3, 'raxx-heroku-logs-prod', opts);
    await get!('logs/a.gz', new AbortController().signal);
    expect(seen[0]).toMatchObject({ protocol: 'http:', hostname: '127.0.0.1', port: 4566, path: '/raxx-heroku-logs-prod/logs/a.gz' });
    expect(seen[0]!.headers.host).toBe('127.0.0.1:4566');
    aws.destroy();
  });

  it('maps S3 error bodies to named errors and retries 5xx', async () => {
    let calls = 0;
    const { aws, s3, opts } = await clientWith(keys, () => {
      calls += 1;
      return calls === 1 ? { statusCode: 503, body: '<Error><Code>SlowDown</Code></Error>' } : { statusCode: 404, body: '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>' };
    });
    const get = getObjectFast(s3, 'raxx-heroku-logs-prod', opts);
    const err = await get!('logs/x.gz', new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3HttpError);
    expect(err).toMatchObject({ name: 'NoSuchKey', message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
    expect(calls).toBe(2);
    aws.destroy();
  });

  it('retries a connection that fails before the response, as the SDK would', async () => {
    let calls = 0;
    const { aws, s3, opts } = await clientWith(keys, () => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return { statusCode: 200, body: 'gz' };
    });
    const get = getObjectFast(s3, 'raxx-heroku-logs-prod', opts);
    const res = await get!('logs/x.gz', new AbortController().signal);
    if (!Buffer.isBuffer(res.body)) res.body.destroy();
    expect(calls).toBe(2);
    aws.destroy();
  });

  it('Ctrl-C during the pause before a retry ends it at once', async () => {
    // The longest pauses: 200 ms after the first 503, then 400 ms.
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const controller = new AbortController();
    const { aws, s3, opts } = await clientWith(keys, () => {
      setTimeout(() => controller.abort(), 20);
      return { statusCode: 503, body: '<Error><Code>SlowDown</Code></Error>' };
    });
    const get = getObjectFast(s3, 'raxx-heroku-logs-prod', opts);
    const started = Date.now();
    const err = await get!('logs/x.gz', controller.signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InterruptedError' });
    expect(Date.now() - started).toBeLessThan(150);
    aws.destroy();
  });

  it('leaves FIPS and dual-stack endpoints to the SDK, from the environment or the config file', async () => {
    const aws = createAwsClients({ region: 'us-east-1', env: { ...keys, AWS_USE_FIPS_ENDPOINT: 'true' } });
    expect(await aws.s3Target()).toBeUndefined();
    aws.destroy();
    const dir = tempDir('raxx-ops-awsconfig-');
    {
      writeFileSync(join(dir, 'config'), '[default]\nregion = us-east-1\nuse_dualstack_endpoint = true\n');
      const viaFile = createAwsClients({ region: 'us-east-1', env: { ...keys, AWS_CONFIG_FILE: join(dir, 'config') } });
      expect(await viaFile.s3Target()).toBeUndefined();
      viaFile.destroy();
      // The AWS CLI's nested s3 settings are not the SDK's: the lean GET stays.
      writeFileSync(join(dir, 'config'), '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');
      const cli = createAwsClients({ region: 'us-east-1', env: { ...keys, AWS_CONFIG_FILE: join(dir, 'config') } });
      expect(await cli.s3Target()).toMatchObject({ region: 'us-east-1' });
      cli.destroy();
    }
  });
});

describe('listObjectsFast', () => {
  it('signs the listing query like the SDK and reads keys, sizes and the continuation token', async () => {
    vi.useFakeTimers({ now: new Date('2025-06-02T10:11:12Z'), toFake: ['Date'] });
    const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><Prefix>logs/a/</Prefix><IsTruncated>true</IsTruncated>' +
      '<Contents><Key>logs/a/2025/06/02/1748858400000-A.gz</Key><Size>120</Size></Contents>' +
      '<Contents><Key>logs/a/2025/06/02/x &amp; y &lt;z&gt; &#233;.gz</Key><LastModified>2025-06-02T10:00:00.000Z</LastModified><Size>7</Size></Contents>' +
      '<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>';
    const { aws, s3, seen, opts } = await clientWith({ ...keys, AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }, () => ({ statusCode: 200, body: xml }));
    const list = listObjectsFast(s3, 'raxx-heroku-logs-prod', opts);
    const page = await list!({ prefix: 'logs/a/2025/06/02/', startAfter: 'logs/a/2025/06/02/1748858400000' }, new AbortController().signal);
    expect(page).toEqual({
      objects: [
        { key: 'logs/a/2025/06/02/1748858400000-A.gz', size: 120 },
        { key: 'logs/a/2025/06/02/x & y <z> é.gz', size: 7, modified: Date.parse('2025-06-02T10:00:00Z') },
      ],
      nextToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
    });
    const req = seen[0]!;
    expect(req.path).toBe('/raxx-heroku-logs-prod');
    expect(req.query).toEqual({ 'list-type': '2', prefix: 'logs/a/2025/06/02/', 'start-after': 'logs/a/2025/06/02/1748858400000' });
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: keys.AWS_ACCESS_KEY_ID, secretAccessKey: keys.AWS_SECRET_ACCESS_KEY }, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
    const expected = await signer.sign(
      { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 4566, path: req.path, query: req.query, headers: { host: '127.0.0.1:4566', 'x-amz-content-sha256': req.headers['x-amz-content-sha256']! } },
      { signingDate: new Date('2025-06-02T10:11:12Z') },
    );
    expect(req.headers.authorization).toBe(expected.headers.authorization);
    aws.destroy();
  });

  it('a last page has no token; an empty listing has no objects', () => {
    expect(parseListing('<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>')).toEqual({ objects: [] });
  });
});
