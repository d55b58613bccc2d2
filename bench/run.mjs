// npm run bench: `raxx-ops logs grep` over one app-day of the drain bucket against the shell
// anchors an operator has, on the same objects with the same pattern, in one run:
//   - the runbook loop (`aws s3 cp … - | gunzip | grep` per key), over a sample, extrapolated;
//   - `aws s3 sync` of the day, then `zcat | grep`;
//   - the floor: list + GET of every object at the same concurrency, no decompression;
// each at 0 ms (moto as it is) and at a modelled S3 latency (bench/latency-proxy.mjs), plus
// peak memory at 2,000 and 10,000 objects, start-up, and the receiver's rows when
// bench/receiver.mjs exists. Prints one table and writes it to bench/RESULTS.md.
//
// Environment knobs: BENCH_LATENCY_MS (40), BENCH_OBJECTS (2000), BENCH_BIG_OBJECTS (10000),
// BENCH_LINES (50), BENCH_LOOP_SAMPLE (12), BENCH_SKIP_AWS=1, SHIP_BENCH_MB (1024: bench/ship.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLatencyProxy } from './latency-proxy.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = (name, dflt) => Number(process.env[name] ?? dflt);
const LATENCY = env('BENCH_LATENCY_MS', 40);
const OBJECTS = env('BENCH_OBJECTS', 2000);
const BIG = env('BENCH_BIG_OBJECTS', 10000);
const LINES = env('BENCH_LINES', 50);
const SAMPLE = env('BENCH_LOOP_SAMPLE', 12);
const SWEEP = [8, 16, 32, 64];
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
    const poll = timeBin
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) peak = Math.max(peak, Number(m[1]));
          } catch {
            /* exited */
          }
        }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
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

// ---------------------------------------------------------------- set-up

