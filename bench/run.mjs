// npm run bench: `raxx-ops logs grep` over app-days of the drain bucket (2,000 and 10,000
// objects) against the tools an operator has, on the same objects with the same pattern, in
// one run, at a modelled S3 latency (bench/latency-proxy.mjs: per-request delay and a new
// connection's handshakes):
//   - rclone `copy --transfers 64` and `--transfers 256`, then `zcat | grep` (rclone comes
//     from Debian's packages: installed with apt-get when missing and possible);
//   - the floor: list + GET of every object at the concurrency grep chose, no decompression;
//   - on the 2,000-object day: `aws s3 sync` + `zcat | grep`, the runbook loop (`aws s3 cp … -
//     | gunzip | grep` per key, over a sample, extrapolated), and grep at a fixed concurrency;
// the 2,000-object day also at 0 ms (moto as it is); peak memory, start-up, and the receiver's
// rows when bench/receiver.mjs exists. Prints one table and writes it to bench/RESULTS.md.
//
// Environment knobs: BENCH_LATENCY_MS (40), BENCH_OBJECTS (2000), BENCH_BIG_OBJECTS (10000),
// BENCH_LINES (50), BENCH_LOOP_SAMPLE (6), BENCH_SKIP_AWS=1, BENCH_SKIP_RCLONE=1, SHIP_BENCH_MB (1024: bench/ship.mjs),
// SHIP_BENCH_NOLINE_MB (2048), FETCH_BENCH_MB (50: bench/fetch.mjs), RESTORE_BENCH_KEYS (2000) / RESTORE_BENCH_SAMPLE (100: bench/restore.mjs),
// TAIL_BENCH_POSTS (200: bench/tail.mjs), BENCH_SKIP_MONTHS=1, BENCH_MONTH_DAYS / BENCH_MONTH_OBJECTS (bench/months.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLatencyProxy } from './latency-proxy.mjs';
import { watchPeakRss } from './support.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = (name, dflt) => Number(process.env[name] ?? dflt);
const LATENCY = env('BENCH_LATENCY_MS', 40);
const OBJECTS = env('BENCH_OBJECTS', 2000);
const BIG = env('BENCH_BIG_OBJECTS', 10000);
const LINES = env('BENCH_LINES', 50);
const SAMPLE = env('BENCH_LOOP_SAMPLE', 6);
/** Fixed concurrencies grep is also run at on the small day, for reference. */
const FIXED = [64, 256];
const TRANSFERS = [64, 256];
const BUCKET = 'raxx-bench-logs';
const DAY = '2025-06-02';
const APP = 'raxx-bench-day';
const BIG_APP = 'raxx-bench-big';
// Valid as a JavaScript regex and as `grep -E`; about 1 line in 100 of the seeded data.
const PATTERN = 'status=50[34] ';
const started = Date.now();

