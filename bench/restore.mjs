// `raxx-ops attachments restore` of a ticket whose files were all deleted, through the latency
// model of S3 (bench/latency-proxy.mjs, 40 ms a request, no cache: every listing follows the
// writes): the concurrent restore of RESTORE_BENCH_KEYS (2,000) keys against the same command
// one key at a time (--concurrency 1) over a sample, extrapolated per key. Both must leave the
// data versions exactly as they were, with no delete marker left.
//
// Standalone: `npm run build && node bench/restore.mjs`; bench/run.mjs adds its rows to the
// table. Returns rows { metric, value, unit, goal, ok }.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startLatencyProxy } from './latency-proxy.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const BUCKET = 'raxx-support-attachments-prod';

function cli(env, args) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn('node', ['bin/raxx-ops', 'attachments', 'restore', ...args, '--yes', '--json'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`attachments restore exited ${code}: ${err}`));
      resolve({ seconds: (performance.now() - t) / 1000, doc: JSON.parse(out) });
    });
  });
}

/** n keys of one ticket, each with two data versions and, a second later, a delete marker. */
async function seed(s3, cmds, n) {
  const customer = randomUUID();
  const ticket = randomUUID();
  const keys = Array.from({ length: n }, () => `${customer}/${ticket}/${randomUUID()}.pdf`);
  const pool = async (fn) => {
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < keys.length) await fn(keys[next++]);
    }));
  };
  await pool(async (k) => {
    await s3.send(new cmds.PutObjectCommand({ Bucket: BUCKET, Key: k, Body: 'old' }));
    await s3.send(new cmds.PutObjectCommand({ Bucket: BUCKET, Key: k, Body: `file ${k}` }));
  });
  // Listings give whole seconds: the deletion comes later, as it does in life.
  await new Promise((r) => setTimeout(r, 1100));
  await pool((k) => s3.send(new cmds.DeleteObjectCommand({ Bucket: BUCKET, Key: k })));
  return { customer, ticket };
}

async function dataVersions(s3, cmds, prefix) {
  const data = [];
  let markers = 0;
  let KeyMarker;
  let VersionIdMarker;
  do {
    const res = await s3.send(new cmds.ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: prefix, KeyMarker, VersionIdMarker }));
    for (const v of res.Versions ?? []) data.push(`${v.Key}@${v.VersionId}`);
    markers += (res.DeleteMarkers ?? []).length;
    KeyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
    VersionIdMarker = res.IsTruncated ? res.NextVersionIdMarker : undefined;
  } while (KeyMarker);
  return { data: data.sort(), markers };
}

export default async function restoreBench({ keys = Number(process.env.RESTORE_BENCH_KEYS ?? 2000), sample = Number(process.env.RESTORE_BENCH_SAMPLE ?? 100), latency = Number(process.env.BENCH_LATENCY_MS ?? 40) } = {}) {
  if (!existsSync(`${root}dist/cli.js`)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const { tsImport } = await import('tsx/esm/api');
  const { startMoto } = await tsImport('../test/support/moto.ts', import.meta.url);
  const moto = await startMoto();
  let proxy;
  const aws = (await tsImport('../src/lib/aws/clients.ts', import.meta.url)).createAwsClients({ region: 'us-east-1', env: moto.env });
  try {
    const s3 = await aws.s3();
    const cmds = await import('@aws-sdk/client-s3');
    await s3.send(new cmds.CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new cmds.PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
    const big = await seed(s3, cmds, keys);
    const small = await seed(s3, cmds, sample);
    const bigPrefix = `${big.customer}/${big.ticket}/`;
    const smallPrefix = `${small.customer}/${small.ticket}/`;
    const before = [await dataVersions(s3, cmds, bigPrefix), await dataVersions(s3, cmds, smallPrefix)];

    proxy = await startLatencyProxy({ target: moto.endpoint, delayMs: latency, cache: false });
    const env = { ...process.env, ...moto.env, AWS_ENDPOINT_URL: proxy.url, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' };
    const serial = await cli(env, ['--customer', small.customer, '--ticket', small.ticket, '--concurrency', '1']);
    const concurrent = await cli(env, ['--customer', big.customer, '--ticket', big.ticket]);

    const after = [await dataVersions(s3, cmds, bigPrefix), await dataVersions(s3, cmds, smallPrefix)];
    const unchanged = after.every((a, i) => a.markers === 0 && JSON.stringify(a.data) === JSON.stringify(before[i].data));
    const restored = concurrent.doc.summary.restored === keys && serial.doc.summary.restored === sample;
    const serialEstimate = (serial.seconds / sample) * keys;
    const speedup = serialEstimate / concurrent.seconds;
    return [
      {
        metric: `attachments restore: ${keys} deleted keys at ${latency} ms a request`,
        value: `${concurrent.seconds.toFixed(1)} s (${(keys / concurrent.seconds).toFixed(0)} keys/s) vs ${serialEstimate.toFixed(0)} s one at a time (${sample} keys measured, ${((serial.seconds / sample) * 1000).toFixed(0)} ms a key): ${speedup.toFixed(1)}×; data versions ${unchanged ? 'unchanged, no marker left' : 'CHANGED'}`,
        unit: '',
        goal: '≥ 10×, versions unchanged',
        ok: speedup >= 10 && unchanged && restored,
      },
    ];
  } finally {
    aws.destroy();
    await proxy?.close();
    await moto.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await restoreBench()) console.log(`${r.metric}: ${r.value} (goal ${r.goal}: ${r.ok ? 'ok' : 'MISSED'})`);
}