log(`moto, ${OBJECTS} + ${BIG} objects × ${LINES} lines, modelled latency ${LATENCY} ms, AWS CLI: ${awsLabel}`);
const moto = await startMoto();
const proxy = await startLatencyProxy({ target: moto.endpoint, delayMs: 0 });
const work = await mkdtemp(join(tmpdir(), 'raxx-bench-'));
const configPath = join(work, 'raxx-ops.json');
await writeFile(configPath, JSON.stringify({ apps: [APP, BIG_APP], drain: { bucket: BUCKET } }));
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
  const grep = (endpoint, app, extra = []) =>
    measure('node', ['bin/raxx-ops', 'logs', 'grep', PATTERN, '--app', app, '--date', DAY, ...extra], { env: { ...baseEnv, AWS_ENDPOINT_URL: endpoint } }).then((r) => check(r, 'raxx-ops logs grep'));
  const floor = (endpoint, prefix, c, transport = 'lean') =>
    measure('node', ['bench/floor.mjs', '--bucket', BUCKET, '--prefix', prefix, '--concurrency', String(c), '--transport', transport], { env: { ...baseEnv, AWS_ENDPOINT_URL: endpoint }, countLines: false }).then((r) => check(r, 'floor'));

  // Warm the S3 model: one unmeasured pass of every client at 0 ms fills the proxy's cache
  // with the listings each of them asks for (the objects are already there).
  proxy.setDelay(0);
  const model = endpoints[1].url;
  await grep(model, APP);
  await grep(model, BIG_APP);
  if (aws) {
    await awsRun(model, `"$AWS" --endpoint-url "$EP" s3 ls "s3://${BUCKET}/${day.prefix}" >/dev/null`);
    await syncAndGrep(model, day);
  }
  log(`warmed the S3 model's listings (${proxy.cached} responses cached)`);

  for (const ep of endpoints) {
    proxy.setDelay(ep.latency);
    const row = (rows[ep.label] = {});
    let concurrency = 64;
    if (ep.latency > 0) {
      row.sweep = [];
      for (const c of SWEEP) {
        const r = await grep(ep.url, APP, ['--concurrency', String(c)]);
        row.sweep.push({ c, seconds: r.seconds });
        log(`${ep.label}: grep --concurrency ${c}: ${r.seconds.toFixed(2)} s`);
      }
      concurrency = row.sweep.reduce((a, b) => (b.seconds < a.seconds ? b : a)).c;
    }
    row.concurrency = concurrency;
    // Best of two for the fast runs; the stand-in's own hiccups are not the tool's.
    const runs = ep.latency > 0 ? 2 : 1;
    row.grep = undefined;
    for (let i = 0; i < runs; i++) {
      const r = await grep(ep.url, APP, ['--concurrency', String(concurrency)]);
      if (!row.grep || r.seconds < row.grep.seconds) row.grep = r;
    }
    log(`${ep.label}: grep ${row.grep.seconds.toFixed(2)} s, ${row.grep.lines} lines, ${row.grep.rssMb.toFixed(0)} MB`);
    row.floor = undefined;
    for (let i = 0; i < runs; i++) {
      const r = await floor(ep.url, day.prefix, concurrency);
      if (!row.floor || r.seconds < row.floor.seconds) row.floor = r;
    }
    row.floorObjects = JSON.parse(row.floor.stdout).objects;
    log(`${ep.label}: floor ${row.floor.seconds.toFixed(2)} s (${row.floorObjects} objects)`);
    if (ep.latency > 0) {
      row.floorSdk = await floor(ep.url, day.prefix, concurrency, 'sdk');
      log(`${ep.label}: floor with the SDK's GetObject ${row.floorSdk.seconds.toFixed(2)} s`);
    }

    if (aws) {
      row.loop = await runbookLoop(ep.url, day);
      log(`${ep.label}: runbook loop ${row.loop.perObject.toFixed(3)} s/object → ${row.loop.seconds.toFixed(0)} s extrapolated`);
      row.sync = await syncAndGrep(ep.url, day);
      log(`${ep.label}: aws s3 sync + zcat | grep ${row.sync.seconds.toFixed(2)} s (${row.sync.lines} lines)`);
    }
  }

  // Peak memory: the same search over 2,000 and 10,000 objects, through the S3 model.
  proxy.setDelay(LATENCY);
  const mem = {};
  mem.small = await grep(model, APP);
  mem.big = await grep(model, BIG_APP);
  log(`memory: ${mem.small.rssMb.toFixed(0)} MB at ${OBJECTS} objects, ${mem.big.rssMb.toFixed(0)} MB at ${BIG} (${mem.big.seconds.toFixed(1)} s, ${mem.big.lines} lines of ${big.matches})`);

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

  let receiver = [];
  if (existsSync(join(root, 'bench/receiver.mjs'))) {
    try {
      const mod = await import('./receiver.mjs');
      receiver = await mod.default();
    } catch (err) {
      receiver = [{ metric: 'receiver bench', value: `failed: ${err.message}`, unit: '', goal: '', ok: false }];
    }
  }
  let ship = [];
  if (existsSync(join(root, 'bench/ship.mjs'))) {
    log(`logs ship: ${process.env.SHIP_BENCH_MB ?? 1024} MiB generated on stdin, peak memory`);
    try {
      const mod = await import('./ship.mjs');
      ship = await mod.default();
    } catch (err) {
      ship = [{ metric: 'ship bench', value: `failed: ${err.message}`, unit: '', goal: '', ok: false }];
    }
  }
  return { rows, mem, startup, receiver, ship, day, big };
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

