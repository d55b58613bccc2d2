// Reading is exact: a reference reader (plain list + gunzip + parse + RE2, test/support) and
// logs grep / fetch / compact agree, raw and compacted, on a corpus of damaged, NUL-bearing,
// re-shipped and late objects in moto; warnings about damaged objects survive compaction.
import { beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { frame } from '@raxx/log-format/logplex';
import { compactedKeys, linesRecord, type Manifest } from '@raxx/log-format/compacted';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { referenceGrep, referenceRead, shown, type ReferenceObject } from '../../support/reference-reader.js';
import { batch, BUCKET, createDrainBucket, put, putLate, rawObject, syslog, type Stored } from './fixtures.js';

const APP = 'raxx-api-prod';
const D1 = Date.parse('2025-06-01T00:00:00Z');
const MIN = 60_000;
const now = () => new Date('2025-06-02T12:00:00Z');
const DATE = ['--app', APP, '--date', '2025-06-01'];

const texts = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} ${i} status=${[200, 503, 404][i % 3]} abcdef=${i % 5} x]x )ef path=/api/v${i % 4}`);
const flip = (buf: Buffer, at: number, n: number) => {
  const b = Buffer.from(buf);
  for (let i = at; i < at + n; i++) b[i] = b[i]! ^ 0x5a;
  return b;
};
/** A batch body of stored lines as given (the receiver stores any body it is sent). */
const lines = (t: number, ls: string[]) => gzipSync(Buffer.from(frame(ls.map((l, i) => syslog(t + i, l)))));

describe.skipIf(!motoAvailable)('exact reading: reference reader vs raw vs compacted (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;
  const corpus: Stored[] = [];
  const damaged: string[] = [];
  const cli = (argv: string[]) => runCli(argv, { env, now });
  const reference = () => referenceRead(aws, BUCKET, 'logs/raxx-api-prod/2025/06/01/');
  const getObject = async (key: string) => {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const res = await (await aws.s3()).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  };
  const putObject = async (key: string, body: Buffer) => {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  };

  /** grep, fetch and grep -c, raw and by default, against the reference; damaged objects warned about either way. */
  async function agree(ref: ReferenceObject[], patterns: string[]) {
    const fetched = ref.flatMap((o) => o.lines.map(shown));
    // Raw; compacted days through lines.gz; through the embedded engine over their Parquet.
    for (const mode of [['--no-compacted'], ['--engine', 'lines'], ['--engine', 'duckdb']]) {
      const f = await cli(['logs', 'fetch', ...DATE, '--no-mask', ...mode]);
      expect(f.stdout).toBe(`${fetched.join('\n')}\n`);
      for (const key of ref.filter((o) => o.damaged).map((o) => o.key)) expect(f.stderr).toContain(`${key}: `);
      for (const pattern of patterns) {
        const want = referenceGrep(ref, pattern);
        const g = await cli(['logs', 'grep', pattern, ...DATE, '--no-mask', ...mode]);
        expect({ pattern, mode, out: g.stdout }).toEqual({ pattern, mode, out: want.length > 0 ? `${want.join('\n')}\n` : '' });
      }
      // -c counts what grep prints.
      const c = await cli(['logs', 'grep', '-c', patterns[0]!, ...DATE, ...mode]);
      expect({ mode, count: c.stdout.trim() }).toEqual({ mode, count: String(referenceGrep(ref, patterns[0]!).length) });
    }
  }

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(aws);
    const at = (m: number) => D1 + m * MIN;
    corpus.push(batch(APP, at(10), texts('first', 30)), batch(APP, at(20), texts('second', 12)));
    // Damage found at the gzip's final checksum: deflate inflates flipped bytes into text never written.
    const big = batch(APP, at(30), texts('big', 1500));
    corpus.push({ ...big, body: flip(big.body, Math.floor(big.body.length / 2), 40) });
    const small = batch(APP, at(31), texts('crc', 9));
    corpus.push({ ...small, body: flip(small.body, small.body.length - 6, 1) });
    // Cut short; a complete gzip followed by junk; not gzip; no lines; two members, the second damaged.
    const cut = batch(APP, at(32), texts('cut', 50));
    corpus.push({ ...cut, body: cut.body.subarray(0, cut.body.length - 20) });
    corpus.push(rawObject(APP, at(33), Buffer.concat([lines(at(33), ['one verified line abcdef']), Buffer.from('trailing junk')])));
    corpus.push(rawObject(APP, at(34), Buffer.from('not gzip at all\n')));
    corpus.push(rawObject(APP, at(35), gzipSync(Buffer.alloc(0))));
    corpus.push(rawObject(APP, at(36), Buffer.concat([lines(at(36), ['member one abcdef']), flip(lines(at(36), ['member two abcdef']), 15, 4)])));
    // Stored lines starting with NUL, with the old record mark and its key (a malformed body is stored as sent).
    const nul = Buffer.from(['ok 1 abcdef', '\u0000logs/raxx-api-prod/2025/06/01/x', '\u0000 starts with NUL abcdef', 'ok 4', '', '\u0000', 'ok 7 abcdef', 'ok 8', 'ok 9 abcdef'].join('\n') + '\n');
    corpus.push(rawObject(APP, at(40), gzipSync(nul)));
    corpus.push(batch(APP, at(50), texts('last', 20)));
    await put(aws, corpus);
    damaged.push(...corpus.slice(2, 9).map((o) => o.key));
  }, 180_000);

  const PATTERNS = ['\\x61bcdef', '\\141bcdef', '\\pLtatus=5', '[]abcd]x', '\\Q)\\E(abcd)?ef', 'NUL', 'big 14\\d\\d '];

  const SLOW = 120_000;

  it('the raw path prints exactly what the reference reader verified, and names every damaged object', async () => {
    const ref = await reference();
    expect(ref.filter((o) => o.damaged).map((o) => o.key)).toEqual(damaged);
    // The one verified line before junk and the verified first member are kept; nothing of the flipped object.
    expect(ref.find((o) => o.key === corpus[5]!.key)!.lines).toHaveLength(1);
    expect(ref.find((o) => o.key === corpus[8]!.key)!.lines).toHaveLength(1);
    expect(ref.find((o) => o.key === corpus[2]!.key)!.lines).toEqual([]);
    expect(ref.find((o) => o.key === corpus[9]!.key)!.lines).toHaveLength(9);
    await agree(ref, PATTERNS);
    const f = await cli(['logs', 'fetch', ...DATE, '--no-compacted']);
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(/7 of 11 objects could not be read completely/);
  }, SLOW);

  it('compacted: the same output, and damaged objects are warned about on every read of the day', async () => {
    const c = await cli(['logs', 'compact', ...DATE, '--json']);
    expect(c.code).toBe(0);
    const m = JSON.parse((await getObject(compactedKeys(APP, D1).manifest)).toString()) as Manifest;
    expect(m.version).toBe(2);
    expect(Object.keys(m.problems).sort()).toEqual(damaged);
    expect(m.etags).toHaveLength(corpus.length);
    const ref = await reference();
    await agree(ref, PATTERNS);
    // Served from the compacted day (one GET for it), not from the raw objects; by the engine unless told otherwise.
    const d = await cli(['logs', 'grep', 'abcdef', ...DATE, '--debug']);
    expect(d.stderr).toMatch(/11 objects read from 1 compacted day\(s\), 1 of them by the embedded engine/);
    const l = await cli(['logs', 'grep', 'abcdef', ...DATE, '--debug', '--engine', 'lines']);
    expect(l.stderr).toMatch(/11 objects read from 1 compacted day\(s\), 0 of them/);
  }, SLOW);

  it('an object shipped again under the same key: read raw at once, and the next compaction is not "up to date"', async () => {
    const target = corpus[1]!;
    const extra = batch(APP, target.time, [...texts('second', 12), 'the re-shipped extra line abcdef']);
    // Shipped again the way raxx-ops writes into a day: marked stale first (a hand upload into a
    // closed day waits for `logs compact --verify`, closed-days.test.ts).
    await putLate(aws, [{ ...extra, key: target.key }]);
    const ref = await reference();
    expect(ref.find((o) => o.key === target.key)!.lines).toHaveLength(13);
    await agree(ref, ['re-shipped', 'abcdef']);
    const c = await cli(['logs', 'compact', ...DATE, '--json']);
    expect(c.stdout).toMatch(/"status":\s*"compacted"/);
    const again = await cli(['logs', 'compact', ...DATE, '--json']);
    expect(again.stdout).toMatch(/"status":\s*"up-to-date"/);
    await agree(ref, ['re-shipped']);
  }, SLOW);

  it('a late object beside the compacted day is read raw; text in lines.gz that is not the manifest\'s is not used', async () => {
    const late = batch(APP, D1 + 55 * MIN, texts('late', 5));
    corpus.push(late);
    await putLate(aws, [late]);
    let ref = await reference();
    await agree(ref, ['late \\d', 'abcdef']);
    // Another run's lines.gz (same keys, other text) beside this manifest: a warning, and raw reads.
    await cli(['logs', 'compact', ...DATE]);
    ref = await reference();
    const forged = Buffer.concat(ref.map((o) => linesRecord(o.key, Buffer.from(o.lines.map((l) => `${l.replace('abcdef', 'zzzzzz')}\n`).join(''), 'utf8'))));
    await putObject(compactedKeys(APP, D1).lines, gzipSync(forged));
    const want = `${referenceGrep(ref, 'abcdef').join('\n')}\n`;
    const g = await cli(['logs', 'grep', 'abcdef', ...DATE, '--no-mask', '--engine', 'lines']);
    expect(g.stdout).toBe(want);
    expect(g.stderr).toMatch(/compacted lines do not match their manifest/);
    // The engine reads the day's Parquet, which its manifest vouches for.
    const e = await cli(['logs', 'grep', 'abcdef', ...DATE, '--no-mask', '--engine', 'duckdb', '--debug']);
    expect(e.stdout).toBe(want);
    expect(e.stderr).toMatch(/1 of them by the embedded engine/);
    // A Parquet that is not the manifest's: the day goes to lines.gz (here forged too: raw reads).
    await putObject(compactedKeys(APP, D1).parquet, Buffer.from('PAR1 not the compacted file PAR1'));
    const p = await cli(['logs', 'grep', 'abcdef', ...DATE, '--no-mask', '--engine', 'duckdb', '--debug']);
    expect(p.stdout).toBe(want);
    expect(p.stderr).toMatch(/the Parquet file is not the one its manifest names; read from lines.gz/);
    expect(p.stderr).toMatch(/compacted lines do not match their manifest/);
  }, SLOW);
});
