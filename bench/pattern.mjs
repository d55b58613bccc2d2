// The pattern engine of `logs grep`: RE2JS (linear time, what grep uses) against JavaScript's
// backtracking RegExp (what it used before), on the bench's own log lines, in one run. The
// S3 part of grep is measured by run.mjs; this isolates the matching cost per line.
import { RE2JS } from 're2js';
import { message, rng } from './seed.mjs';

const LINES = Number(process.env.BENCH_PATTERN_LINES ?? 200_000);
const PATTERNS = ['status=50[34] ', 'timeout', 'request_id=[0-9a-f]{8}-1\\b', '(?i)activerecord: 1\\d\\.'];

function lines() {
  const rand = rng(42);
  const out = [];
  const t = Date.parse('2025-06-02T00:00:00Z');
  for (let i = 0; i < LINES; i++) out.push(message(rand, new Date(t + i * 10).toISOString().replace('Z', '+00:00'), i).trimEnd());
  return out;
}

function time(test, input) {
  let best = Infinity;
  let hits = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    hits = 0;
    for (const l of input) if (test(l)) hits += 1;
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, hits };
}

export default async function pattern() {
  const input = lines();
  const rows = [];
  for (const p of PATTERNS) {
    const js = p.startsWith('(?i)') ? new RegExp(p.slice(4), 'i') : new RegExp(p);
    const re2 = RE2JS.compile(p);
    const a = time((l) => js.test(l), input);
    const b = time((l) => re2.test(l), input);
    rows.push({
      metric: `pattern \`${p}\`: RE2JS vs RegExp over ${LINES.toLocaleString('en')} lines`,
      value: `${b.ms.toFixed(0)} vs ${a.ms.toFixed(0)} ms (${(b.ms / a.ms).toFixed(2)}×), ${b.hits} = ${a.hits} hits`,
      unit: '',
      goal: 'same hits',
      ok: a.hits === b.hits,
    });
  }
  // The case that motivated the change: a pattern that backtracks exponentially in RegExp.
  const evil = `${'a'.repeat(28)}!`;
  const t0 = performance.now();
  RE2JS.compile('(a+)+$').test(evil);
  rows.push({ metric: '`(a+)+$` on 28 a and !: RE2JS', value: `${(performance.now() - t0).toFixed(2)} ms`, unit: '', goal: 'linear (RegExp: exponential)', ok: true });
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) for (const r of await pattern()) process.stdout.write(`${r.metric}: ${r.value}\n`);
