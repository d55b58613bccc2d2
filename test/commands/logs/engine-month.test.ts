// A month's shape at test size: more closed, compacted days than the embedded engine opens at
// once (their Parquet downloads and counts start together, a few at a time), read raw, from
// lines.gz and on the engine with the same output; a day whose Parquet is not its manifest's
// is read from lines.gz while the others stay on the engine.
import { beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { compactedKeys } from '@raxx/log-format/compacted';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { batch, BUCKET, createDrainBucket, put, reference, type Stored } from './fixtures.js';

const APP = 'raxx-api-prod';
const DAYS = 7;
const D1 = Date.parse('2025-06-01T00:00:00Z');
const DAY = 86_400_000;
const now = () => new Date(D1 + (DAYS + 1) * DAY + 12 * 3_600_000);
const WINDOW = ['--app', APP, '--since', '2025-06-01', '--until', '2025-06-08'];

describe.skipIf(!motoAvailable)('a week of compacted days on the embedded engine (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  const objects: Stored[] = [];
  const cli = (argv: string[]) => runCli(argv, { env: moto.env, now });

  beforeAll(async () => {
    await createDrainBucket(aws);
    for (let d = 0; d < DAYS; d++) {
      for (let b = 0; b < 3; b++) {
        const t = D1 + d * DAY + (b + 1) * 3_600_000;
        objects.push(batch(APP, t, Array.from({ length: 6 }, (_, i) => `day ${d} batch ${b} line ${i} status=${[200, 503, 404, 504][(d + b + i) % 4]} `)));
      }
    }
    await put(aws, objects);
    const c = await cli(['logs', 'compact', ...WINDOW]);
    expect(c.code, c.stderr).toBe(0);
  }, 240_000);

  const select = (l: string) => /status=50[34] /.test(l);

  it('every day on the engine: the same lines and counts as raw and lines.gz, in key order', async () => {
    const want = reference(objects, { select });
    expect(want.length).toBeGreaterThan(DAYS);
    for (const mode of [['--no-compacted'], ['--engine', 'lines'], ['--engine', 'duckdb']]) {
      const g = await cli(['logs', 'grep', 'status=50[34] ', '--no-mask', ...WINDOW, ...mode, '--debug']);
      expect({ mode, out: g.stdout, code: g.code }).toEqual({ mode, out: `${want.join('\n')}\n`, code: 0 });
      const c = await cli(['logs', 'grep', 'status=50[34] ', '--no-mask', ...WINDOW, ...mode, '-c', '--debug']);
      expect({ mode, out: c.stdout }).toEqual({ mode, out: `${want.length}\n` });
      if (mode[1] === 'duckdb') {
        for (const r of [g, c]) {
          expect(r.stderr).toMatch(new RegExp(`${objects.length} objects read from ${DAYS} compacted day\\(s\\), ${DAYS} of them by the embedded engine`));
          expect(r.stderr).toMatch(new RegExp(`${DAYS} closed app-day\\(s\\) taken from their manifests without listing`));
        }
      }
    }
    // -m stops in the middle of the week, as raw does.
    const m = await cli(['logs', 'grep', 'status=50[34] ', '--no-mask', ...WINDOW, '--engine', 'duckdb', '-m', '5']);
    expect(m.stdout).toBe(`${want.slice(0, 5).join('\n')}\n`);
  }, 240_000);

  it("a day whose Parquet is another day's: that day from lines.gz, the rest on the engine, the same output", async () => {
    const key = (d: number) => compactedKeys(APP, D1 + d * DAY).parquet;
    const s3 = await aws.s3();
    const other = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key(1) }));
    const own = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key(4) }));
    const ownBytes = Buffer.from(await own.Body!.transformToByteArray());
    // A valid Parquet file, but not the one day 5's manifest names.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key(4), Body: Buffer.from(await other.Body!.transformToByteArray()) }));
    try {
      const want = reference(objects, { select });
      const g = await cli(['logs', 'grep', 'status=50[34] ', '--no-mask', ...WINDOW, '--engine', 'duckdb', '--debug']);
      expect(g.stdout).toBe(`${want.join('\n')}\n`);
      expect(g.stderr).toMatch(/raxx-api-prod 2025-06-05: the Parquet file is not the one its manifest names; read from lines\.gz/);
      expect(g.stderr).toMatch(new RegExp(`${objects.length} objects read from ${DAYS} compacted day\\(s\\), ${DAYS - 1} of them by the embedded engine`));
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key(4), Body: ownBytes }));
    }
  }, 240_000);
});
