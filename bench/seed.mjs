// Bench data: one app-day of drain objects written straight into the local S3 with the
// receiver's own key layout and Logplex framing (its package's built modules: npm run bench
// builds first), at high concurrency. Deterministic: the same run writes the same bytes.
import { Agent } from 'node:http';
import { gzipSync } from 'node:zlib';
import { frame } from '@raxx/log-format/logplex';
import { buildObjectKey, dayPrefix } from '@raxx/log-format/object-key';
import { rng } from './support.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { S3Client, PutObjectCommand, GetObjectCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
const { NodeHttpHandler } = await import('@smithy/node-http-handler');

function client(endpoint) {
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
}

async function pool(items, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

export { rng };

const PATHS = ['/api/v1/sessions', '/api/v1/users/me', '/api/v1/passkeys', '/healthz', '/api/v1/tickets', '/assets/app.js'];

/** One Logplex syslog message: mostly router lines, some app output and Postgres lines. */
export function message(rand, ts, i) {
  const r = rand();
  if (r < 0.7) {
    const status = rand() < 0.01 ? (rand() < 0.5 ? 503 : 504) : rand() < 0.05 ? 404 : 200;
    const path = PATHS[Math.floor(rand() * PATHS.length)];
    const id = Math.floor(rand() * 2 ** 32).toString(16).padStart(8, '0');
    return `<158>1 ${ts} host heroku router - at=info method=GET path="${path}" host=api.raxx.example request_id=${id}-${i} fwd="203.0.113.${i % 250}" dyno=web.${1 + (i % 4)} connect=0ms service=${Math.floor(rand() * 300)}ms status=${status} bytes=${Math.floor(rand() * 9000)} protocol=https\n`;
  }
  if (r < 0.9) return `<190>1 ${ts} host app web.${1 + (i % 4)} - I, [${ts}] INFO -- : Completed 200 OK in ${Math.floor(rand() * 200)}ms (Views: 0.1ms | ActiveRecord: ${(rand() * 20).toFixed(1)}ms)\n`;
  return `<134>1 ${ts} host app postgres.${1000 + (i % 50)} - [DATABASE] [${i % 9}-1] sql_error_code = 00000 LOG:  duration: ${(rand() * 5).toFixed(3)} ms  statement: SELECT 1\n`;
}

/**
 * Write `objects` objects spread over one UTC day for `app`, `lines` messages each. Returns the
 * keys in key order, the day prefix, and how many lines match `pattern` (in total and by key).
 */
export async function seedDay({ endpoint, bucket, app, day, objects, lines, pattern, create, prefix = 'logs/' }) {
  const s3 = client(endpoint);
  if (create) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const re = new RegExp(pattern);
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  const rand = rng(objects * 7919 + lines);
  const items = [];
  for (let n = 0; n < objects; n++) {
    const t = dayStart + Math.floor(((n + rand() * 0.9) * 86_400_000) / objects);
    const msgs = [];
    for (let l = 0; l < lines; l++) msgs.push(message(rand, new Date(t + l * 10).toISOString().replace('Z', '+00:00'), n * lines + l));
    const body = frame(msgs);
    const id = `${n.toString(16).padStart(8, '0')}-0000-4000-8000-${(n * 31).toString(16).padStart(12, '0')}`;
    const key = buildObjectKey({ app, epochMs: t, id, prefix });
    const matches = body.split('\n').filter((line, i, all) => (i < all.length - 1 || line !== '') && re.test(line)).length;
    items.push({ key, gz: gzipSync(Buffer.from(body)), matches });
  }
  await pool(items, 48, ({ key, gz }) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gz, ContentType: 'application/gzip' })));
  s3.destroy();
  items.sort((a, b) => (a.key < b.key ? -1 : 1));
  return {
    prefix: dayPrefix(prefix, app, dayStart),
    keys: items.map((i) => i.key),
    matches: items.reduce((n, i) => n + i.matches, 0),
    matchesByKey: new Map(items.map((i) => [i.key, i.matches])),
  };
}

/** GET every object once through the latency proxy (at 0 ms) so its cache holds them all. */
export async function primeCache({ endpoint, bucket, keys: all }) {
  const s3 = client(endpoint);
  await pool(all, 64, async (key) => {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    for await (const _ of res.Body);
  });
  s3.destroy();
}
