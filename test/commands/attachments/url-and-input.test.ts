// attachments url against moto (the URL downloads the file; the AUDIT line never carries it),
// and the bad-input table of the attachments commands (exit 2 with a hint, nothing on stdout).
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { createBucket, listKeys } from '../../support/aws-fixtures.js';
import { gunzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../support/temp.js';
import { runCli } from '../../support/run-cli.js';
import { redact } from '../../../src/lib/core/secrets.js';
import { attachmentKey, createAttachmentsBucket, remove, upload } from './fixtures.js';

const C = randomUUID();
const T = randomUUID();
const F = randomUUID();
const DRAIN_BUCKET = 'raxx-heroku-logs-prod';

describe('attachments: bad input (exit 2)', () => {
  const cases: { name: string; argv: string[]; stderr: RegExp }[] = [
    { name: 'customer id not a UUID', argv: ['restore', `cust-1/${T}/${F}.pdf`], stderr: /customer id "cust-1" is not a UUID/ },
    { name: 'ticket id not a UUID', argv: ['restore', `${C}/42/${F}.pdf`], stderr: /ticket id "42" is not a UUID/ },
    { name: 'file id not a UUID', argv: ['url', `${C}/${T}/report.pdf`], stderr: /file id "report" is not a UUID/ },
    { name: 'no extension', argv: ['url', `${C}/${T}/${F}`], stderr: /has no extension/ },
    { name: 'bad extension', argv: ['restore', `${C}/${T}/${F}.PDF`], stderr: /extension "PDF" is not 1-10 lowercase letters or digits/ },
    { name: 'too many parts', argv: ['restore', `${C}/${T}/x/${F}.pdf`], stderr: /expected 3 parts separated by "\/", got 4/ },
    { name: 'a prefix, not a key', argv: ['url', `${C}/${T}/`], stderr: /not an attachment key/ },
    { name: 'path traversal', argv: ['url', `../${T}/${F}.pdf`], stderr: /not an attachment key/ },
    { name: 'nothing selected', argv: ['restore'], stderr: /nothing selected: give KEY or --customer/ },
    { name: 'KEY and --customer', argv: ['restore', `${C}/${T}/${F}.pdf`, '--customer', C], stderr: /either KEY or --customer, not both/ },
    { name: '--ticket without --customer', argv: ['restore', '--ticket', T], stderr: /--ticket needs --customer/ },
    { name: '--file without --ticket', argv: ['restore', '--customer', C, '--file', F], stderr: /--file needs --ticket/ },
    { name: '--customer not a UUID', argv: ['restore', '--customer', 'acme'], stderr: /--customer: not a UUID/ },
    { name: '--file not a file id', argv: ['restore', '--customer', C, '--ticket', T, '--file', 'x.pdf'], stderr: /--file: not a file id/ },
    { name: '--version-id with a prefix', argv: ['restore', '--customer', C, '--version-id', 'abc'], stderr: /--version-id needs a single KEY/ },
    { name: 'ttl above 1 hour', argv: ['url', `${C}/${T}/${F}.pdf`, '--ttl', '61m'], stderr: /--ttl: 61m is more than 1 h\n.*support download URLs live 5 minutes/ },
    { name: 'ttl not a duration', argv: ['url', `${C}/${T}/${F}.pdf`, '--ttl', 'soon'], stderr: /--ttl: "soon" is not a duration/ },
    { name: 'ttl zero', argv: ['url', `${C}/${T}/${F}.pdf`, '--ttl', '0'], stderr: /--ttl: 0 is less than 1 s\n/ },
    { name: 'url without a key', argv: ['url'], stderr: /missing required argument 'key'/ },
    { name: 'bad IAM user name', argv: ['rotate-access-key', '--user', 'raxx support'], stderr: /--user: not an IAM user name/ },
    { name: 'invalid app name', argv: ['rotate-access-key', '--app', 'Raxx_API'], stderr: /--app: not a valid Heroku app name/ },
    { name: 'pending window above 30 days', argv: ['kms-retire', '--pending-days', '31'], stderr: /--pending-days: KMS allows 7 to 30 days/ },
  ];
  for (const c of cases) {
    it(`${c.name} → 2`, async () => {
      const r = await runCli(['attachments', ...c.argv], { env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' } });
      expect(r.stderr).toMatch(c.stderr);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/hint:/);
      expect(r.stdout).toBe('');
    });
  }
});

describe.skipIf(!motoAvailable)('attachments url', () => {
  const moto = useMoto();
  const { aws } = moto;
  const noDrainConfig = join(tempDir('raxx-ops-url-'), 'config.json');
  writeFileSync(noDrainConfig, JSON.stringify({ drain: { bucket: 'raxx-no-such-drain-bucket' } }));

  beforeAll(async () => {
    await createAttachmentsBucket(aws);
    await createBucket(aws, DRAIN_BUCKET);
  });

  it('prints a 5-minute pre-signed GET that downloads the file; the AUDIT line names it without the URL', async () => {
    const key = attachmentKey({ ext: 'pdf' });
    const bytes = randomBytes(1000);
    const versionId = await upload(aws, key, bytes);
    const before = await listKeys(aws, DRAIN_BUCKET, 'logs/raxx-api-prod/2026/03/01/');
    const r = await runCli(['attachments', 'url', key], { env: { ...moto.env, USER: 'sam' }, now: () => new Date('2026-03-01T10:00:00Z') });
    expect(r.code).toBe(0);
    const url = r.stdout.trim();
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(url).toMatch(/X-Amz-Signature=[0-9a-f]{64}/);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('300');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);

    const [customer, ticket, file] = key.replace(/\.pdf$/, '').split('/');
    const audit = `AUDIT {'event': 'support.attachment.accessed', 'customer_uuid': '${customer}', 'ticket_uuid': '${ticket}', 'operator': 'sam', 'file_uuid': '${file}', 'version_id': '${versionId}', 'via': 'raxx-ops attachments url', 'ttl_seconds': 300, 'expires_at': '2026-03-01T10:05:00.000Z'}`;
    expect(r.stderr).toBe(`${audit}\n`);
    expect(r.stderr).not.toMatch(/https?:|X-Amz/);
    // Kept as one drain batch of the API app, framed as Logplex sends a dyno's line.
    const stored = (await listKeys(aws, DRAIN_BUCKET, 'logs/raxx-api-prod/2026/03/01/')).filter((k) => !before.includes(k));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/^logs\/raxx-api-prod\/2026\/03\/01\/1772359200000-[0-9a-f-]{36}\.gz$/);
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const obj = await (await aws.s3()).send(new GetObjectCommand({ Bucket: DRAIN_BUCKET, Key: stored[0] }));
    const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString('utf8');
    const message = `<190>1 2026-03-01T10:00:00.000+00:00 host app raxx-ops - ${audit}\n`;
    expect(text).toBe(`${Buffer.byteLength(message)} ${message}`);
    expect(text).not.toMatch(/https?:|X-Amz|Signature/);
    // Anywhere else the same URL is masked: the redactor still applies to every other line.
    expect(redact(url)).toMatch(/X-Amz-Signature=\*\*\*\*/);
    expect(redact(url)).not.toContain(new URL(url).searchParams.get('X-Amz-Signature')!);
  });

  it('--ttl 1h and --json: the URL and its expiry as one document', async () => {
    const key = attachmentKey({ ext: 'png' });
    await upload(aws, key, 'x');
    const r = await runCli(['attachments', 'url', key, '--ttl', '1h', '--json'], { env: moto.env });
    expect(r.code).toBe(0);
    const doc = r.json<{ url: string; ttlSeconds: number; key: string }>();
    expect(doc).toMatchObject({ key, ttlSeconds: 3600 });
    expect(new URL(doc.url).searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(r.stderr).toMatch(/^AUDIT \{'event': 'support.attachment.accessed'/);
    expect(r.stderr).not.toContain(doc.url);
  });

  it('logs grep finds operator accesses in the API app\'s drain, beside the app\'s own AUDIT lines', async () => {
    const { frame } = await import('@raxx/log-format/logplex');
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const { gzipSync } = await import('node:zlib');
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    const key = attachmentKey();
    await upload(aws, key, 'x');
    const [customer, ticket] = key.split('/');
    // The app's own line, as its drain delivered it a minute earlier.
    const appLine = `AUDIT {'event': 'support.attachment.accessed', 'customer_uuid': '${customer}', 'ticket_uuid': '${ticket}', 'user_uuid': 'u-1'}`;
    const earlier = now.getTime() - 60_000;
    const ts = new Date(earlier).toISOString().replace('Z', '+00:00');
    const body = frame([{ pri: 190, version: 1, timestamp: ts, host: 'host', appName: 'app', procid: 'web.1', msgid: '-', text: appLine }]);
    await (await aws.s3()).send(new PutObjectCommand({ Bucket: DRAIN_BUCKET, Key: `logs/raxx-api-prod/${day.replace(/-/g, '/')}/${earlier}-${'A'.repeat(32)}.gz`, Body: gzipSync(body) }));

    const url = await runCli(['attachments', 'url', key], { env: { ...moto.env, USER: 'sam' } });
    expect(url.code).toBe(0);
    const grep = await runCli(['logs', 'grep', `'customer_uuid': '${customer}'`, '-F', '--app', 'raxx-api-prod', '--date', day], { env: moto.env });
    expect(grep.code, grep.stderr).toBe(0);
    const lines = grep.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(appLine);
    expect(lines[1]).toMatch(/'event': 'support.attachment.accessed', 'customer_uuid': '[^']+', 'ticket_uuid': '[^']+', 'operator': 'sam'/);
    expect(grep.stdout).not.toContain(url.stdout.trim());
  });

  it('no URL when the AUDIT line cannot be kept (drain bucket missing): exit 4', async () => {
    const key = attachmentKey();
    await upload(aws, key, 'x');
    const r = await runCli(['attachments', 'url', key], { env: { ...moto.env, RAXX_OPS_CONFIG: noDrainConfig } });
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/could not keep the AUDIT line in s3:\/\/raxx-no-such-drain-bucket .*no URL was made/);
  });

  it('a deleted attachment gets no URL and no audit line: exit 2, pointing at restore', async () => {
    const key = attachmentKey();
    await upload(aws, key, 'x');
    await remove(aws, key);
    const r = await runCli(['attachments', 'url', key], { env: moto.env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/AUDIT/);
    expect(r.stderr).toMatch(/hint: if it was deleted: raxx-ops attachments restore/);
  });

  it('ids typed in upper case: not found as typed (S3 keys are case-sensitive), and the hint gives the lower-case key', async () => {
    const key = attachmentKey();
    await upload(aws, key, 'x');
    const upper = key.replace(/\.pdf$/, '').toUpperCase() + '.pdf';
    const url = await runCli(['attachments', 'url', upper], { env: moto.env });
    expect(url.code).toBe(2);
    expect(url.stderr.match(/^hint:/gm)).toHaveLength(1);
    expect(url.stderr).toContain(`S3 keys are case-sensitive: try ${key}`);
    const customer = key.split('/')[0]!.toUpperCase();
    const restore = await runCli(['attachments', 'restore', '--customer', customer, '--dry-run'], { env: moto.env });
    expect(restore.code).toBe(2);
    expect(restore.stderr).toContain(`S3 keys are case-sensitive: try ${key.split('/')[0]}/`);
    // As typed in lower case it is found.
    expect((await runCli(['attachments', 'url', key], { env: moto.env })).code).toBe(0);
  });
});
