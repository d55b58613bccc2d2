// npm run bench:months (also the last part of npm run bench): a month of one app's drain
// objects, searched raw and compacted, through the same S3 latency model, in one run:
//   - `logs grep` over the month reading raw objects (--no-compacted) vs compacted days, read
//     both on the embedded engine (--engine duckdb, their Parquet) and from lines.gz;
//   - `logs query` counting 5xx by hour over the month on the embedded engine, and which files
//     it planned over (Parquet only, once the month is compacted).
// `logs compact` runs between the two (its time is reported, not judged).
//
// Environment knobs: BENCH_LATENCY_MS (40), BENCH_MONTH_DAYS (30), BENCH_MONTH_OBJECTS (2000
// per day), BENCH_MONTH_LINES (50).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startLatencyProxy } from './latency-proxy.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const num = (name, dflt) => Number(process.env[name] ?? dflt);
const LATENCY = num('BENCH_LATENCY_MS', 40);
const DAYS = num('BENCH_MONTH_DAYS', 30);
const OBJECTS = num('BENCH_MONTH_OBJECTS', 2000);
const LINES = num('BENCH_MONTH_LINES', 50);
const BUCKET = 'raxx-bench-month';
const APP = 'raxx-bench-month';
const PATTERN = 'status=50[34] ';
const FIRST = Date.parse('2025-05-01T00:00:00Z');
const started = Date.now();
const log = (msg) => process.stderr.write(`[months ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${msg}\n`);

function run(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('node', ['bin/raxx-ops', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-20000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`raxx-ops ${args.slice(0, 2).join(' ')} exited ${code}: ${err.slice(-2000)}`));
      else resolve({ seconds, out, err });
    });
  });
}

/**
 * What no reader of the compacted month can beat on this machine, with the files already on
 * local disk: inflating every lines.gz (on zlib's thread pool, one file per core), and the engine's
 * count query over every Parquet file; and node's own start. The ratios' ceiling.
 */
async function monthFloor({ endpoint, work, days }) {
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { createGunzip } = await import('node:zlib');
  const { createReadStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const { Writable } = await import('node:stream');
  const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const lines = [];
  const parquet = [];
  for (let d = 0; d < days; d++) {
    const day = new Date(FIRST + d * 86_400_000).toISOString().slice(0, 10);
    for (const [kind, list, file] of [['lines', lines, 'lines.gz'], ['parquet', parquet, 'records.parquet']]) {
      const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `compacted/${kind}/app=${APP}/day=${day}/${file}` })).catch(() => undefined);
      if (!res) continue;
      const path = join(work, `${day}-${file}`);
      await writeFile(path, Buffer.from(await res.Body.transformToByteArray()));
      list.push(path);
    }
  }
  // Streamed and discarded, two files at a time (one per core): 30 whole-file gunzips at once
  // measured the allocator, not zlib (5.0 s, more than the lines.gz grep itself).
  let t0 = performance.now();
  let next = 0;
  const inflateOne = (f) => pipeline(createReadStream(f), createGunzip(), new Writable({ write: (_c, _e, done) => done() }));
  await Promise.all([0, 1].map(async () => { while (next < lines.length) await inflateOne(lines[next++]); }));
  const inflateSeconds = (performance.now() - t0) / 1000;
  let engineSeconds = NaN;
  try {
    t0 = performance.now();
    const duck = await import('@duckdb/node-api');
    const inst = await duck.DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    const files = parquet.map((f) => `'${f}'`).join(', ');
    await conn.runAndReadAll(`SELECT key, count(*) FROM read_parquet([${files}]) WHERE contains(line, 'status=50') AND regexp_matches(line, '${PATTERN}') GROUP BY key`);
    engineSeconds = (performance.now() - t0) / 1000;
    conn.closeSync();
  } catch {
    // Without the engine its floor is not measured.
  }
  t0 = performance.now();
  await new Promise((resolve) => spawn('node', ['-e', '0']).on('close', resolve));
  return { inflate: inflateSeconds, engine: engineSeconds, start: (performance.now() - t0) / 1000 };
}

