// Two rules over the source text, checked rather than trusted:
// - every AWS write goes through awsSend (src/lib/aws/call.ts), so it carries the run's abort
//   signal and a write stopped midway is an unknown outcome; the few that must outlive Ctrl-C
//   are listed here and say why where they stand;
// - a command's handler is called only by src/cli.ts, which validates its arguments and takes
//   its lease first: no code path runs a command without them.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WRITE_ACTION } from '../src/lib/aws/call.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
const sources = walk(join(root, 'src')).map((file) => ({ name: relative(root, file), lines: readFileSync(file, 'utf8').split('\n') }));

/** `client.send(new XCommand(`: a call that bypasses awsSend. */
const BARE_SEND = /\.send\(\s*new\s+(?:[\w$]+\.)?([A-Z]\w*)Command\(/g;

/** The writes that stay on the bare client, by file and action: each must outlive the run's signal. */
const OUTLIVE_CTRL_C: Record<string, string[]> = {
  // Stops the query's billing after Ctrl-C.
  'src/lib/logs/query/athena.ts': ['StopQueryExecution'],
  // Releases the lease after Ctrl-C and after a rollback.
  'src/lib/run/lease.ts': ['DeleteObject'],
  // Permission probes: they read the SDK's raw status and cannot change anything.
  'src/lib/shipping/bucket-setup.ts': ['PutObject', 'AbortMultipartUpload'],
};

function bareWrites(): { at: string; action: string; commented: boolean }[] {
  const found: { at: string; action: string; commented: boolean }[] = [];
  for (const { name, lines } of sources) {
    if (name === 'src/lib/aws/call.ts') continue;
    lines.forEach((line, i) => {
      for (const m of line.matchAll(BARE_SEND)) {
        if (!WRITE_ACTION.test(m[1]!)) continue;
        // The reason stands in a comment just above (a few lines up at most), or on the same line.
        const commented = lines.slice(Math.max(0, i - 6), i + 1).some((l) => /\/\/|\/\*|\*\s/.test(l));
        found.push({ at: `${name}:${i + 1}`, action: m[1]!, commented });
      }
    });
  }
  return found;
}

describe('AWS writes', () => {
  it('go through awsSend, except the listed ones that must outlive Ctrl-C, each with its reason beside it', () => {
    const found = bareWrites();
    const unlisted = found.filter((w) => !OUTLIVE_CTRL_C[w.at.split(':')[0]!]?.includes(w.action)).map((w) => `${w.at} ${w.action}`);
    expect(unlisted, 'route these through awsSend with the run signal').toEqual([]);
    expect(found.filter((w) => !w.commented).map((w) => w.at), 'say why beside it').toEqual([]);
  });

  it('the scan sees what it must (a pattern that matched nothing would pass anything)', () => {
    const seen = bareWrites().map((w) => `${w.at.split(':')[0]} ${w.action}`);
    for (const [file, actions] of Object.entries(OUTLIVE_CTRL_C)) for (const a of actions) expect(seen, `${file} ${a}`).toContain(`${file} ${a}`);
    expect('x.send(new PutParameterCommand({'.match(BARE_SEND)).not.toBeNull();
    expect('await s3.send(new s3m.DeleteObjectsCommand(input)'.match(BARE_SEND)).not.toBeNull();
    expect(WRITE_ACTION.test('CreateAccessKey') && WRITE_ACTION.test('UpdateFunctionConfiguration') && !WRITE_ACTION.test('GetParameters')).toBe(true);
  });
});

describe('AWS reads on the bare client', () => {
  /** `send(` … its matching `)`: the call's whole text, options included. */
  const callText = (text: string, open: number): string => {
    let depth = 0;
    for (let i = open; i < text.length; i++) {
      if (text[i] === '(') depth += 1;
      else if (text[i] === ')' && --depth === 0) return text.slice(open, i + 1);
    }
    return text.slice(open);
  };

  it("carry the run's abort signal too (Ctrl-C never waits on a read), except the writes that must outlive it", () => {
    const missing: string[] = [];
    for (const { name, lines } of sources) {
      if (name === 'src/lib/aws/call.ts') continue;
      const text = lines.join('\n');
      for (const m of text.matchAll(BARE_SEND)) {
        if (OUTLIVE_CTRL_C[name]?.includes(m[1]!)) continue;
        const call = callText(text, m.index + m[0].indexOf('('));
        if (!/abortSignal/.test(call)) missing.push(`${name}:${text.slice(0, m.index).split('\n').length} ${m[1]}`);
      }
    }
    expect(missing, 'pass { abortSignal: branch(ctx.signal) } or go through awsSend').toEqual([]);
  });
});

describe('command handlers', () => {
  it('are called only by src/cli.ts (after validation, under the lease)', () => {
    const calls = sources.flatMap(({ name, lines }) => lines.flatMap((line, i) => (/\.handler\(/.test(line) ? [`${name}:${i + 1}`] : [])));
    expect(calls.length, 'the CLI itself calls one').toBeGreaterThan(0);
    expect(calls.filter((c) => !c.startsWith('src/cli.ts:'))).toEqual([]);
  });
});