const log = (msg) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${msg}\n`);

if (!existsSync(join(root, 'dist/cli.js'))) {
  console.error('dist/cli.js is missing: run `npm run build` first (npm run bench does)');
  process.exit(3);
}
// seed.mjs imports the receiver's build, so only now that it is known to exist.
const { seedDay, primeCache } = await import('./seed.mjs');

const { tsImport } = await import('tsx/esm/api');
const { startMoto, motoAvailable } = await tsImport('../test/support/moto.ts', import.meta.url);
if (!motoAvailable) {
  const { MOTO_INSTALL_HINT } = await tsImport('../test/support/moto-command.ts', import.meta.url);
  console.error(`moto_server is needed for the benchmark. ${MOTO_INSTALL_HINT}`);
  process.exit(3);
}

// ---------------------------------------------------------------- processes and timing

/** Run a command; resolve with wall time, peak RSS (MB, via /usr/bin/time when present), stdout line count. */
function measure(cmd, args, { env: extra = {}, shell = false, countLines = true } = {}) {
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const [file, argv] = shell ? ['bash', ['-o', 'pipefail', '-c', cmd]] : [cmd, args];
  const [f, a] = timeBin ? [timeBin, ['-f', '@@MAXRSS %M', file, ...argv]] : [file, argv];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(f, a, { cwd: root, env: { ...process.env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let out = '';
    let err = '';
    let peak = 0;
    child.stdout.on('data', (d) => {
      if (countLines) {
        for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines += 1;
      } else out += d;
    });
    child.stderr.on('data', (d) => {
      err = (err + d).slice(-20000);
    });
    // Without /usr/bin/time: poll the high-water mark of the child's resident set.
    const rss = timeBin ? undefined : watchPeakRss(child.pid, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      if (rss) peak = rss.stop() * 1024;
      const seconds = (performance.now() - t0) / 1000;
      const m = /@@MAXRSS (\d+)/.exec(err);
      if (m) peak = Number(m[1]);
      resolve({ code, seconds, rssMb: peak / 1024, lines, stdout: out, stderr: err.replace(/@@MAXRSS \d+\n?/, '') });
    });
  });
}

function check(r, what, okCodes = [0]) {
  if (!okCodes.includes(r.code)) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---------------------------------------------------------------- the AWS CLI

function findAws() {
  const seen = new Set();
  const found = [];
  for (const bin of ['/usr/bin/aws', 'aws']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const version = /aws-cli\/(\S+)/.exec(r.stdout + r.stderr)?.[1];
    if (!version || seen.has(version)) continue;
    seen.add(version);
    found.push({ bin, version, major: Number(version.split('.')[0]) });
  }
  return found.find((a) => a.major >= 2) ?? found[0];
}

const aws = process.env.BENCH_SKIP_AWS === '1' ? undefined : findAws();
const awsLabel = aws ? `aws-cli ${aws.version}${aws.major < 2 ? ' (v1: v2 not found)' : ''}` : 'not installed';

/** rclone's version, installing Debian's package first when it is missing and we may. */
function findRclone() {
  if (process.env.BENCH_SKIP_RCLONE === '1') return undefined;
  const version = () => /rclone (v\S+)/.exec(spawnSync('rclone', ['version'], { encoding: 'utf8' }).stdout ?? '')?.[1];
  if (version()) return version();
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    log('rclone is missing: apt-get install -y rclone');
    let r = spawnSync('apt-get', ['install', '-y', 'rclone'], { stdio: 'ignore' });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'ignore' });
      r = spawnSync('apt-get', ['install', '-y', 'rclone'], { stdio: 'ignore' });
    }
  }
  return version();
}
const rclone = findRclone();
const rcloneLabel = rclone ?? 'not installed (apt-get install rclone)';

// ---------------------------------------------------------------- set-up

log(`moto, ${OBJECTS} + ${BIG} objects × ${LINES} lines, modelled latency ${LATENCY} ms, AWS CLI: ${awsLabel}, rclone: ${rcloneLabel}`);
const moto = await startMoto();
const proxy = await startLatencyProxy({ target: moto.endpoint, delayMs: 0 });
const work = await mkdtemp(join(tmpdir(), 'raxx-bench-'));
const configPath = join(work, 'raxx-ops.json');
// The bench's day is fixed (the same bytes every run), so it may be older than the default retention.
await writeFile(configPath, JSON.stringify({ apps: [APP, BIG_APP], drain: { bucket: BUCKET, retentionDays: 3650 } }));
const awsConfig = join(work, 'aws-config');
await writeFile(awsConfig, '[default]\nregion = us-east-1\noutput = text\ns3 =\n  addressing_style = path\n');

const baseEnv = { ...moto.env, RAXX_OPS_CONFIG: configPath, AWS_CONFIG_FILE: awsConfig, AWS_SHARED_CREDENTIALS_FILE: join(work, 'none'), AWS_PAGER: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1', LC_ALL: 'C' };
const endpoints = [
  { label: '0 ms (moto)', latency: 0, url: moto.endpoint },
  { label: `${LATENCY} ms (S3 model)`, latency: LATENCY, url: proxy.url },
];

let results;
try {
  const t0 = Date.now();
  const day = await seedDay({ endpoint: moto.endpoint, bucket: BUCKET, app: APP, day: DAY, objects: OBJECTS, lines: LINES, pattern: PATTERN, create: true });
  const big = await seedDay({ endpoint: moto.endpoint, bucket: BUCKET, app: BIG_APP, day: DAY, objects: BIG, lines: LINES, pattern: PATTERN, create: false });
  log(`seeded ${day.keys.length + big.keys.length} objects in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${day.matches} lines match in the ${OBJECTS}-object day`);
  const t1 = Date.now();
  await primeCache({ endpoint: proxy.url, bucket: BUCKET, keys: [...day.keys, ...big.keys] });
  log(`primed the S3 model's cache with ${proxy.cached} objects in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  results = await runAll(day, big);
} finally {
  await proxy.close();
  await moto.stop();
  await rm(work, { recursive: true, force: true });
}
await report(results);