export default async function months() {
  if (!existsSync(join(root, 'dist/cli.js'))) throw new Error('dist/cli.js is missing: npm run build first');
  const { seedDay, primeCache } = await import('./seed.mjs');
  const { tsImport } = await import('tsx/esm/api');
  const { startMoto } = await tsImport('../test/support/moto.ts', import.meta.url);
  const moto = await startMoto();
  const proxy = await startLatencyProxy({ target: moto.endpoint, delayMs: 0 });
  const work = await mkdtemp(join(tmpdir(), 'raxx-bench-months-'));
  try {
    const config = join(work, 'raxx-ops.json');
    await writeFile(config, JSON.stringify({ apps: [APP], drain: { bucket: BUCKET, retentionDays: 3650 } }));
    const env = { ...moto.env, AWS_ENDPOINT_URL: proxy.url, RAXX_OPS_CONFIG: config, NO_COLOR: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    let matches = 0;
    const keys = [];
    for (let d = 0; d < DAYS; d++) {
      const day = new Date(FIRST + d * 86_400_000).toISOString().slice(0, 10);
      const s = await seedDay({ endpoint: moto.endpoint, bucket: BUCKET, app: APP, day, objects: OBJECTS, lines: LINES, pattern: PATTERN, create: d === 0 });
      matches += s.matches;
      keys.push(...s.keys);
      if (d % 5 === 4) log(`seeded ${d + 1}/${DAYS} days`);
    }
    await primeCache({ endpoint: proxy.url, bucket: BUCKET, keys });
    log(`seeded and primed ${keys.length} objects; ${matches} lines match`);
    const since = new Date(FIRST).toISOString().slice(0, 10);
    const until = new Date(FIRST + DAYS * 86_400_000).toISOString().slice(0, 10);
    const window = ['--since', since, '--until', until];

    // Every measured run reads what an unmeasured pass at 0 ms put in the S3 model's cache (the
    // listings, and after compact the compacted objects), as bench/run.mjs does: moto's own
    // pace is not S3's, and neither side of a ratio should pay for it.
    const grepRaw = ['logs', 'grep', PATTERN, '--app', APP, ...window, '--no-compacted', '-c'];
    await run(grepRaw, env);
    proxy.setDelay(LATENCY);
    const raw = await run(grepRaw, env);
    log(`grep over raw objects: ${raw.seconds.toFixed(2)} s, ${raw.out.trim()} matches`);
    const compact = await run(['logs', 'compact', '--app', APP, ...window, '--debug'], env);
    // With the embedded engine installed, compact writes Parquet beside the records (logs query reads it).
    const parquet = /writing Parquet/.test(compact.err);
    log(`compact: ${compact.seconds.toFixed(2)} s (${parquet ? 'with' : 'without'} Parquet)`);
    // Compacted days read both ways: on the embedded engine (its Parquet) and from lines.gz.
    const grepEngine = ['logs', 'grep', PATTERN, '--app', APP, ...window, '-c', '--debug', '--engine', parquet ? 'duckdb' : 'lines'];
    const grepLines = ['logs', 'grep', PATTERN, '--app', APP, ...window, '-c', '--debug', '--engine', 'lines'];
    const sql = "SELECT date_trunc('hour', time) AS h, count(*) AS n FROM logs WHERE status >= 500 GROUP BY 1 ORDER BY 1";
    const queryArgs = ['logs', 'query', sql, '--app', APP, ...window, '--format', 'csv'];
    proxy.setDelay(0);
    await run(grepEngine, env);
    await run(grepLines, env);
    await run([...queryArgs, '--debug'], env);
    proxy.setDelay(LATENCY);
    const engine = await run(grepEngine, env);
    const byEngine = (/(\d+) of them by the embedded engine/.exec(engine.err) ?? [])[1] ?? '0';
    log(`grep over compacted days, embedded engine: ${engine.seconds.toFixed(2)} s, ${engine.out.trim()} matches, ${byEngine} day(s) by the engine`);
    const lines = await run(grepLines, env);
    log(`grep over compacted days, lines.gz: ${lines.seconds.toFixed(2)} s, ${lines.out.trim()} matches`);
    const query = await run([...queryArgs, '--debug'], env);
    const fivexx = query.out.trim().split('\n').slice(1).reduce((n, l) => n + Number(l.split(',')[1]), 0);
    // What the month's query read: Parquet files only, no JSON records, no raw object.
    const plan = /query: (\d+) Parquet file\(s\), (\d+) JSON-lines file\(s\)/.exec(query.err);
    const parquetOnly = plan !== null && Number(plan[1]) >= DAYS && plan[2] === '0';
    log(`query 5xx by hour: ${query.seconds.toFixed(2)} s, ${fivexx} 5xx lines; ${plan ? `${plan[1]} Parquet, ${plan[2]} JSON-lines file(s)` : 'no plan line'}`);
    const floor = await monthFloor({ endpoint: moto.endpoint, work, days: DAYS });
    log(`floor: inflate every lines.gz ${floor.inflate.toFixed(2)} s; the engine's count over local Parquet ${floor.engine.toFixed(2)} s; node start ${floor.start.toFixed(2)} s`);
    const counts = [raw, engine, lines].map((r) => r.out.trim());
    const same = counts.every((c) => Number(c) === matches);
    const ratio = (r) => raw.seconds / r.seconds;
    return [
      { metric: `month (${DAYS} d × ${OBJECTS} objects): grep raw objects`, value: raw.seconds.toFixed(2), unit: 's', goal: '', ok: true },
      { metric: `month: logs compact (${parquet ? 'records and Parquet' : 'records only: DuckDB not installed'})`, value: compact.seconds.toFixed(2), unit: 's', goal: '', ok: true },
      { metric: `month: grep compacted days, embedded engine (${byEngine} of ${DAYS} days)`, value: engine.seconds.toFixed(2), unit: 's', goal: '', ok: parquet && Number(byEngine) === DAYS },
      { metric: 'month: grep compacted days, lines.gz', value: lines.seconds.toFixed(2), unit: 's', goal: '', ok: true },
      { metric: 'month floor: gunzip every lines.gz, local files, both cores (no S3, no search)', value: floor.inflate.toFixed(2), unit: 's', goal: '', ok: true },
      { metric: "month floor: the engine's -c query over local Parquet (no S3, incl. loading it)", value: floor.engine.toFixed(2), unit: 's', goal: '', ok: true },
      { metric: 'month floor: node start (node -e 0)', value: floor.start.toFixed(2), unit: 's', goal: '', ok: true },
      { metric: 'month: best raw / compacted the floors allow (lines.gz, engine)', value: `${(raw.seconds / (floor.start + floor.inflate)).toFixed(1)}×, ${(raw.seconds / (floor.start + floor.engine)).toFixed(1)}×`, unit: '', goal: '', ok: true },
      { metric: 'month: grep raw / compacted, embedded engine', value: `${ratio(engine).toFixed(1)}×`, unit: '', goal: '≥ 20×', ok: ratio(engine) >= 20 },
      { metric: 'month: grep raw / compacted, lines.gz', value: `${ratio(lines).toFixed(1)}×`, unit: '', goal: '≥ 20×', ok: ratio(lines) >= 20 },
      { metric: 'month: match counts equal (expected, raw, engine, lines.gz)', value: `${matches}, ${counts.join(', ')}`, unit: '', goal: 'equal', ok: same },
      { metric: 'month: logs query 5xx by hour', value: query.seconds.toFixed(2), unit: 's', goal: '≤ 1 s', ok: query.seconds <= 1 },
      { metric: 'month: logs query read Parquet files only', value: plan ? `${plan[1]} Parquet, ${plan[2]} JSON-lines` : 'unknown', unit: '', goal: 'Parquet only', ok: parquetOnly },
    ];
  } finally {
    await proxy.close();
    await moto.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await months();
  for (const r of rows) process.stdout.write(`${r.ok ? 'ok ' : 'MISS'}  ${r.metric}: ${r.value}${r.unit ? ` ${r.unit}` : ''}${r.goal ? ` (goal ${r.goal})` : ''}\n`);
}
