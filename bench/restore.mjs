// `raxx-ops attachments restore` of a ticket whose files were all deleted, through the latency
// model of S3 (bench/latency-proxy.mjs, 40 ms a request, no cache: every listing follows the
// writes). Two sides, both must leave the data versions exactly as they were, no marker left:
// - raxx-ops: the command as shipped, in its own process (start-up counted) on
//   RESTORE_BENCH_KEYS (2,000) keys: the listing, DeleteObjects requests (32 in flight), the
//   listing again to check what reads;
// - one key at a time: what restore did before it batched, and what the runbook does by hand
//   plus a check, in this process with the same S3 client settings through the same proxy:
//   the prefix's versions listed, then per key a DeleteObject of its delete marker by version
//   id and a HeadObject that the newest data version reads. Measured on a sample
//   (RESTORE_BENCH_SAMPLE, 100 keys): its per-key time times the keys, plus the time of
//   listing the big prefix itself (measured, read-only, before the raxx-ops run).
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

async function listAll(s3, cmds, prefix) {
  const entries = [];
  let KeyMarker;
  let VersionIdMarker;
  do {
    const res = await s3.send(new cmds.ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: prefix, KeyMarker, VersionIdMarker }));
    for (const v of res.Versions ?? []) entries.push({ key: v.Key, id: v.VersionId, marker: false, latest: v.IsLatest, at: v.LastModified.getTime() });
    for (const m of res.DeleteMarkers ?? []) entries.push({ key: m.Key, id: m.VersionId, marker: true, latest: m.IsLatest, at: m.LastModified.getTime() });
    KeyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
    VersionIdMarker = res.IsTruncated ? res.NextVersionIdMarker : undefined;
  } while (KeyMarker);
  return entries;
}

/** The per-key path, one key at a time; returns the seconds taken after the listing and the keys restored. */
async function oneAtATime(s3, cmds, prefix) {
  const byKey = new Map();
  for (const e of await listAll(s3, cmds, prefix)) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  const t = performance.now();
  let restored = 0;
  for (const [key, entries] of byKey) {
    if (!entries.find((e) => e.latest)?.marker) continue;
    const newest = entries.filter((e) => !e.marker).sort((a, b) => b.at - a.at)[0];
    for (const m of entries.filter((e) => e.marker && e.at > newest.at)) await s3.send(new cmds.DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: m.id }));
    const head = await s3.send(new cmds.HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    if (head.VersionId !== newest.id) throw new Error(`${key}: ${head.VersionId} reads, not ${newest.id}`);
    restored += 1;
  }
  return { seconds: (performance.now() - t) / 1000, restored };
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
  let proxied;
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
    proxied = (await tsImport('../src/lib/aws/clients.ts', import.meta.url)).createAwsClients({ region: 'us-east-1', env });
    const s3p = await proxied.s3();
    const serial = await oneAtATime(s3p, cmds, smallPrefix);
    const t = performance.now();
    await listAll(s3p, cmds, bigPrefix);
    const bigListing = (performance.now() - t) / 1000;
    const concurrent = await cli(env, ['--customer', big.customer, '--ticket', big.ticket]);

    const after = [await dataVersions(s3, cmds, bigPrefix), await dataVersions(s3, cmds, smallPrefix)];
    const unchanged = after.every((a, i) => a.markers === 0 && JSON.stringify(a.data) === JSON.stringify(before[i].data));
    const restored = concurrent.doc.summary.restored === keys && serial.restored === sample;
    const perKey = serial.seconds / sample;
    const serialEstimate = bigListing + perKey * keys;
    const speedup = serialEstimate / concurrent.seconds;
    return [
      {
        metric: `attachments restore: ${keys} deleted keys at ${latency} ms a request`,
        value: `${concurrent.seconds.toFixed(1)} s (${(keys / concurrent.seconds).toFixed(0)} keys/s) vs ${serialEstimate.toFixed(0)} s one at a time (listing ${bigListing.toFixed(1)} s + ${(perKey * 1000).toFixed(0)} ms a key, ${sample} keys measured): ${speedup.toFixed(1)}×; data versions ${unchanged ? 'unchanged, no marker left' : 'CHANGED'}`,
        unit: '',
        goal: '≥ 10×, versions unchanged',
        ok: speedup >= 10 && unchanged && restored,
      },
    ];
  } finally {
    aws.destroy();
    proxied?.destroy();
    await proxy?.close();
    await moto.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await restoreBench()) console.log(`${r.metric}: ${r.value} (goal ${r.goal}: ${r.ok ? 'ok' : 'MISSED'})`);
}
