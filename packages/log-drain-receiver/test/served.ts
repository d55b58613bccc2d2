// The receiver over HTTP (startReceiverServer) into moto's S3, for a describe whose moto is
// reset before every test: one server for the describe, the bucket made afresh and the log
// emptied before every test.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { live, type MotoHandle } from '../../../test/support/fixtures.js';
import type { HandlerDeps } from '../src/handler.js';
import { startReceiverServer, type ReceiverServer } from '../src/serve.js';
import { captureLog } from './helpers.js';

export interface ServedReceiver {
  /** A client on moto's S3 (the one the handler writes with, unless `deps` says otherwise). */
  s3: S3Client;
  server: ReceiverServer;
  log: ReturnType<typeof captureLog>;
}

export function s3At(endpoint: string, maxAttempts = 3): S3Client {
  return new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, maxAttempts, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

/** Handles that forward to the running rig; `deps` is called once the client and log exist. */
export function useServedReceiver(moto: MotoHandle, bucket: string, deps: (rig: Omit<ServedReceiver, 'server'>) => HandlerDeps): ServedReceiver {
  let parts: Omit<ServedReceiver, 'server'> | undefined;
  let server: ReceiverServer | undefined;
  beforeAll(async () => {
    // The client and log first: `deps` (and the test's own) may read them.
    parts = { s3: s3At(moto.endpoint), log: captureLog() };
    server = await startReceiverServer({ handlerDeps: deps(parts) });
  });
  afterAll(async () => {
    await server?.close();
    parts?.s3.destroy();
    parts = server = undefined;
  });
  beforeEach(async () => {
    await parts!.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    parts!.log.lines.length = 0;
  });
  return {
    s3: live('the served receiver', () => parts?.s3),
    server: live('the served receiver', () => server),
    log: live('the served receiver', () => parts?.log),
  };
}
