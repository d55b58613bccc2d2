// `raxx-ops logs tail` latency: how long after a batch is posted to the receiver its line is
// printed by a running tail. The receiver (`raxx-ops receiver serve`) writes into moto, and
// the tail reads it, both through the latency model at 40 ms per request with no cache (the
// bucket changes while this runs). 200 batches are posted at random gaps; each carries its
// post time, and the tail's stdout is read as it comes.
//
// Standalone: `npm run build && node bench/tail.mjs` (TAIL_BENCH_POSTS, default 200);
// bench/run.mjs adds its rows to the table. Returns rows { metric, value, unit, goal, ok }.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startLatencyProxy } from './latency-proxy.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const POSTS = Number(process.env.TAIL_BENCH_POSTS ?? 200);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 40);
const INTERVAL_MS = 2_000;
const BUCKET = 'raxx-bench-tail';
const APP = 'raxx-bench-tail';
const TOKEN = 'bench-tail-token-8c1d2e3f4a5b6c7d';

function cli(args, env) {
  return spawn(process.execPath, [`${root}bin/raxx-ops`, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves with the first stderr line matching `re` (the process says it is ready). */
function waitFor(child, re, what) {
  return new Promise((resolve, reject) => {
    let err = '';
    const onData = (d) => {
      err += d;
      const m = re.exec(err);
      if (m) {
        child.stderr.off('data', onData);
        resolve(m);
      }
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${what} exited ${code}: ${err.slice(-2000)}`)));
  });
}

export async function tailBench({ startMoto }) {
  const { frame } = await import('@raxx/log-format/logplex');
  const moto = await startMoto();
  const proxy = await startLatencyProxy({ target: moto.env.AWS_ENDPOINT_URL, delayMs: LATENCY, cache: false });
  const children = [];
  let dir;
  try {
    const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({ region: 'us-east-1', endpoint: moto.env.AWS_ENDPOINT_URL, forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
    const env = { ...moto.env, AWS_ENDPOINT_URL: proxy.url, NO_COLOR: '1', RAXX_OPS_CONFIG: '' };
    const config = JSON.stringify({ drain: { bucket: BUCKET }, apps: [APP] });
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    dir = await mkdtemp(`${tmpdir()}/raxx-bench-tail-`);
    const configFile = `${dir}/config.json`;
    await writeFile(configFile, config);

    const receiver = cli(['receiver', 'serve', '--port', '0', '--config', configFile], { ...env, DRAIN_TOKEN: TOKEN, BUCKET_NAME: BUCKET });
    children.push(receiver);
    const [, url] = await waitFor(receiver, /listening on (http:\/\/\S+?)\/?\s/, 'receiver');

    // One batch first: tail refuses an app that never had an object (a misspelt name).
    const warm = await fetch(`${url}/?app=${APP}&token=${TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/logplex-1', 'logplex-msg-count': '1' }, body: frame([`<190>1 ${new Date().toISOString().replace('Z', '+00:00')} host app web.1 - warm-up\n`]) });
    if (warm.status !== 200) throw new Error(`receiver answered ${warm.status}`);
    const tail = cli(['logs', 'tail', '--app', APP, '-n', '0', '--interval', `${INTERVAL_MS}ms`, '--config', configFile], env);
    children.push(tail);
    await waitFor(tail, /tailing /, 'tail');
    const seenAt = new Map();
    let buffered = '';
    tail.stdout.setEncoding('utf8');
    tail.stdout.on('data', (d) => {
      buffered += d;
      let i;
      while ((i = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        const m = / bench-seq=(\d+) /.exec(line);
        if (m) seenAt.set(Number(m[1]), performance.now());
      }
    });
    // Let the first poll settle before posting.
    await new Promise((r) => setTimeout(r, INTERVAL_MS + 500));

    const postedAt = new Map();
    for (let seq = 0; seq < POSTS; seq++) {
      const ts = new Date().toISOString().replace('Z', '+00:00');
      const body = frame([`<190>1 ${ts} host app web.1 - bench-seq=${seq} tail latency probe\n`]);
      const t = performance.now();
      const res = await fetch(`${url}/?app=${APP}&token=${TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/logplex-1', 'logplex-msg-count': '1' }, body });
      if (res.status !== 200) throw new Error(`receiver answered ${res.status}`);
      postedAt.set(seq, t);
      // Gaps of 50-250 ms: posts fall everywhere in the poll interval.
      await new Promise((r) => setTimeout(r, 50 + ((seq * 7919) % 200)));
    }
    const deadline = performance.now() + 4 * INTERVAL_MS + 5_000;
    while (seenAt.size < POSTS && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const latencies = [...postedAt].filter(([seq]) => seenAt.has(seq)).map(([seq, t]) => seenAt.get(seq) - t).sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
    // A poll is a listing; a new object then costs one GET: two round trips of the model,
    // plus the receiver's PUT before the object exists, and 100 ms for the processes.
    const budget = INTERVAL_MS + 3 * LATENCY + 100;
    return [
      { metric: `logs tail: batches posted to the receiver and printed (of ${POSTS})`, value: `${seenAt.size}`, goal: `${POSTS}`, ok: seenAt.size === POSTS },
      { metric: `logs tail: post → printed, p50 / p95 / max (interval ${INTERVAL_MS} ms, ${LATENCY} ms per request)`, value: `${pct(50).toFixed(0)} / ${pct(95).toFixed(0)} / ${latencies.at(-1)?.toFixed(0)} ms`, goal: `p95 ≤ ${budget} ms`, ok: pct(95) <= budget },
    ];
  } finally {
    for (const c of children) c.kill('SIGINT');
    if (dir) await (await import('node:fs/promises')).rm(dir, { recursive: true, force: true });
    await proxy.close();
    await moto.stop();
  }
}

/** For bench/run.mjs: its rows. */
export default async function rows() {
  const { tsImport } = await import('tsx/esm/api');
  const { startMoto } = await tsImport('../test/support/moto.ts', import.meta.url);
  return tailBench({ startMoto });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (!existsSync(`${root}dist/cli.js`)) {
    console.error('dist/cli.js is missing: run `npm run build` first');
    process.exit(3);
  }
  for (const r of await rows()) console.log(`${r.metric}: ${r.value}${r.goal ? ` (goal ${r.goal}: ${r.ok ? 'ok' : 'MISSED'})` : ''}`);
}