async function report({ rows, mem, startup, receiver, ship, day, big }) {
  const table = [];
  const add = (metric, value, goal, ok) => table.push({ metric, value, goal, ok });
  const s = (x) => `${x.toFixed(2)} s`;
  const ratio = (x) => `${x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)}×`;

  add('expected matching lines (computed from the seeded objects)', `${day.matches} in ${OBJECTS} objects; ${big.matches} in ${BIG}`, '', undefined);
  for (const ep of endpoints) {
    const r = rows[ep.label];
    const model = ep.latency > 0;
    const tag = `[${ep.label}]`;
    add(`${tag} raxx-ops logs grep (concurrency ${r.concurrency})`, `${s(r.grep.seconds)}, ${r.grep.lines} lines`, `lines = ${day.matches}`, r.grep.lines === day.matches);
    add(`${tag} floor: list + signed GET of all, no gunzip (concurrency ${r.concurrency})`, `${s(r.floor.seconds)}, ${r.floorObjects} objects`, '', undefined);
    if (r.floorSdk) add(`${tag} the same floor with the SDK's GetObject (reference)`, s(r.floorSdk.seconds), '', undefined);
    const vsFloor = r.grep.seconds / r.floor.seconds;
    add(`${tag} grep / floor`, ratio(vsFloor), '≤ 1.3×', vsFloor <= 1.3);
    if (r.loop) {
      add(`${tag} runbook loop (aws s3 cp | gunzip | grep), ${r.loop.sample}-key sample extrapolated`, `${s(r.loop.seconds)} (${r.loop.perObject.toFixed(3)} s/key; sample lines ${r.loop.lines}, expected ${r.loop.expected})`, '', r.loop.lines === r.loop.expected);
      const x = r.loop.seconds / r.grep.seconds;
      add(`${tag} grep speed-up vs runbook loop`, ratio(x), model ? '≥ 100×' : '≥ 50×', x >= (model ? 100 : 50));
      add(`${tag} aws s3 sync + zcat | grep`, `${s(r.sync.seconds)}, ${r.sync.lines} lines`, `lines = ${day.matches}`, r.sync.lines === day.matches);
      const y = r.sync.seconds / r.grep.seconds;
      add(`${tag} grep speed-up vs aws s3 sync + zcat | grep`, ratio(y), model ? '≥ 4×' : '', model ? y >= 4 : undefined);
    } else {
      add(`${tag} runbook loop and aws s3 sync`, 'skipped: AWS CLI not installed', '', undefined);
    }
    if (r.sweep) add(`${tag} grep time by concurrency`, r.sweep.map((x) => `${x.c}: ${x.seconds.toFixed(2)} s`).join(', '), `best ${r.concurrency}`, undefined);
  }
  const flat = mem.big.rssMb / mem.small.rssMb;
  add(`peak RSS, grep over ${OBJECTS} objects`, `${mem.small.rssMb.toFixed(0)} MB (${s(mem.small.seconds)})`, '< 200 MB', mem.small.rssMb < 200);
  // "Flat": 5× the objects may not cost more than half again the memory (V8 grows its heap
  // with the allocation rate; the heap retained after a full GC stays ~15 MB whatever N).
  add(`peak RSS, grep over ${BIG} objects`, `${mem.big.rssMb.toFixed(0)} MB (${ratio(flat)} of ${OBJECTS}; ${s(mem.big.seconds)}, ${mem.big.lines} lines of ${big.matches})`, '< 200 MB, < 1.5×', mem.big.rssMb < 200 && flat < 1.5 && mem.big.lines === big.matches);
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
    `- versions: node ${process.version}, moto ${motoVersion}, AWS CLI ${awsLabel}`,
    `- data: bucket ${BUCKET}, day ${DAY}: ${OBJECTS} objects (app ${APP}) and ${BIG} objects (app ${BIG_APP}), ${LINES} Logplex lines each, written with the receiver's key layout and framing; pattern \`${PATTERN}\``,
    `- S3 model: bench/latency-proxy.mjs adds ${LATENCY} ms to every request and answers GETs (objects and listings) from a cache warmed by one unmeasured pass of every client: moto serialises requests (a few hundred small GETs a second, about half a second per 1,000-key listing) where S3 does not; HEAD and PUT go to moto`,
    '- raxx-ops runs as a process (`node bin/raxx-ops logs grep …`); peak memory is its maximum resident set (/usr/bin/time %M)',
    '',
    '| metric | value | goal | |',
    '|---|---|---|---|',
    ...body.map((r) => `| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
  ].join('\n');
  await writeFile(join(root, 'bench/RESULTS.md'), md);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; table written to bench/RESULTS.md`);
}
