// The receiver's figures, measured on the built Lambda bundle (run after `npm run build`):
//   - handler CPU per 100-line Logplex batch, S3 stubbed: once at send() (the receiver's own
//     work: event validation, auth, parse, gzip, key, log line) and once at the HTTP layer
//     (adds the SDK's PutObject middleware: serialisation, checksum, SigV4 signing);
//   - size of the deployable zip;
//   - cold import of the bundle in a fresh `node`, median of several.
// CPU is process.cpuUsage (user + system, all threads: gzip runs on libuv's pool) over many
// sequential invocations after a warm-up. Returns rows { metric, value, unit, goal, ok }
// (ok undefined: a figure given for context, with no goal).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkg = fileURLToPath(new URL('../packages/log-drain-receiver/', import.meta.url));
const BUNDLE = `${pkg}dist/lambda/index.mjs`;
// The Lambda bundle exports only its two entry points (handler, compact): the handler factory
// the CPU figure needs comes from the same source's module build.
const HANDLER = `${pkg}dist/esm/handler.js`;
const ZIP = `${pkg}dist/log-drain-receiver.zip`;
const TOKEN = 'bench-drain-token-2f7c1e9a4b6d8035';
const LINES = 100;
const WARMUP = 300;
const ITERATIONS = 2_000;
const IMPORT_RUNS = 7;

/** 100 Logplex frames in the mix the drain sees: router lines, dyno output, Postgres lines. */
function logplexBatch(frame, lines = LINES) {
  const t0 = Date.UTC(2025, 5, 2, 14, 3, 7, 512);
  const msgs = [];
  for (let i = 0; i < lines; i++) {
    const ts = new Date(t0 + i * 7).toISOString().replace('Z', '123+00:00');
    let msg;
    if (i % 10 < 7) {
      msg = `<158>1 ${ts} host heroku router - at=info method=GET path="/api/v1/sessions/${i}" host=api.raxx.example request_id=6a0c2f9e-8d41-4b7a-9e3c-${String(i).padStart(12, '0')} fwd="203.0.113.${i}" dyno=web.${1 + (i % 4)} connect=0ms service=${20 + i}ms status=200 bytes=${600 + i} protocol=https\n`;
    } else if (i % 10 < 9) {
      msg = `<190>1 ${ts} host app web.${1 + (i % 4)} - I, [${ts}] INFO -- : Completed 200 OK in ${10 + i}ms (Views: 0.4ms | ActiveRecord: ${(i / 7).toFixed(1)}ms)\n`;
    } else {
      msg = `<134>1 ${ts} host app postgres.${1000 + i} - [DATABASE] [${i}-1] sql_error_code = 00000 LOG:  duration: 0.${i} ms  statement: SELECT 1\n`;
    }
    msgs.push(msg);
  }
  return frame(msgs);
}

function functionUrlEvent(body, frameId) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: `app=raxx-api-prod&token=${TOKEN}`,
    headers: {
      'content-type': 'application/logplex-1',
      'logplex-msg-count': String(LINES),
      'logplex-frame-id': frameId,
      'logplex-drain-token': 'd.fc6b856b-3332-4546-93de-7d0ee272c3bd',
      'user-agent': 'Logplex/v134',
      host: 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws',
      'x-forwarded-proto': 'https',
    },
    queryStringParameters: { app: 'raxx-api-prod', token: TOKEN },
    requestContext: { http: { method: 'POST', path: '/' }, requestId: '7c0e1f4a-2b3d-4e5f-8a9b-0c1d2e3f4a5b' },
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  };
}

/** Mean CPU milliseconds per invocation of `run`. */
async function cpuPerCall(run) {
  for (let i = 0; i < WARMUP; i++) await run(i);
  const start = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) await run(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / ITERATIONS;
}

async function handlerCpu(mod, logplex) {
  const body = logplexBatch(logplex.frame);
  // A new Frame-Id per call would only change the key; one event keeps the loop honest.
  const event = functionUrlEvent(body, '09C557EAFCFB6CF2740EE62F62971098');
  const base = { bucket: 'raxx-heroku-logs-prod', tokens: () => ({ current: TOKEN }), log: () => undefined };

  const stubbedSend = mod.createHandler({ ...base, s3: { send: async () => ({}) } });
  const check = await stubbedSend(event);
  if (check.statusCode !== 200) throw new Error(`bench batch answered ${check.statusCode}`);
  const own = await cpuPerCall(() => stubbedSend(event));

  // The real client with its transport replaced: everything but the network.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Client } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDBENCHBENCHBENCH0', secretAccessKey: 'bench-secret-access-key-not-real-000000' },
    requestHandler: { handle: async () => ({ response: { statusCode: 200, headers: { etag: '"d41d8cd98f00b204e9800998ecf8427e"' }, body: new Uint8Array(0) } }) },
  });
  const withSdk = mod.createHandler({ ...base, s3 });
  const check2 = await withSdk(event);
  if (check2.statusCode !== 200) throw new Error(`bench batch (SDK) answered ${check2.statusCode}`);
  const sdk = await cpuPerCall(() => withSdk(event));
  s3.destroy();
  return { own, sdk, bytes: Buffer.byteLength(body) };
}

function coldImportMs() {
  const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(BUNDLE).href)});process.stdout.write(String(performance.now()-t));`;
  const times = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
    if (r.status !== 0) throw new Error(`importing the bundle failed: ${r.stderr.trim().split('\n').at(-1)}`);
    times.push(Number(r.stdout));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const row = (metric, value, unit, goal, ok) => ({ metric, value, unit, goal, ok });

export default async function benchReceiver() {
  if (!existsSync(BUNDLE) || !existsSync(ZIP) || !existsSync(HANDLER)) {
    return [row('receiver bundle', 'missing: run `npm run build -w @raxx/log-drain-receiver`', '', '', false)];
  }
  const mod = await import(pathToFileURL(HANDLER).href);
  // The Logplex framing lives in the log-format package, which the receiver imports.
  const logplex = await import('@raxx/log-format/logplex');
  const cpu = await handlerCpu(mod, logplex);
  const zipBytes = statSync(ZIP).size;
  const importMs = coldImportMs();
  return [
    row(`handler CPU per ${LINES}-line batch (${(cpu.bytes / 1024).toFixed(0)} KiB), S3 send stubbed`, cpu.own.toFixed(3), 'ms', '< 1 ms', cpu.own < 1),
    // Context, no goal: the SDK's middleware (serde, checksum, signing) is not the receiver's to trim.
    row(`handler CPU per ${LINES}-line batch incl. SDK PutObject (transport stubbed)`, cpu.sdk.toFixed(3), 'ms', '', undefined),
    row('Lambda zip size', (zipBytes / 1024).toFixed(0), 'KiB', '< 1 MB', zipBytes < 1024 * 1024),
    row(`cold import of the bundle (fresh node, median of ${IMPORT_RUNS})`, importMs.toFixed(0), 'ms', '< 300 ms', importMs < 300),
  ];
}
