// Without the optional engine installed (its import fails, as with npm --omit=optional):
// `--engine duckdb` is the install hint (exit 3); the default reads compacted days from
// lines.gz with the same output, saying why under --debug.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { compactedKeys, type Manifest } from '@raxx/log-format/compacted';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { batch, BUCKET, createDrainBucket, put } from './fixtures.js';

vi.mock('@duckdb/node-api', () => {
  throw new Error("Cannot find package '@duckdb/node-api'");
});

const APP = 'raxx-api-prod';
const D1 = Date.parse('2025-06-01T00:00:00Z');
const now = () => new Date('2025-06-02T12:00:00Z');
const DATE = ['--app', APP, '--date', '2025-06-01'];

describe.skipIf(!motoAvailable)('grep and fetch without the embedded engine (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;
  const cli = (argv: string[]) => runCli(argv, { env, now });

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(aws);
    await put(aws, [batch(APP, D1 + 60_000, ['one status=503 ', 'two ok']), batch(APP, D1 + 120_000, ['three status=504 '])]);
    expect((await cli(['logs', 'compact', ...DATE])).code).toBe(0);
  }, 120_000);


  it('--engine duckdb: exit 3 with the install hint; --engine lines and auto read lines.gz', async () => {
    const d = await cli(['logs', 'grep', 'status=50', ...DATE, '--engine', 'duckdb']);
    expect(d.code).toBe(3);
    expect(d.stdout).toBe('');
    expect(d.stderr).toMatch(/error: the embedded query engine \(DuckDB\) is not installed/);
    expect(d.stderr).toMatch(/hint: install it with `npm i -g @duckdb\/node-api`/);
    const raw = await cli(['logs', 'grep', 'status=50', ...DATE, '--no-compacted']);
    expect(raw.stdout.split('\n')).toHaveLength(3);
    for (const mode of [['--engine', 'lines'], []]) {
      const g = await cli(['logs', 'grep', 'status=50', ...DATE, '--debug', ...mode]);
      expect(g.stdout).toBe(raw.stdout);
      expect(g.stderr).toMatch(/2 objects read from 1 compacted day\(s\), 0 of them by the embedded engine/);
    }
  }, 60_000);

  it('a day with a checked Parquet under auto: the engine is missing, said once, and lines.gz serves it', async () => {
    // A manifest naming a checked Parquet, as a compactor with the engine writes it.
    const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = await aws.s3();
    const key = compactedKeys(APP, D1).manifest;
    const m = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString()) as Manifest;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: JSON.stringify({ ...m, parquet: { sha256: '0'.repeat(64), bytes: 1, linesVerified: true } }) }));
    const raw = await cli(['logs', 'fetch', ...DATE, '--no-compacted']);
    const f = await cli(['logs', 'fetch', ...DATE, '--debug']);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe(raw.stdout);
    expect(f.stderr.match(/the embedded engine is not installed/g)).toHaveLength(1);
    expect(f.stderr).toMatch(/0 of them by the embedded engine/);
  }, 60_000);
});
