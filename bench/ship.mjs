// `raxx-ops logs ship` memory: a large generated log streamed into the CLI's stdin (never
// written to disk by the bench), shipped to moto — redacted, gzipped, uploaded in parts,
// verified by reading it back. Peak RSS of the raxx-ops process at the full size and at a
// quarter of it (both big enough to fill the upload's queue of parts): memory is flat when
// the two are close and both stay small.
//
// Also a line with no newline at all (SHIP_BENCH_NOLINE_MB, default 2048): it is cut at the line
// limit, and memory stays that of any other run.
//
// Standalone: `npm run build && node bench/ship.mjs` (SHIP_BENCH_MB, default 1024); bench/run.mjs
// adds its rows to the table. Returns rows { metric, value, unit, goal, ok }.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { root, watchPeakRss, withBenchMoto } from './support.mjs';

const MB = 1024 * 1024;
const BUCKET = 'raxx-bench-ship';

/** Log lines like an auth service's: mostly unique, a credential or address now and then. */
function* generate(bytes) {
  let made = 0;
  let i = 0;
  const t0 = Date.UTC(2025, 5, 1);
  while (made < bytes) {
    const lines = [];
    // One timestamp per 1,000 lines: formatting dates would cost the bench more than shipping.
    const ts = new Date(t0 + i * 37).toISOString();
    for (let n = 0; n < 1000; n++, i++) {
      const id = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0');
      if (i % 500 === 0) lines.push(`${ts} auth login user=user${i}@example.com password=pw-${id} ip=203.0.113.${i % 256}`);
      else if (i % 101 === 0) lines.push(`${ts} auth token refresh Authorization: Bearer ey${id}${id}.${id} session=${id}`);
      else lines.push(`${ts} auth request_id=${id}-${(i % 9973).toString(36)} method=GET path=/v1/sessions/${i % 5000} status=200 service=${i % 97}ms`);
    }
    const chunk = Buffer.from(lines.join('\n') + '\n');
    made += chunk.length;
    yield chunk;
  }
}

/** One line with no newline at all: what a binary-free but broken writer leaves behind. */
function* noNewline(bytes) {
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  for (let made = 0; made < bytes; made += chunk.length) yield chunk;
}

/** Ship `bytes` of generated log through `node bin/raxx-ops logs ship`; resolve with its peak RSS. */
function ship(env, bytes, date, source = generate) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn('node', ['bin/raxx-ops', 'logs', 'ship', 'bench-ship', '-', '--date', date, '--json'], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    // The high-water mark of the resident set, read while it runs (Linux).
    const rss = watchPeakRss(child.pid, 50);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const feed = async () => {
      for (const chunk of source(bytes)) {
        if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
      }
      child.stdin.end();
    };
    feed().catch(reject);
    child.on('close', (code) => {
      const peak = rss.stop();
      if (code !== 0) return reject(new Error(`logs ship exited ${code}: ${err}`));
      const doc = JSON.parse(out);
      resolve({ rssMb: peak, seconds: (performance.now() - t) / 1000, day: doc.days[0] });
    });
  });
}

export default async function shipBench({ megabytes = Number(process.env.SHIP_BENCH_MB ?? 1024) } = {}) {
  return withBenchMoto('raxx-bench-ship-', { logSources: [{ name: 'bench-ship', bucket: BUCKET }] }, async ({ env, moto }) => {
    delete env.SLACK_WEBHOOK_URL;
    await fetch(`${moto.endpoint}/${BUCKET}`, { method: 'PUT' });
    const small = await ship(env, Math.max(1, Math.floor(megabytes / 4)) * MB, '2025-06-01');
    const big = await ship(env, megabytes * MB, '2025-06-02');
    const flat = big.rssMb / small.rssMb;
    const lineMb = Number(process.env.SHIP_BENCH_NOLINE_MB ?? 2048);
    const line = await ship(env, lineMb * MB, '2025-06-03', noNewline);
    const mbps = big.day.bytesIn / MB / big.seconds;
    return [
      { metric: `ship: peak RSS, ${Math.floor(megabytes / 4)} MiB generated on stdin`, value: `${small.rssMb.toFixed(0)} MB (${small.seconds.toFixed(1)} s)`, unit: '', goal: '< 200 MB', ok: small.rssMb < 200 },
      {
        metric: `ship: peak RSS, ${megabytes} MiB generated on stdin`,
        value: `${big.rssMb.toFixed(0)} MB (${flat.toFixed(2)}× of the small run; ${big.seconds.toFixed(1)} s, ${mbps.toFixed(1)} MiB/s; ${big.day.lines} lines, ${big.day.redactions} redactions, ${(big.day.bytesOut / MB).toFixed(0)} MiB gzipped, verified)`,
        unit: '',
        goal: '< 200 MB, < 1.5×',
        ok: big.rssMb < 200 && flat < 1.5,
      },
      {
        metric: `ship: peak RSS, ${lineMb} MiB with no newline on stdin`,
        value: `${line.rssMb.toFixed(0)} MB (${line.seconds.toFixed(1)} s; ${line.day.lines} line, ${line.day.cutLines} cut, ${(line.day.bytesOut / 1024).toFixed(0)} KiB gzipped)`,
        unit: '',
        goal: '< 200 MB, one cut line',
        ok: line.rssMb < 200 && line.day.cutLines === 1 && line.day.lines === 1,
      },
    ];
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await shipBench()) console.log(`${r.metric}: ${r.value} (goal ${r.goal}: ${r.ok ? 'ok' : 'MISSED'})`);
}
