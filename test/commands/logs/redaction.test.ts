// One table of secret shapes, proven absent wherever raxx-ops writes text: the objects
// `logs ship` uploads (read back from moto), `logs grep --json --debug` output over drain
// objects, errors under --debug, and Slack messages (the webhook stand-in). A second table of
// look-alikes proves ordinary log text survives both maskers unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { startSlack, type SlackStandIn } from '../../support/slack-webhook.js';
import { tempDir } from '../../support/temp.js';
import { batch, createDrainBucket, put } from './fixtures.js';
import { OUTPUT_MASK, OUTPUT_RULES, applyRules, DEFAULT_REDACTIONS, Redactor } from '../../../src/lib/core/redaction.js';
import { redact } from '../../../src/lib/core/secrets.js';
import { Output } from '../../../src/lib/core/output.js';
import { notify } from '../../../src/lib/slack/notify.js';

interface Shape {
  name: string;
  text: string;
  /** What must not survive. */
  secrets: string[];
  /** Personal data or identifiers: masked in shipped logs only, printed in output (operators need them). */
  shippingOnly?: boolean;
}

const jwt = (payload: string, sig: string) => `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.${payload}.${sig}`;

export const SHAPES: Shape[] = [
  // credentials in URLs of every scheme
  { name: 'postgres URL', text: 'connecting to postgres://raptor_app:Pg-s3cret-111@db.example:5432/raxx', secrets: ['Pg-s3cret-111'] },
  { name: 'mysql URL', text: 'DSN mysql://root:My-s3cret-222@10.0.0.5/app', secrets: ['My-s3cret-222'] },
  { name: 'redis URL, empty user', text: 'cache=redis://:Rd-s3cret-333@cache:6379/0', secrets: ['Rd-s3cret-333'] },
  { name: 'amqps URL', text: 'broker amqps://guest:Mq-s3cret-444@mq.example/vhost', secrets: ['Mq-s3cret-444'] },
  { name: 'mongodb+srv URL', text: '{"uri":"mongodb+srv://admin:Mg-s3cret-555@cluster0.example.net/db?retryWrites=true"}', secrets: ['Mg-s3cret-555'] },
  { name: 'https URL with userinfo', text: 'cloning https://deploy:Ht-s3cret-666@git.example.com/repo.git', secrets: ['Ht-s3cret-666'] },
  { name: 'password with an @ in a URL', text: 'postgresql://u:p@ss-Aw-777@db.example/raxx', secrets: ['p@ss-Aw-777', 'ss-Aw-777'] },
  // JWTs
  { name: 'bare JWT', text: `session ${jwt('eyJzdWIiOiIxMjM0NTY3ODkwIn0', 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c')}`, secrets: ['SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0'] },
  { name: 'SUPABASE_SERVICE_ROLE_KEY=<jwt>', text: `SUPABASE_SERVICE_ROLE_KEY=${jwt('eyJyb2xlIjoic2VydmljZV9yb2xlIn0', 'SbRoleSig888abc')}`, secrets: ['SbRoleSig888abc', 'eyJyb2xlIjoic2VydmljZV9yb2xlIn0'] },
  // cloud keys
  { name: 'aws=<40-character secret>', text: 'creds aws=Zq8vN2mT4kL6pR0sW3xY5bC7dF9gH1jK3lM5nP7r region=us-east-1', secrets: ['Zq8vN2mT4kL6pR0sW3xY5bC7dF9gH1jK3lM5nP7r'] },
  { name: 'AWS_SECRET_ACCESS_KEY_SUPPORT=<secret>', text: 'AWS_SECRET_ACCESS_KEY_SUPPORT=Sup-s3cret-key-000 S3_BUCKET_SUPPORT_ATTACHMENTS=raxx', secrets: ['Sup-s3cret-key-000'] },
  { name: 'AWS_SECRET_ACCESS_KEY in the environment', text: 'export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', secrets: ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'] },
  { name: 'IAM CreateAccessKey JSON', text: '{"AccessKey":{"UserName":"raxx-support-backend-user","SecretAccessKey":"Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0n"}}', secrets: ['Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0n'] },
  { name: 'AWS access key id', text: 'signed with AKIAQ3EXAMPLE7ID2XYZ', secrets: ['AKIAQ3EXAMPLE7ID2XYZ'], shippingOnly: true },
  // webhooks and vendor tokens
  { name: 'Slack webhook URL', text: 'SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0123ABCD/B0456EFGH/Xy9SlackHookSecret12345', secrets: ['Xy9SlackHookSecret12345', 'B0456EFGH'] },
  { name: 'Slack webhook in prose', text: 'posting to https://hooks.slack.com/services/T0999/B0888/HookInProse777 failed', secrets: ['HookInProse777'] },
  { name: 'Slack bot token', text: 'slack client xoxb-1234567890-0987654321-SlackBotTok3n ready', secrets: ['SlackBotTok3n'] },
  { name: 'GitHub token', text: 'git push with ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8', secrets: ['ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'] },
  { name: 'GitHub fine-grained token', text: 'token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv', secrets: ['abcdefghijklmnopqrstuv'] },
  { name: 'Stripe secret key', text: 'stripe.api_base key sk_live_51HxStripeS3cretKey0123456789', secrets: ['51HxStripeS3cretKey0123456789'] },
  { name: 'Stripe webhook secret', text: 'verify with whsec_Str1peWebhookSigningSecret0123', secrets: ['Str1peWebhookSigningSecret0123'] },
  { name: 'Google API key', text: 'maps AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q loaded', secrets: ['SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'] },
  { name: 'npm token', text: '//registry.npmjs.org/:_authToken=npm_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8', secrets: ['A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'] },
  { name: 'Heroku API key', text: 'heroku auth HRKU-AAbbCCddEEff0011223344556677889900', secrets: ['AAbbCCddEEff0011223344556677889900'] },
  { name: 'Supabase secret key', text: 'client sb_secret_Sb5ecretKey0123456789abcd', secrets: ['Sb5ecretKey0123456789abcd'] },
  // headers and cookies
  { name: 'Authorization: Bearer', text: 'Authorization: Bearer Br-t0ken.abc123def456', secrets: ['Br-t0ken.abc123def456'] },
  { name: 'Bearer mid-line', text: 'upstream sent header Bearer 9f8e7d6c5b4a3210 to /v1', secrets: ['9f8e7d6c5b4a3210'] },
  { name: '"Authorization":"Basic …" (JSON)', text: '{"headers":{"Authorization":"Basic dXNlcjpCYXNpY1MzY3JldDk5OQ=="}}', secrets: ['dXNlcjpCYXNpY1MzY3JldDk5OQ=='] },
  { name: 'Basic credentials mid-line', text: 'proxy got Basic dXNlcjpCYXNpY1MzY3JldDk5OQ== from 10.0.0.1', secrets: ['dXNlcjpCYXNpY1MzY3JldDk5OQ=='] },
  { name: 'Authorization: Token', text: 'Authorization: Token Tk-s3cret-999xyz', secrets: ['Tk-s3cret-999xyz'] },
  { name: 'X-Api-Key header mid-line', text: 'GET /v1/users headers X-Api-Key: Xk-s3cret-404', secrets: ['Xk-s3cret-404'] },
  { name: 'Cookie header', text: 'Cookie: session=Ck-sess-101; csrftoken=Ck-csrf-202', secrets: ['Ck-sess-101', 'Ck-csrf-202'] },
  { name: 'Set-Cookie header', text: 'response Set-Cookie: sid=Sc-sid-303; Path=/; HttpOnly; Secure', secrets: ['Sc-sid-303'] },
  { name: 'cookie in JSON', text: '{"cookie":"sid=Cj-sid-505; theme=dark"}', secrets: ['Cj-sid-505'] },
  // pre-signed URLs and the drain token
  {
    name: 'S3 pre-signed URL',
    text: 'GET https://raxx-support-attachments-prod.s3.amazonaws.com/c/t/f.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAZZEXAMPLE9ID8ABC%2F20250601%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=FwoGZXIvYXdzEPs3cToken&X-Amz-Signature=5ig0123456789abcdef',
    secrets: ['5ig0123456789abcdef', 'FwoGZXIvYXdzEPs3cToken', 'AKIAZZEXAMPLE9ID8ABC'],
  },
  { name: 'Google Cloud signed URL', text: 'https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=G00gSig0123abcd', secrets: ['G00gSig0123abcd'] },
  { name: 'Heroku drain token', text: 'drain d.0b5e8e4c-9a7f-4c55-b8f0-36d8bd7a5c1e added', secrets: ['0b5e8e4c-9a7f-4c55-b8f0-36d8bd7a5c1e'] },
  { name: 'drain URL token', text: 'POST https://abc.lambda-url.us-east-1.on.aws/?token=Dr4inT0ken55&app=raxx-api-prod', secrets: ['Dr4inT0ken55'] },
  { name: 'DRAIN_TOKEN_PREVIOUS', text: 'DRAIN_TOKEN_PREVIOUS=Old-dr4in-t0ken-66', secrets: ['Old-dr4in-t0ken-66'] },
  // private keys
  { name: 'private key block in a JSON string', text: '{"key":"-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA1PkBlock\\n-----END RSA PRIVATE KEY-----"}', secrets: ['MIIEpAIBAAKCAQEA1PkBlock'] },
  { name: 'private key block over lines', text: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nPkLineTwoSecret0123456789\n-----END PRIVATE KEY-----', secrets: ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 'PkLineTwoSecret0123456789'] },
  // key=value, JSON, YAML-ish, quoted and unquoted
  { name: 'password in a query string', text: 'GET /login?user=bob&password=Qp-s3cret-606&next=/home', secrets: ['Qp-s3cret-606'] },
  { name: 'password= (logfmt)', text: 'login user=bob password=Kv-s3cret-707 ok', secrets: ['Kv-s3cret-707'] },
  { name: 'password="…" quoted', text: 'login password="Kv s3cret 808" ok', secrets: ['Kv s3cret 808', 's3cret 808'] },
  { name: "token='…' single-quoted", text: "refresh token='Sq-t0ken-919' ok", secrets: ['Sq-t0ken-919'] },
  { name: 'JSON password', text: '{"user":"bob","password":"Js-s3cret-909"}', secrets: ['Js-s3cret-909'] },
  { name: 'JSON number secret (one-time code)', text: '{"otp_token": 482913, "user": "bob"}', secrets: ['482913'] },
  { name: 'escaped JSON inside a JSON string', text: '{"msg":"body {\\"client_secret\\":\\"Es-s3cret-111\\"}"}', secrets: ['Es-s3cret-111'] },
  { name: 'YAML, indented', text: '  db_password: Ym-s3cret-222', secrets: ['Ym-s3cret-222'] },
  { name: 'Python dict (audit lines)', text: "AUDIT {'api_key': 'Py-s3cret-333', 'event': 'support.attachment.accessed'}", secrets: ['Py-s3cret-333'] },
  { name: 'libpq connection string', text: 'host=db user=raptor_app password=Lq-s3cret-444 dbname=raxx', secrets: ['Lq-s3cret-444'] },
  { name: '--password on a command line', text: 'ran pg_dump --password Cf-s3cret-555 raxx', secrets: ['Cf-s3cret-555'] },
  { name: 'camelCase in a JS dump', text: "{ drainToken: 'Cc-t0ken-666', app: 'raxx-api-prod' }", secrets: ['Cc-t0ken-666'] },
  // personal data (the shipping runbook's PII redaction)
  { name: 'e-mail address', text: 'login for jane.doe+ops@example.co.uk ok', secrets: ['jane.doe+ops@example.co.uk'], shippingOnly: true },
];

/** Ordinary log text that must come through both maskers unchanged. */
export const LOOK_ALIKES: { text: string; outputOnly?: boolean }[] = [
  { text: "FAIL token: [B] the function's DRAIN_TOKEN differs from SSM drain_token" },
  { text: 'drain auth failed: token_present=false' },
  { text: 'GET /api/users 200 125ms request_id=req_abc123 session_id=sess_abc123' },
  { text: 'commit 9fceb02d0ae598e95dc970b74767f19372d61af8 deployed' },
  { text: 'object 7d1c2b3a-4e5f-4a6b-9c8d-0e1f2a3b4c5d written' },
  { text: 'connecting to postgres://db.example:5432/raxx' },
  { text: 'GET https://example.com/search?q=tokens&page=2&sort=asc' },
  { text: 'password reset requested for user_123' },
  { text: 'model max_tokens=4096 tokenizer=cl100k' },
  { text: 'password_changed_at=2025-06-01T10:00:00Z token_type=bearer' },
  { text: '{"password_reset": true, "token_type": "bearer", "tokens": 3}' },
  { text: 'Basic authentication failed for user_123' },
  { text: 'Bearer authentication required' },
  { text: 'cookie consent banner shown' },
  { text: 'secretary=alice' },
  { text: 'path=/v1/sessions/4999/ABCdefGHIjklMNOpqrSTUvwxYZ0123456789ab' },
  { text: 'ip_address=192.168.1.100 user_agent=Mozilla/5.0' },
  { text: 'timestamp=2025-07-02T10:30:00Z level=INFO type=auth action=login_attempt result=success' },
  { text: 'x-amz-request-id: 4442587FB7D0A2F9' },
  { text: 'step 1/8  generate a new token: planned' },
  { text: 'at Object.<anonymous> (/app/dist/cli.js:10:5)' },
  { text: 'sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
  { text: 'the receiver rejected a token that was not the current one' },
  { text: 'version 3HL4kqtJlcpXroDTDmjVBH40Nr8X8gdRQBpUMLUo reads again', outputOnly: true },
  { text: 'access key AKIAIOSFODNN7EXAMPLE deleted', outputOnly: true },
  { text: 'git@github.com:raxx/ops.git', outputOnly: true },
];

const MARK = 'redaction-probe';
const shipped = () => new Redactor(DEFAULT_REDACTIONS);

describe('the secret shapes, in each masker', () => {
  it('covers at least 30 shapes', () => expect(SHAPES.length).toBeGreaterThanOrEqual(30));

  for (const s of SHAPES) {
    it(s.name, () => {
      const r = shipped();
      const out = s.text.split('\n').map((l) => r.line(l)).join('\n');
      for (const secret of s.secrets) expect(out).not.toContain(secret);
      expect(out).toContain('[REDACTED');
      expect(r.total).toBeGreaterThan(0);
      const printed = redact(s.text);
      for (const secret of s.secrets) {
        if (s.shippingOnly) expect(printed).toContain(secret);
        else expect(printed).not.toContain(secret);
      }
    });
  }

  for (const l of LOOK_ALIKES) {
    it(`keeps: ${l.text}`, () => {
      expect(redact(l.text)).toBe(l.text);
      expect(applyRules(l.text, OUTPUT_RULES, OUTPUT_MASK)).toBe(l.text);
      if (!l.outputOnly) {
        const r = new Redactor(DEFAULT_REDACTIONS);
        expect(r.line(l.text)).toBe(l.text);
        expect(r.total).toBe(0);
      }
    });
  }

  it('a JSON line stays JSON after redaction', () => {
    const isJson = (t: string) => {
      try {
        JSON.parse(t);
        return true;
      } catch {
        return false;
      }
    };
    const json = SHAPES.filter((x) => isJson(x.text));
    expect(json.length).toBeGreaterThan(5);
    for (const s of json) {
      expect((): unknown => JSON.parse(new Redactor(DEFAULT_REDACTIONS).line(s.text))).not.toThrow();
    }
  });

  it('a private key block that never closes is masked to its end, and the lines after it are masked too', () => {
    const r = new Redactor(DEFAULT_REDACTIONS);
    expect(r.line('-----BEGIN EC PRIVATE KEY-----')).not.toContain('EC PRIVATE KEY-----\n');
    expect(r.line('MHcCAQEEIBkgOpenBlockSecret')).toBe('[REDACTED:private-key]');
    expect(r.line('-----END EC PRIVATE KEY----- after')).toBe('[REDACTED:private-key]-----END EC PRIVATE KEY----- after');
    expect(r.line('next line stays')).toBe('next line stays');
  });
});

describe.skipIf(!motoAvailable)('every shape is absent from what leaves raxx-ops', () => {
  const moto = useMoto();
  const { aws } = moto;
  let slack: SlackStandIn;
  let env: Record<string, string>;
  let dir: string;
  const now = () => new Date('2025-06-02T12:00:00Z');
  const lines = () => [...SHAPES.flatMap((s) => s.text.split('\n').map((l) => `${MARK} ${l}`)), ...LOOK_ALIKES.map((l) => `${MARK} ${l.text}`)];

  beforeAll(async () => {
    await createDrainBucket(aws);
    slack = await startSlack();
    dir = tempDir('raxx-redaction-');
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ logSources: [{ name: 'auth', required: true }] }));
    env = { ...moto.env, RAXX_OPS_CONFIG: config };
  });

  afterAll(async () => {
    await slack?.close();
  });

  it('from the object `logs ship` uploads (read back from S3), look-alikes intact', async () => {
    const file = join(dir, 'auth-2025-06-01.log');
    await writeFile(file, lines().join('\n') + '\n');
    const r = await runCli(['logs', 'ship', 'auth', file, '--json', '--debug'], { env, now });
    expect(r.code, r.stderr).toBe(0);
    const day = r.json<{ days: { key: string; redactions: number }[] }>().days[0]!;
    const s3 = await aws.s3();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'raxx-heroku-logs-prod', Key: day.key }));
    const text = gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8');
    for (const s of SHAPES) for (const secret of s.secrets) expect(text, s.name).not.toContain(secret);
    for (const l of LOOK_ALIKES.filter((x) => !x.outputOnly)) expect(text).toContain(`${MARK} ${l.text}\n`);
    expect(text.split('\n').filter(Boolean)).toHaveLength(lines().length);
    expect(day.redactions).toBeGreaterThanOrEqual(SHAPES.length);
    for (const s of SHAPES) for (const secret of s.secrets) expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it('from `logs grep --json --debug` over drain objects holding them', async () => {
    // One log line per Logplex frame, as Heroku sends them: a multi-line key arrives cut into lines.
    const single = SHAPES.filter((s) => !s.text.includes('\n'));
    await put(aws, [batch('raxx-api-prod', Date.parse('2025-06-01T10:00:00Z'), [...single.map((s) => `${MARK} ${s.text}`), ...LOOK_ALIKES.map((l) => `${MARK} ${l.text}`)])]);
    const r = await runCli(['logs', 'grep', MARK, '-F', '--app', 'raxx-api-prod', '--date', '2025-06-01', '--json', '--debug'], { env, now });
    expect(r.code, r.stderr).toBe(0);
    expect(r.records()).toHaveLength(single.length + LOOK_ALIKES.length);
    for (const s of single) {
      for (const secret of s.secrets) {
        if (s.shippingOnly) continue;
        expect(r.stdout, s.name).not.toContain(secret);
        expect(r.stderr, s.name).not.toContain(secret);
      }
    }
    // Each record holds its line as text; look-alikes come through as they were.
    const texts = r.records<Record<string, unknown>>().map((x) => JSON.stringify(x));
    for (const l of LOOK_ALIKES) expect(texts.some((t) => t.includes(JSON.stringify(`${MARK} ${l.text}`).slice(1, -1)))).toBe(true);
  });

  it('from errors and --debug lines on stderr (an operator pasting a secret where a value goes)', async () => {
    for (const s of SHAPES.filter((x) => !x.shippingOnly)) {
      const r = await runCli(['logs', 'ship', 'auth', '-', '--date', s.text, '--debug', '--json'], { env, now });
      expect(r.code).toBe(2);
      for (const secret of s.secrets) expect(r.stdout + r.stderr, s.name).not.toContain(secret);
    }
  });

  it('from the debug, warning and data writes of the output itself', () => {
    let stdout = '';
    let stderr = '';
    const out = new Output({ stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, json: true, debug: true, color: false });
    for (const s of SHAPES) {
      out.debug(`request body ${s.text}`);
      out.warn(s.text);
    }
    out.data({ lines: SHAPES.map((s) => s.text), nested: Object.fromEntries(SHAPES.map((s, i) => [`k${i}`, { value: s.text }])) });
    for (const s of SHAPES.filter((x) => !x.shippingOnly)) for (const secret of s.secrets) expect(stdout + stderr, s.name).not.toContain(secret);
    expect((JSON.parse(stdout) as { lines: string[] }).lines).toHaveLength(SHAPES.length);
  });

  it('from Slack messages posted to the webhook', async () => {
    let warned = '';
    const out = { warn: (t: string) => (warned += t), debug: () => undefined } as never;
    for (const s of SHAPES.filter((x) => !x.shippingOnly)) expect(await notify(slack.url, `:x: raxx-ops logs ship failed: ${s.text}`, out)).toBe(true);
    expect(warned).toBe('');
    expect(slack.messages).toHaveLength(SHAPES.filter((x) => !x.shippingOnly).length);
    const posted = slack.messages.map((m) => m.text).join('\n');
    for (const s of SHAPES.filter((x) => !x.shippingOnly)) for (const secret of s.secrets) expect(posted, s.name).not.toContain(secret);
    expect(posted).toContain(':x: raxx-ops logs ship failed');
  });
});
