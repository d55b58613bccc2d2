// An outside service that fails or is cut off by Ctrl-C, seen by the new commands: exit 4 with
// one error line and exactly one hint (5xx: try again; 403: permissions), --json one document;
// a request aborted by Ctrl-C is the interruption (130), not a failure of AWS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../support/moto.js';
import { useMoto } from '../support/fixtures.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startFaultProxy as startSlowProxy } from '../support/throttle-proxy.js';
import { runCli } from '../support/run-cli.js';
import { batch, createDrainBucket, put } from './logs/fixtures.js';
import { attachmentKey, createAttachmentsBucket, remove, upload } from './attachments/fixtures.js';

const now = () => new Date('2025-06-03T12:00:00Z');
const CUSTOMER = '0b8f6a1e-1d2c-4c3b-9a5e-1f2e3d4c5b6a';

describe.skipIf(!motoAvailable)('outside services failing under the new commands', () => {
  const moto = useMoto();
  const { aws } = moto;
  let proxy: FaultProxy;
  let key: string;

  beforeAll(async () => {
    await createDrainBucket(aws);
    await put(aws, [batch('raxx-api-prod', Date.parse('2025-06-01T08:00:00Z'), ['hello'])]);
    await createAttachmentsBucket(aws);
    key = attachmentKey({ customer: CUSTOMER });
    await upload(aws, key, 'x');
    await remove(aws, key);
    proxy = await startFaultProxy(moto.endpoint);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  const commands = (): string[][] => [
    ['logs', 'compact', '--app', 'raxx-api-prod', '--date', '2025-06-01'],
    ['logs', 'query', 'SELECT count(*) FROM logs', '--app', 'raxx-api-prod', '--date', '2025-06-01'],
    ['logs', 'query', 'SELECT 1', '--engine', 'athena', '--app', 'raxx-api-prod', '--date', '2025-06-01'],
    ['logs', 'athena-setup', '--yes'],
    ['attachments', 'restore', '--customer', CUSTOMER, '--yes'],
    ['attachments', 'url', key],
    ['attachments', 'kms-status'],
  ];
  const expectations: [status: number, hint: RegExp][] = [
    [500, /^hint: .*failed on its side after retries; try again/m],
    [403, /^hint: the AWS identity in use lacks permission/m],
  ];
  for (const [status, hint] of expectations) {
    it(`HTTP ${status} from every call: exit 4, one error line, one hint, one JSON document`, async () => {
      for (const argv of commands()) {
        proxy.setFaults(['GET', 'PUT', 'POST', 'HEAD', 'DELETE'].map((method) => ({ method, times: 1000, status })));
        const r = await runCli([...argv, '--json'], { now, env: { ...moto.env, AWS_ENDPOINT_URL: proxy.endpoint } });
        const what = argv.slice(0, 2).join(' ');
        expect(r.code, what).toBe(4);
        expect(r.stderr.match(/^hint:/gm), `${what}: ${r.stderr}`).toHaveLength(1);
        expect(r.stderr, what).toMatch(hint);
        // The SDK's own "Deserialization error: … inspect $response" line is not the operator's business.
        expect(r.stderr, what).not.toMatch(/\$response/);
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
        expect(r.json<{ error: { exitCode: number; hint: string } }>().error).toMatchObject({ exitCode: 4, hint: expect.any(String) });
      }
    }, 60_000);
  }

  it('Ctrl-C while a request is in flight: "interrupted" and exit 130, no error about AWS', async () => {
    const slow = await startSlowProxy({ target: moto.endpoint, delayMs: () => 2_000 });
    try {
      for (const argv of [
        ['attachments', 'restore', '--customer', CUSTOMER, '--yes'],
        ['logs', 'compact', '--app', 'raxx-api-prod', '--date', '2025-06-01'],
        ['attachments', 'kms-status'],
      ]) {
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 200);
        const r = await runCli([...argv, '--json'], { now, signal: ac.signal, env: { ...moto.env, AWS_ENDPOINT_URL: slow.url } });
        expect(r.code, argv.join(' ')).toBe(130);
        expect(r.stderr, argv.join(' ')).toBe('interrupted\n');
        expect(r.json<{ error: { exitCode: number } }>().error.exitCode).toBe(130);
      }
    } finally {
      await slow.close();
    }
  }, 60_000);
});
