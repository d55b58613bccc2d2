// `raxx-ops logs fetch` memory: one large drain object (FETCH_BENCH_MB of Logplex text,
// default 50, gzipped with the receiver's framing and key layout) fetched from moto to stdout,
// and the same at a quarter of the size. Peak RSS of the raxx-ops process for each: memory
// follows the object's bytes held once (its gzip and its verified text), not its lines as
// strings. The output is counted, and compared with the object's own text.
//
// Standalone: `npm run build && node bench/fetch.mjs`; bench/run.mjs adds its rows to the
// table. Returns rows { metric, value, unit, goal, ok }.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { frame } from '@raxx/log-format/logplex';
import { buildObjectKey } from '@raxx/log-format/object-key';
import { message, rng } from './seed.mjs';
import { root, watchPeakRss, withBenchMoto } from './support.mjs';

const MB = 1024 * 1024;
const BUCKET = 'raxx-bench-fetch';
const APP = 'raxx-bench-fetch';

/** About `bytes` of Logplex frames, and the text `logs fetch` prints for them (octet counts dropped). */
function object(bytes, day, seed) {
  const rand = rng(seed);
  const t0 = Date.parse(`${day}T12:00:00Z`);
  const msgs = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const m = message(rand, new Date(t0 + i).toISOString().replace('Z', '+00:00'), i);
    msgs.push(m);
    size += m.length + 4;
  }
  const body = Buffer.from(frame(msgs));
  const shown = createHash('sha256');
  for (const m of msgs) shown.update(m);
  return { gz: gzipSync(body), text: body.length, lines: msgs.length, sha256: shown.digest('hex'), epochMs: t0 };
}

/** `logs fetch` of one day to a pipe read as fast as it is written; resolves with its peak RSS. */
function fetchDay(env, day) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn('node', ['bin/raxx-ops', 'logs', 'fetch', '--app', APP, '--date', day], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const sha = createHash('sha256');
    let bytes = 0;
    let err = '';
    const rss = watchPeakRss(child.pid, 20);
    child.stdout.on('data', (d) => {
      bytes += d.length;
      sha.update(d);
    });
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.on('close', (code) => {
      const peak = rss.stop();
      if (code !== 0) return reject(new Error(`logs fetch exited ${code}: ${err}`));
      resolve({ rssMb: peak, seconds: (performance.now() - t) / 1000, bytes, sha256: sha.digest('hex') });
    });
  });
}

export default async function fetchBench({ megabytes = Number(process.env.FETCH_BENCH_MB ?? 50) } = {}) {
  return withBenchMoto('raxx-bench-fetch-', { apps: [APP], drain: { bucket: BUCKET, retentionDays: 3650 } }, async ({ env, moto }) => {
    await fetch(`${moto.endpoint}/${BUCKET}`, { method: 'PUT' });
    const sizes = [
      { day: '2025-06-01', mb: Math.max(1, Math.round(megabytes / 4)) },
      { day: '2025-06-02', mb: megabytes },
    ];
    const runs = [];
    for (const { day, mb } of sizes) {
      const o = object(mb * MB, day, mb);
      const key = buildObjectKey({ prefix: 'logs/', app: APP, epochMs: o.epochMs, id: `bench-fetch-${mb}` });
      const put = await fetch(`${moto.endpoint}/${BUCKET}/${key}`, { method: 'PUT', body: o.gz });
      if (!put.ok) throw new Error(`PUT ${key}: HTTP ${put.status}`);
      const r = await fetchDay(env, day);
      runs.push({ ...o, ...r, mb, same: r.sha256 === o.sha256 });
    }
    const [small, big] = runs;
    const value = (r) => `${r.rssMb.toFixed(0)} MB (${(r.text / MB).toFixed(0)} MiB of text, ${(r.gz.length / MB).toFixed(1)} MiB gzipped, ${r.lines} lines; ${r.seconds.toFixed(1)} s; output ${r.same ? 'identical to the object' : 'DIFFERS from the object'})`;
    return [
      { metric: `fetch: peak RSS, one object of ${small.mb} MiB`, value: value(small), unit: '', goal: 'output = object', ok: small.same },
      { metric: `fetch: peak RSS, one object of ${big.mb} MiB`, value: `${value(big)}; ${(big.rssMb / small.rssMb).toFixed(2)}× of the small one`, unit: '', goal: '< 200 MB, output = object', ok: big.rssMb < 200 && big.same },
    ];
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await fetchBench()) console.log(`${r.metric}: ${r.value} (goal ${r.goal}: ${r.ok ? 'ok' : 'MISSED'})`);
}
