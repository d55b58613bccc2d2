// A lean GetObject for reading many small drain objects. The SDK's send() spends about a
// millisecond of CPU per request in its middleware (endpoint rules, schema serde, checksums);
// for a day of 10,000 small objects that CPU, not S3, becomes the limit. This signs with the
// SDK's own SigV4 signer and sends through the S3 client's own request handler, so the
// signing, socket pool, keep-alive and timeouts stay the SDK's and ctx.aws's, and the
// credentials, region and endpoint are the client's. Only the middleware is skipped, so the
// retries the SDK would make (5xx, throttling, a connection that fails before the response)
// are made here. Anything it does not model (FIPS, dual-stack, accelerate, other partitions)
// makes getObjectFast() return undefined and the caller uses the SDK.
import type { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONNECTION_ERRORS } from './aws.js';

export interface FastGetResponse {
  body: Readable;
}

/** Shaped like an SDK service error, so awsError() and the callers treat both alike. */
export class S3HttpError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

interface Identity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

interface HandlerResponse {
  response: { statusCode: number; headers: Record<string, string>; body: Readable };
}

interface ClientConfig {
  credentials?: () => Promise<Identity>;
  /** The hash constructor the client signs with. */
  sha256?: ConstructorParameters<typeof SignatureV4>[0]['sha256'];
  region?: () => Promise<string>;
  endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>;
  forcePathStyle?: boolean;
  useFipsEndpoint?: () => Promise<boolean>;
  useDualstackEndpoint?: () => Promise<boolean>;
  useAccelerateEndpoint?: boolean;
  requestHandler?: { handle(req: unknown, opts?: { abortSignal?: AbortSignal }): Promise<HandlerResponse> };
}

// What the SDK's retry strategy counts as transient (@smithy's service-error-classification),
// for the same number of attempts as the client (ctx.aws sets maxAttempts 3).
const ATTEMPTS = 3;
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
/** S3 error codes retried whatever the status. */
const RETRYABLE_CODES = new Set(['SlowDown', 'RequestTimeout']);

export type ObjectGetter = (key: string, signal: AbortSignal) => Promise<FastGetResponse>;

/** A getter for one bucket, or undefined when the client is configured beyond what it models. */
export async function getObjectFast(s3: S3Client, bucket: string): Promise<ObjectGetter | undefined> {
  const cfg = s3.config as unknown as ClientConfig;
  if (typeof cfg.credentials !== 'function' || typeof cfg.region !== 'function' || typeof cfg.requestHandler?.handle !== 'function' || !cfg.sha256) return undefined;
  if (cfg.useAccelerateEndpoint || (await cfg.useFipsEndpoint?.()) || (await cfg.useDualstackEndpoint?.())) return undefined;
  const region = await cfg.region();
  const custom = cfg.endpoint ? await cfg.endpoint() : undefined;
  let protocol: string;
  let hostname: string;
  let port: number | undefined;
  let basePath: string;
  if (custom) {
    protocol = custom.protocol;
    port = custom.port;
    const path = custom.path.replace(/\/+$/, '');
    if (cfg.forcePathStyle || bucket.includes('.')) {
      hostname = custom.hostname;
      basePath = `${path}/${bucket}`;
    } else {
      hostname = `${bucket}.${custom.hostname}`;
      basePath = path;
    }
  } else {
    if (!/^[a-z]{2}-[a-z]+-\d$/.test(region) || /^(cn|us-gov|us-iso)/.test(region)) return undefined;
    protocol = 'https:';
    if (bucket.includes('.')) {
      hostname = `s3.${region}.amazonaws.com`;
      basePath = `/${bucket}`;
    } else {
      hostname = `${bucket}.s3.${region}.amazonaws.com`;
      basePath = '';
    }
  }
  const host = port && !((protocol === 'https:' && port === 443) || (protocol === 'http:' && port === 80)) ? `${hostname}:${port}` : hostname;
  const handler = cfg.requestHandler;
  // S3 paths are signed as sent (already encoded), not escaped a second time.
  const signer = new SignatureV4({ credentials: cfg.credentials, region, service: 's3', sha256: cfg.sha256, uriEscapePath: false, applyChecksum: true });

  return async (key, signal) => {
    const path = `${basePath}/${key.split('/').map(encodeSegment).join('/')}`;
    for (let attempt = 1; ; attempt++) {
      const signed = await signer.sign({ method: 'GET', protocol, hostname, port, path, query: {}, headers: { host } });
      let response: HandlerResponse['response'];
      try {
        ({ response } = await handler.handle(signed, { abortSignal: signal }));
      } catch (err) {
        const e = err as { code?: string; name?: string };
        if (attempt < ATTEMPTS && !signal.aborted && (CONNECTION_ERRORS.has(e.code ?? '') || CONNECTION_ERRORS.has(e.name ?? ''))) {
          await backoff(attempt, signal);
          continue;
        }
        throw err;
      }
      if (response.statusCode === 200) return { body: response.body };
      const text = await readSmall(response.body);
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${response.statusCode}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? code;
      if (attempt < ATTEMPTS && !signal.aborted && (RETRYABLE_STATUS.has(response.statusCode) || RETRYABLE_CODES.has(code))) {
        await backoff(attempt, signal);
        continue;
      }
      throw new S3HttpError(code, message, response.statusCode);
    }
  };
}

/** Full-jitter exponential backoff that Ctrl-C cuts short (it rejects with an AbortError). */
function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  return sleep(100 * 2 ** attempt * Math.random(), undefined, { signal });
}

/** RFC 3986 encoding of one key segment, as SigV4 canonicalises S3 paths. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

async function readSmall(body: Readable | undefined): Promise<string> {
  if (!body) return '';
  let text = '';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > 64 * 1024) break;
    }
  } finally {
    body.destroy();
  }
  return text;
}