// ---------------------------------------------------------------- measurements

async function runAll(day, big) {
  const rows = {};
  /** grep with --debug: its stderr says the concurrency it chose. */
  const grep = async (endpoint, app, extra = []) => {
    const r = check(await measure('node', ['bin/raxx-ops', 'logs', 'grep', PATTERN, '--app', app, '--date', DAY, '--debug', ...extra], { env: { ...baseEnv, AWS_ENDPOINT_URL: endpoint } }), 'raxx-ops logs grep');
    r.concurrency = Number(/concurrency (?:chosen )?(\d+)/.exec(r.stderr)?.[1]);
    return r;
  };
  const floor = (endpoint, prefix, c, transport = 'lean') =>
    measure('node', ['bench/floor.mjs', '--bucket', BUCKET, '--prefix', prefix, '--concurrency', String(c), '--transport', transport], { env: { ...baseEnv, AWS_ENDPOINT_URL: endpoint }, countLines: false }).then((r) => check(r, 'floor'));
  const wire = (endpoint, prefix, c, client) =>
    measure('node', ['--conditions=source', '--import', 'tsx', 'bench/wire.mjs', '--bucket', BUCKET, '--prefix', prefix, '--concurrency', String(c), '--client', client], { env: { ...baseEnv, AWS_ENDPOINT_URL: endpoint }, countLines: false }).then((r) => check(r, `wire ${client}`));
  const best = async (runs, fn) => {
    let b;
    for (let i = 0; i < runs; i++) {
      const r = await fn();
      if (!b || r.seconds < b.seconds) b = { ...r, rssMb: Math.max(r.rssMb, b?.rssMb ?? 0) };
      else b.rssMb = Math.max(b.rssMb, r.rssMb);
    }
    return b;
  };
  const days = [
    { label: `${OBJECTS} objects`, app: APP, seed: day, small: true },
    { label: `${BIG} objects`, app: BIG_APP, seed: big, small: false },
  ];

  // Warm the S3 model: one unmeasured pass of every client at 0 ms fills the proxy's cache
  // with the listings each of them asks for (the objects are already there).
  proxy.setDelay(0);
  const model = endpoints[1].url;
  for (const d of days) {
    await grep(model, d.app);
    await floor(model, d.seed.prefix, 256);
    if (rclone) await rcloneAndGrep(model, d.seed, 256);
  }
  if (aws) {
    await awsRun(model, `"$AWS" --endpoint-url "$EP" s3 ls "s3://${BUCKET}/${day.prefix}" >/dev/null`);
    await syncAndGrep(model, day);
  }
  log(`warmed the S3 model's listings (${proxy.cached} responses cached)`);

  // 0 ms: moto as it is, the small day only (moto serialises requests: ~10 s a run).
  {
    const ep = endpoints[0];
    const row = (rows[ep.label] = { days: {} });
    const r = (row.days[days[0].label] = { day: days[0] });
    r.grep = await grep(ep.url, APP);
    r.concurrency = r.grep.concurrency;
    r.floor = await floor(ep.url, day.prefix, r.concurrency);
    r.floorObjects = JSON.parse(r.floor.stdout).objects;
    log(`${ep.label}: grep ${r.grep.seconds.toFixed(2)} s (concurrency ${r.concurrency}), floor ${r.floor.seconds.toFixed(2)} s`);
    if (aws) {
      row.loop = await runbookLoop(ep.url, day);
      row.sync = await syncAndGrep(ep.url, day);
      log(`${ep.label}: runbook loop ${row.loop.seconds.toFixed(0)} s extrapolated, aws s3 sync + zcat | grep ${row.sync.seconds.toFixed(2)} s`);
    }
  }

  // The S3 model.
  proxy.setDelay(LATENCY);
  const ep = endpoints[1];
  const row = (rows[ep.label] = { days: {} });
  for (const d of days) {
    const r = (row.days[d.label] = { day: d });
    // Best of two for the fast runs; the stand-in's own hiccups are not the tool's.
    r.grep = await best(2, () => grep(ep.url, d.app));
    r.concurrency = r.grep.concurrency;
    log(`${ep.label}, ${d.label}: grep ${r.grep.seconds.toFixed(2)} s at the concurrency it chose (${r.concurrency}), ${r.grep.lines} lines, ${r.grep.rssMb.toFixed(0)} MB`);
    r.floor = await best(2, () => floor(ep.url, d.seed.prefix, r.concurrency));
    r.floorObjects = JSON.parse(r.floor.stdout).objects;
    log(`${ep.label}, ${d.label}: floor ${r.floor.seconds.toFixed(2)} s (${r.floorObjects} objects, concurrency ${r.concurrency})`);
    // The wire alone, raxx-ops' s3-socket against undici's Pool: best of two each, by wall time.
    r.wire = {};
    for (const client of ['socket', 'undici']) {
      const runs = [];
      for (let i = 0; i < 2; i++) runs.push(JSON.parse((await wire(ep.url, d.seed.prefix, r.concurrency, client)).stdout));
      r.wire[client] = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      log(`${ep.label}, ${d.label}: wire ${client} ${r.wire[client].seconds.toFixed(2)} s, ${r.wire[client].cpuMs.toFixed(0)} ms CPU (${r.wire[client].objects} objects)`);
    }
    if (rclone) {
      r.rclone = [];
      for (const t of TRANSFERS) {
        const x = await rcloneAndGrep(ep.url, d.seed, t);
        r.rclone.push({ transfers: t, ...x });
        log(`${ep.label}, ${d.label}: rclone --transfers ${t} + zcat | grep ${x.seconds.toFixed(2)} s (${x.lines} lines)`);
      }
    }
    if (d.small) {
      r.fixed = [];
      for (const c of FIXED) {
        const x = await grep(ep.url, d.app, ['--concurrency', String(c)]);
        r.fixed.push({ c, seconds: x.seconds });
        log(`${ep.label}, ${d.label}: grep --concurrency ${c}: ${x.seconds.toFixed(2)} s`);
      }
      r.floorSdk = await floor(ep.url, d.seed.prefix, r.concurrency, 'sdk');
      log(`${ep.label}: floor with the SDK's GetObject ${r.floorSdk.seconds.toFixed(2)} s`);
      if (aws) {
        row.loop = await runbookLoop(ep.url, day);
        log(`${ep.label}: runbook loop ${row.loop.perObject.toFixed(3)} s/object → ${row.loop.seconds.toFixed(0)} s extrapolated`);
        row.sync = await syncAndGrep(ep.url, day);
        log(`${ep.label}: aws s3 sync + zcat | grep ${row.sync.seconds.toFixed(2)} s (${row.sync.lines} lines)`);
      }
    }
  }

  // Start-up.
  const startup = {};
  const times = async (cmd, args) => {
    const xs = [];
    for (let i = 0; i < 7; i++) xs.push((await measure(cmd, args, { env: baseEnv })).seconds);
    return median(xs);
  };
  startup.node = await times('node', ['-e', '0']);
  startup.help = await times('node', ['bin/raxx-ops', '--help']);
  if (aws) startup.aws = await times(aws.bin, ['--version']);
  log(`start-up: --help ${(startup.help * 1000).toFixed(0)} ms, node -e 0 ${(startup.node * 1000).toFixed(0)} ms${aws ? `, aws --version ${(startup.aws * 1000).toFixed(0)} ms` : ''}`);

  const receiver = await section('receiver', undefined);
  const ship = await section('ship', `logs ship: ${process.env.SHIP_BENCH_MB ?? 1024} MiB generated on stdin, peak memory`);
  const fetched = await section('fetch', `logs fetch: one object of ${process.env.FETCH_BENCH_MB ?? 50} MiB, peak memory`);
  const restore = await section('restore', 'attachments restore: 2,000 deleted keys, concurrent vs one at a time');
  const engine = await section('pattern', 'pattern engine: RE2JS vs RegExp');
  const tail = await section('tail', 'logs tail: a batch posted to the receiver until it is printed');
  const month = process.env.BENCH_SKIP_MONTHS === '1' ? [] : await section('months', 'a month of objects: grep raw vs compacted, logs query');
  return { rows, startup, receiver, ship: [...ship, ...fetched, ...restore, ...engine, ...tail, ...month], day, big };
}

