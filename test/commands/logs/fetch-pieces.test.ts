// logs fetch of a big object (moto): printed a piece at a time, not as one string of the whole
// object, and byte for byte what printing it whole printed: masking as redact() of the
// object's text (a private key block across a piece's end, a JSON key and value split over two
// lines, a block left open to the end), --raw, --no-mask, --json, several apps, -o DIR, bad
// UTF-8, a character of several bytes, a last line without a newline.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildObjectKey } from '@raxx/log-format/object-key';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { tempDir } from '../../support/temp.js';
import { redact } from '../../../src/lib/core/secrets.js';
import { batch, createDrainBucket, put, syslog, type Stored } from './fixtures.js';

const API = 'raxx-api-prod';
const CONSOLE = 'raxx-console-prod';
const T = Date.parse('2025-06-01T10:00:00Z');
const now = () => new Date('2025-06-02T12:00:00Z');
const MIB = 1024 * 1024;

/** A Logplex frame of raw bytes (its octet count counts bytes). */
const framed = (body: Buffer) => Buffer.concat([Buffer.from(`${body.length} `), body]);
const frameOf = (i: number, text: string | Buffer) => framed(Buffer.concat([Buffer.from(syslog(T + i, '').slice(0, -1)), Buffer.isBuffer(text) ? text : Buffer.from(text), Buffer.from('\n')]));

/** About 3 MiB of stored text with every shape that masking or decoding could split. */
function bigText(): Buffer {
  const frames: Buffer[] = [];
  let size = 0;
  let i = 0;
  const add = (text: string | Buffer) => {
    const f = frameOf(i++, text);
    frames.push(f);
    size += f.length;
  };
  while (size < 3 * MIB) {
    // Most lines inside key blocks, so that a piece would end inside one if nothing stopped
    // it; before each, a JSON key whose value is on the next line (--raw: its octet count).
    if (i % 100 === 0) {
      add('{"password":');
      add('-----BEGIN RSA PRIVATE KEY-----');
      for (let k = 0; k < 60; k++) add(`MIIEowIBAAKCAQEA${'x'.repeat(40)}${k}`);
      add('-----END RSA PRIVATE KEY-----');
    }
    if (i % 997 === 0) add(Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0xe2, 0x82, 0x20, 0x75, 0x74, 0x66]));
    add(`request ${i} path=/é€😀/${i % 13} status=${[200, 503, 404][i % 3]} token=tok${i}secret9 ${'y'.repeat(i % 70)}`);
  }
  // A block opened and never closed: masked to the end of the object.
  add('-----BEGIN PRIVATE KEY-----');
  add('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
  return Buffer.concat([...frames, Buffer.from('a last line without a newline')]);
}

const linesOf = (text: Buffer) => {
  const lines = text.toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
};
const shown = (line: string) => line.replace(/^\d{1,8} (?=<)/, '');

describe.skipIf(!motoAvailable)('logs fetch of a big object, a piece at a time (moto)', () => {
  const moto = useMoto();
  let env: Record<string, string>;
  const text = bigText();
  const stored = linesOf(text);
  const big: Stored = { app: API, key: buildObjectKey({ app: API, epochMs: T, id: '00000000-0000-4000-8000-00000000b16b' }), time: T, body: gzipSync(text) };
  const after = batch(API, T + 60_000, ['after the big one', 'status=503 second']);
  const other = batch(CONSOLE, T + 30_000, ['console line', '{"password":', '"hunter2"}']);
  const DAY = ['--date', '2025-06-01'];

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(moto.aws);
    await put(moto.aws, [big, after, other]);
  }, 60_000);

  /** The run's stdout and the size of each write to it. */
  async function fetchRun(argv: string[]) {
    const writes: number[] = [];
    let seen = 0;
    const r = await runCli(['logs', 'fetch', ...argv, ...DAY], {
      env,
      now,
      onStdout: (s) => {
        writes.push(s.length - seen);
        seen = s.length;
      },
    });
    expect(r.code, r.stderr).toBe(0);
    return { ...r, writes };
  }

  const afterLines = ['after the big one', 'status=503 second'].map((t, i) => shown(syslog(T + 60_000 + i, t).slice(0, -1)));

  it('masked: what redact() of the whole object gives, written in pieces of about 1 MiB', async () => {
    const r = await fetchRun(['--app', API]);
    const want = redact(`${stored.map(shown).join('\n')}\n`) + redact(`${afterLines.join('\n')}\n`);
    expect(r.stdout === want).toBe(true);
    // The open block at the end masked to the end of the object; the blocks across piece ends whole.
    expect(r.stdout).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
    expect(r.stdout).not.toContain('MIIEowIBAAKCAQEA');
    expect(r.stdout).toContain('\ufffd');
    // Printed a piece at a time: the whole object as one write was what held it as strings.
    expect(r.writes.length).toBeGreaterThan(3);
    expect(Math.max(...r.writes)).toBeLessThan(1.5 * MIB);
  });

  it("--raw masks the stored frames as one text would (a JSON key's value on the next line included)", async () => {
    const r = await fetchRun(['--app', API, '--raw']);
    const afterRaw = linesOf(gunzipSync(after.body));
    expect(r.stdout === redact(`${stored.join('\n')}\n`) + redact(`${afterRaw.join('\n')}\n`)).toBe(true);
  });

  it('--no-mask and --json: every line as stored, in order', async () => {
    const r = await fetchRun(['--app', API, '--no-mask']);
    expect(r.stdout === `${[...stored.map(shown), ...afterLines].join('\n')}\n`).toBe(true);
    expect(Math.max(...r.writes)).toBeLessThan(2 * MIB);
    const j = await fetchRun(['--app', API, '--json', '--no-mask']);
    const records = j.records<{ key: string }>();
    expect(records.length).toBe(stored.length + 2);
    expect(records.at(-3)!.key).toBe(big.key);
  });

  it('several apps: each line prefixed, objects in time order, each masked as a whole', async () => {
    const r = await fetchRun(['--app', API, '--app', CONSOLE]);
    const prefixed = (app: string, lines: string[]) => redact(`${lines.map((l) => `${app}:${l}`).join('\n')}\n`);
    const otherLines = ['console line', '{"password":', '"hunter2"}'].map((t, i) => shown(syslog(T + 30_000 + i, t).slice(0, -1)));
    expect(r.stdout === prefixed(API, stored.map(shown)) + prefixed(CONSOLE, otherLines) + prefixed(API, afterLines)).toBe(true);
  });

  it('Ctrl-C while a big object is being printed: the rest of it is not, exit 130', async () => {
    const stop = new AbortController();
    const r = await runCli(['logs', 'fetch', '--app', API, ...DAY], { env, now, signal: stop.signal, onStdout: () => stop.abort() });
    expect(r.code).toBe(130);
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(r.stdout.length).toBeLessThan(1.5 * MIB);
  });

  it('-o DIR: the stored lines of each object, decoded as printed', async () => {
    const dir = tempDir('raxx-ops-fetch-big-');
    const r = await fetchRun(['--app', API, '-o', dir, '--json']);
    const files = r.json<{ files: string[] }>().files;
    expect(files).toHaveLength(2);
    expect(readFileSync(files[0]!, 'utf8') === `${stored.join('\n')}\n`).toBe(true);
  });
});