/** The rows of bench/<name>.mjs (its default export), or one row saying it failed. */
async function section(name, note) {
  if (!existsSync(join(root, `bench/${name}.mjs`))) return [];
  if (note) log(note);
  try {
    return await (await import(`./${name}.mjs`)).default();
  } catch (err) {
    return [{ metric: `${name} bench`, value: `failed: ${err.message}`, unit: '', goal: '', ok: false }];
  }
}

/** `rclone copy --transfers T` of the day prefix into a fresh directory, then `zcat | grep`. */
async function rcloneAndGrep(endpoint, day, transfers) {
  const dir = await mkdtemp(join(work, 'rclone-'));
  // The remote from the environment alone; no CA bundle: the model is plain HTTP on loopback.
  const remote = { RCLONE_CONFIG: join(work, 'rclone.conf'), RCLONE_CONFIG_BENCH_TYPE: 's3', RCLONE_CONFIG_BENCH_PROVIDER: 'Other', RCLONE_CONFIG_BENCH_ENDPOINT: endpoint, RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: baseEnv.AWS_ACCESS_KEY_ID, RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: baseEnv.AWS_SECRET_ACCESS_KEY, RCLONE_CONFIG_BENCH_REGION: 'us-east-1', RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true', PAT: PATTERN };
  const r = check(
    await measure(`unset AWS_CA_BUNDLE; rclone copy --transfers ${transfers} "bench:${BUCKET}/${day.prefix}" "${dir}" && cd "${dir}" && { zcat -- *.gz | grep -E -- "$PAT" || true; }`, [], { shell: true, env: { ...baseEnv, ...remote } }),
    `rclone --transfers ${transfers} + zcat | grep`,
  );
  await rm(dir, { recursive: true, force: true });
  return r;
}

async function awsRun(endpoint, script) {
  return measure(script, [], { shell: true, env: { ...baseEnv, AWS_ENDPOINT_URL: endpoint, EP: endpoint, AWS: aws.bin, PAT: PATTERN } });
}

/** The runbook's loop over a sample of the day's keys: ls once, then cp | gunzip | grep per key. */
async function runbookLoop(endpoint, day) {
  const ls = check(await awsRun(endpoint, `"$AWS" --endpoint-url "$EP" s3 ls "s3://${BUCKET}/${day.prefix}" | wc -l`), 'aws s3 ls');
  const step = Math.floor(day.keys.length / SAMPLE);
  const sample = Array.from({ length: SAMPLE }, (_, i) => day.keys[i * step]);
  const loop = sample.map((k) => `"$AWS" --endpoint-url "$EP" s3 cp "s3://${BUCKET}/${k}" - | gunzip | grep -E -- "$PAT" || true`).join('\n');
  const r = check(await awsRun(endpoint, loop), 'runbook loop');
  const perObject = r.seconds / SAMPLE;
  const expected = sample.reduce((n, k) => n + day.matchesByKey.get(k), 0);
  return { seconds: ls.seconds + perObject * day.keys.length, perObject, lines: r.lines, expected, sample: SAMPLE };
}

/** `aws s3 sync` of the day prefix into a fresh directory, then `zcat | grep`. */
async function syncAndGrep(endpoint, day) {
  const dir = await mkdtemp(join(work, 'sync-'));
  const r = check(
    await awsRun(endpoint, `"$AWS" --endpoint-url "$EP" s3 sync --only-show-errors "s3://${BUCKET}/${day.prefix}" "${dir}" && cd "${dir}" && { zcat -- *.gz | grep -E -- "$PAT" || true; }`),
    'aws s3 sync + zcat | grep',
  );
  await rm(dir, { recursive: true, force: true });
  return r;
}

// ---------------------------------------------------------------- the table

async function report({ rows, startup, receiver, ship, day, big }) {
  const table = [];
  const add = (metric, value, goal, ok) => table.push({ metric, value, goal, ok });
  const s = (x) => `${x.toFixed(2)} s`;
  const ratio = (x) => `${x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)}×`;

  add('expected matching lines (computed from the seeded objects)', `${day.matches} in ${OBJECTS} objects; ${big.matches} in ${BIG}`, '', undefined);
  for (const ep of endpoints) {
    const row = rows[ep.label];
    const model = ep.latency > 0;
    for (const r of Object.values(row.days)) {
      const tag = `[${ep.label}, ${r.day.label}]`;
      const expected = r.day.seed.matches;
      add(`${tag} raxx-ops logs grep (concurrency it chose: ${r.concurrency})`, `${s(r.grep.seconds)}, ${r.grep.lines} lines`, `lines = ${expected}`, r.grep.lines === expected);
      add(`${tag} floor: list + signed GET of all, no gunzip (concurrency ${r.concurrency})`, `${s(r.floor.seconds)}, ${r.floorObjects} objects`, '', undefined);
      if (r.floorSdk) add(`${tag} the same floor with the SDK's GetObject (reference)`, s(r.floorSdk.seconds), '', undefined);
      if (model) {
        // The latency model alone: a listing round trip and the GETs' rounds at the chosen
        // concurrency, each new socket's first request paying two more (its handshakes).
        const rounds = 3 + 2 + Math.ceil(r.day.seed.keys.length / r.concurrency);
        add(`${tag} round trips alone at ${r.concurrency} (computed: ${rounds} × ${ep.latency} ms, no process, no CPU)`, s((rounds * ep.latency) / 1000), '', undefined);
      }
      if (r.wire) {
        const { socket, undici } = r.wire;
        add(`${tag} wire: s3-socket.ts, GET of all at ${r.concurrency} (wall, CPU)`, `${s(socket.seconds)}, ${socket.cpuMs.toFixed(0)} ms CPU`, '', undefined);
        add(`${tag} wire: undici Pool + @smithy/signature-v4, the same GETs (wall, CPU)`, `${s(undici.seconds)}, ${undici.cpuMs.toFixed(0)} ms CPU`, '', undefined);
        // The rule for keeping the hand-written client: undici more than 15% slower in wall time.
        const w = undici.seconds / socket.seconds;
        add(`${tag} wire: undici / s3-socket wall time (CPU ${ratio(undici.cpuMs / socket.cpuMs)})`, ratio(w), '> 1.15× keeps s3-socket', undefined);
      }
      const vsFloor = r.grep.seconds / r.floor.seconds;
      add(`${tag} grep / floor`, ratio(vsFloor), '≤ 1.3×', vsFloor <= 1.3);
      if (r.rclone) {
        for (const x of r.rclone) add(`${tag} rclone copy --transfers ${x.transfers} + zcat | grep`, `${s(x.seconds)}, ${x.lines} lines`, `lines = ${expected}`, x.lines === expected);
        const fastest = r.rclone.reduce((a, b) => (b.seconds < a.seconds ? b : a));
        const x = fastest.seconds / r.grep.seconds;
        add(`${tag} grep speed-up vs rclone at its best (--transfers ${fastest.transfers})`, ratio(x), model ? '≥ 1.5×' : '', model ? x >= 1.5 : undefined);
      } else if (model) {
        add(`${tag} rclone rows`, 'skipped: rclone not installed', '', undefined);
      }
      if (r.fixed) add(`${tag} grep at a fixed --concurrency`, r.fixed.map((x) => `${x.c}: ${x.seconds.toFixed(2)} s`).join(', '), '', undefined);
      if (model) add(`${tag} peak RSS of grep (max of its runs)`, `${r.grep.rssMb.toFixed(0)} MB`, '< 200 MB', r.grep.rssMb < 200);
    }
    const tag = `[${ep.label}, ${OBJECTS} objects]`;
    const grepSmall = Object.values(row.days)[0].grep;
    if (row.loop) {
      add(`${tag} runbook loop (aws s3 cp | gunzip | grep), ${row.loop.sample}-key sample extrapolated`, `${s(row.loop.seconds)} (${row.loop.perObject.toFixed(3)} s/key; sample lines ${row.loop.lines}, expected ${row.loop.expected})`, '', row.loop.lines === row.loop.expected);
      const x = row.loop.seconds / grepSmall.seconds;
      add(`${tag} grep speed-up vs runbook loop`, ratio(x), model ? '≥ 100×' : '≥ 50×', x >= (model ? 100 : 50));
      add(`${tag} aws s3 sync + zcat | grep`, `${s(row.sync.seconds)}, ${row.sync.lines} lines`, `lines = ${day.matches}`, row.sync.lines === day.matches);
      const y = row.sync.seconds / grepSmall.seconds;
      add(`${tag} grep speed-up vs aws s3 sync + zcat | grep`, ratio(y), model ? '≥ 4×' : '', model ? y >= 4 : undefined);
    } else {
      add(`${tag} runbook loop and aws s3 sync`, 'skipped: AWS CLI not installed', '', undefined);
    }
  }
  add('start-up: raxx-ops --help / node -e 0', `${ratio(startup.help / startup.node)} (${(startup.help * 1000).toFixed(0)} ms / ${(startup.node * 1000).toFixed(0)} ms)`, '< 2×', startup.help / startup.node < 2);
  if (startup.aws) add('start-up: raxx-ops --help / aws --version', `${ratio(startup.help / startup.aws)} (${(startup.aws * 1000).toFixed(0)} ms for aws)`, '< 1×', startup.help < startup.aws);
  for (const r of receiver) add(`receiver: ${r.metric}`, `${r.value}${r.unit ? ` ${r.unit}` : ''}`, r.goal ?? '', r.ok);
  for (const r of ship) add(r.metric, r.value, r.goal ?? '', r.ok);

  const mark = (ok) => (ok === undefined ? '' : ok ? 'ok' : 'MISSED');
  const head = ['metric', 'value', 'goal', ''];
  const body = table.map((r) => [r.metric, r.value, r.goal, mark(r.ok)]);
  const widths = head.map((_, i) => Math.max(head[i].length, ...body.map((b) => String(b[i]).length)));
  const text = [head, widths.map((w) => '-'.repeat(w)), ...body].map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd()).join('\n');
  console.log(text);

  const motoVersion = spawnSync('python3', ['-c', 'import moto; print(moto.__version__)'], { encoding: 'utf8' }).stdout.trim() || 'unknown';
  const md = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.mjs); the numbers of one run on one machine. Review the',
    'ratios, not the seconds: they compare tools on the same objects, pattern and machine.',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} CPU (${cpus()[0]?.model?.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${process.platform} ${process.arch}`,
    // CPU-bound rows (grep, the floor, rclone) slow down differently when other work shares the CPUs.
    `- load average at the end of the run (1, 5, 15 min): ${loadavg().map((x) => x.toFixed(1)).join(', ')} on ${cpus().length} CPUs`,
    `- versions: node ${process.version}, moto ${motoVersion}, AWS CLI ${awsLabel}, rclone ${rcloneLabel}`,
    `- data: bucket ${BUCKET}, day ${DAY}: ${OBJECTS} objects (app ${APP}) and ${BIG} objects (app ${BIG_APP}), ${LINES} Logplex lines each, written with the receiver's key layout and framing; pattern \`${PATTERN}\``,
    `- S3 model: bench/latency-proxy.mjs adds ${LATENCY} ms to every request (three times that on a connection's first request: its TCP and TLS handshakes) and answers GETs (objects and listings) from a cache warmed by one unmeasured pass of every client: moto serialises requests (a few hundred small GETs a second, about half a second per 1,000-key listing) where S3 does not; HEAD and PUT go to moto`,
    '- raxx-ops runs as a process (`node bin/raxx-ops logs grep … --debug`, which reports the concurrency it chose; no `--concurrency` unless a row says so); the floor runs at that concurrency; peak memory is the maximum resident set (/usr/bin/time %M)',
    '',
    '| metric | value | goal | |',
    '|---|---|---|---|',
    ...body.map((r) => `| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
  ].join('\n');
  await writeFile(join(root, 'bench/RESULTS.md'), md);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; table written to bench/RESULTS.md`);
}
