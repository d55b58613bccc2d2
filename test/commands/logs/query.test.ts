// Months of logs: `logs compact` (and the receiver's scheduled compactor), `logs query` on the
// embedded engine over compacted and raw days, and the Athena path against moto's Glue and
// Athena (moto runs no SQL: its results are seeded, the call sequence is what is checked).
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { compactedKeys, type Manifest } from '@raxx/log-format/compacted';
import { runCompaction } from '@raxx/log-drain-receiver/compact-handler';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { startFaultProxy } from '../../support/fault-proxy.js';
import { batch, BUCKET, createDrainBucket, put, putLate, type Stored } from './fixtures.js';

const API = 'raxx-api-prod';
const D1 = Date.parse('2025-06-01T00:00:00Z');
const D2 = Date.parse('2025-06-02T00:00:00Z');
const HOUR = 3_600_000;
const now = () => new Date('2025-06-03T12:00:00Z');

/** Router lines: status 503 on every 7th, 200 otherwise; paths cycle over three. */
function routerTexts(seed: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const k = seed * 100 + i;
    return `at=info method=GET path="/api/v1/${['items', 'users', 'health'][k % 3]}" host=raxx-api-prod.herokuapp.com request_id=r${k} fwd="10.0.0.1" dyno=web.1 connect=0ms service=${k % 90}ms status=${k % 7 === 0 ? 503 : 200} bytes=${100 + k} protocol=https`;
  });
}

describe.skipIf(!motoAvailable)('logs compact / query (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;
  const objects: Stored[] = [];

  const cli = (argv: string[]) => runCli(argv, { env, now });
  const get = async (key: string) => {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const res = await (await aws.s3()).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  };
  const manifest = async (day: number) => JSON.parse((await get(compactedKeys(API, day).manifest)).toString()) as Manifest;
  const count5xxByHour = (sql = "SELECT strftime(date_trunc('hour', time), '%Y-%m-%d %H') AS h, count(*) AS n FROM logs WHERE status >= 500 GROUP BY 1 ORDER BY 1") =>
    cli(['logs', 'query', sql, '--app', API, '--since', '2025-06-01', '--until', '2025-06-03', '--json']);

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(aws);
    let seed = 0;
    for (const day of [D1, D2]) for (let h = 0; h < 24; h += 3) objects.push(batch(API, day + h * HOUR + 60_000, routerTexts(seed++, 20), { source: 'heroku', dyno: 'router' }));
    objects.push(batch(API, D2 + 5 * HOUR, ['Started GET "/" for 10.0.0.1'], { dyno: 'web.1' }));
    await put(aws, objects);
  });

  /** What the query must say, from the fixture itself. */
  function expected5xxByHour(): { h: string; n: number }[] {
    const counts = new Map<string, number>();
    let seed = 0;
    for (const day of [D1, D2]) {
      for (let h = 0; h < 24; h += 3) {
        const texts = routerTexts(seed++, 20);
        const n = texts.filter((t) => t.includes('status=503')).length;
        if (n > 0) counts.set(new Date(day + h * HOUR).toISOString().slice(0, 13).replace('T', ' '), n);
      }
    }
    return [...counts].sort().map(([h, n]) => ({ h, n }));
  }

  it('query reads raw objects when nothing is compacted', async () => {
    const r = await count5xxByHour();
    expect(r.stderr).toMatch(/0 compacted app-day\(s\), 17 raw object\(s\) read/);
    expect(r.code).toBe(0);
    const doc = r.json<{ engine: string; rows: { h: string; n: number }[] }>();
    expect(doc.engine).toBe('local');
    expect(doc.rows).toEqual(expected5xxByHour());
  });

  it('compact writes one object and a manifest per finished day; a second run changes nothing', async () => {
    const r = await cli(['logs', 'compact', '--app', API, '--since', '2025-06-01', '--json']);
    expect(r.code).toBe(0);
    const doc = r.json<{ days: { day: string; status: string; objects?: number; lines?: number }[] }>();
    // 2025-06-03 is today: not finished, not compacted.
    expect(doc.days.map((d) => [d.day, d.status, d.objects])).toEqual([
      ['2025-06-01', 'compacted', 8],
      ['2025-06-02', 'compacted', 9],
    ]);
    const m = await manifest(D1);
    expect(m).toMatchObject({ app: API, day: '2025-06-01', sourceObjects: 8, lines: 160 });
    expect(m.lastSourceKey).toBe(objects.filter((o) => o.time < D2).map((o) => o.key).sort().at(-1));
    const records = gunzipSync(await get(compactedKeys(API, D1).records)).toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(160);
    expect(records[0]).toMatchObject({ app: API, host: 'heroku', proc: 'router', method: 'GET', path: '/api/v1/items', status: 503, service_ms: 0, bytes: 100 });
    expect(records[0]!.time).toBe('2025-06-01 00:01:00.000');

    // The embedded engine is installed here: the same records as Parquet, named in the manifest.
    expect(m.parquet?.bytes).toBeGreaterThan(0);
    const parquet = await get(compactedKeys(API, D1).parquet);
    expect(parquet.subarray(0, 4).toString()).toBe('PAR1');
    expect(createHash('sha256').update(parquet).digest('hex')).toBe(m.parquet!.sha256);

    const again = await cli(['logs', 'compact', '--app', API, '--since', '2025-06-01', '--json']);
    expect(again.json<{ days: { status: string }[] }>().days.map((d) => d.status)).toEqual(['up-to-date', 'up-to-date']);
  });

  it('Parquet that is not the manifest\'s (another run wrote it): the JSON records are read instead, same answer', async () => {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const key = compactedKeys(API, D2).parquet;
    const good = await get(key);
    await (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from('PAR1 not this run PAR1') }));
    try {
      const r = await count5xxByHour();
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/2 compacted app-day\(s\), 0 raw object\(s\) read/);
      expect(r.json<{ rows: unknown[] }>().rows).toEqual(expected5xxByHour());
    } finally {
      await (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: good }));
    }
  });

  it('query gives the same answer from compacted days, with one download per day', async () => {
    const r = await count5xxByHour();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/2 compacted app-day\(s\), 0 raw object\(s\) read/);
    expect(r.json<{ rows: unknown[] }>().rows).toEqual(expected5xxByHour());
  });

  it('a late object: read raw beside the compacted day, then picked up by the next compaction; raw objects are kept', async () => {
    const late = batch(API, D1 + 22 * HOUR, routerTexts(99, 7), { source: 'heroku', dyno: 'router' });
    objects.push(late);
    await putLate(aws, [late]);
    const r = await count5xxByHour('SELECT count(*) AS n FROM logs');
    expect(r.stderr).toMatch(/2 compacted app-day\(s\), 1 raw object\(s\) read/);
    expect(r.json<{ rows: { n: number }[] }>().rows).toEqual([{ n: 160 + 161 + 7 }]);

    // The scheduled compactor (the receiver package's second handler) picks it up.
    const results = await runCompaction({ BUCKET_NAME: BUCKET, ALLOWED_APPS: API, COMPACT_LOOKBACK_DAYS: '2' }, { s3: await aws.s3(), now: now().getTime(), log: () => {} });
    expect(results.map((x) => [x.day, x.status, 'late' in x ? x.late : undefined])).toEqual([
      ['2025-06-01', 'compacted', 1],
      ['2025-06-02', 'up-to-date', undefined],
    ]);
    expect((await manifest(D1)).sourceObjects).toBe(9);
    const after = await count5xxByHour('SELECT count(*) AS n FROM logs');
    expect(after.stderr).toMatch(/2 compacted app-day\(s\), 0 raw object\(s\) read/);
    expect(after.json<{ rows: { n: number }[] }>().rows).toEqual([{ n: 328 }]);
    // The Lambda writes no Parquet: D1 was read from its JSON records, D2 from Parquet, one
    // answer. The CLI's next run adds Parquet to the day without compacting it again.
    expect((await manifest(D1)).parquet).toBeUndefined();
    const added = await cli(['logs', 'compact', '--app', API, '--since', '2025-06-01', '--until', '2025-06-02', '--json']);
    expect(added.json<{ days: { status: string }[] }>().days.map((d) => d.status)).toEqual(['up-to-date']);
    expect((await manifest(D1)).parquet?.bytes).toBeGreaterThan(0);
    const withParquet = await count5xxByHour('SELECT count(*) AS n FROM logs');
    expect(withParquet.json<{ rows: { n: number }[] }>().rows).toEqual([{ n: 328 }]);
    // Raw objects are never deleted.
    expect((await get(late.key)).length).toBeGreaterThan(0);
  });

  it('a manifest beside records of another run (stopped between the two writes, or two runs at once): the day is read raw, no line twice', async () => {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const putManifest = async (m: Manifest) =>
      (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: compactedKeys(API, D1).manifest, Body: JSON.stringify(m) }));
    const before = await manifest(D1);
    const late = batch(API, D1 + 23 * HOUR, routerTexts(98, 5), { source: 'heroku', dyno: 'router' });
    objects.push(late);
    await putLate(aws, [late]);
    expect((await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--json'])).code).toBe(0);
    // The records now hold the late object; the manifest says they do not.
    await putManifest(before);
    for (const m of [before, { ...before, gzipSha256: undefined }]) {
      await putManifest(m);
      const r = await count5xxByHour('SELECT count(*) AS n FROM logs');
      expect(r.stderr).toMatch(/1 compacted app-day\(s\), 10 raw object\(s\) read/);
      expect(r.json<{ rows: { n: number }[] }>().rows).toEqual([{ n: 328 + 5 }]);
    }
    // The next compaction repairs the pair.
    expect((await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--json'])).json<{ days: { status: string }[] }>().days[0]!.status).toBe('compacted');
    expect((await count5xxByHour('SELECT count(*) AS n FROM logs')).stderr).toMatch(/2 compacted app-day\(s\), 0 raw object\(s\) read/);
  });

  it('grep and fetch print the same from compacted days as from raw objects, line for line', async () => {
    const windows = [
      ['--since', '2025-06-01', '--until', '2025-06-03'],
      ['--since', '2025-06-01T12:30:00Z', '--until', '2025-06-02T06:30:00Z'],
      ['--date', '2025-06-02'],
    ];
    for (const w of windows) {
      for (const argv of [['logs', 'grep', 'status=503', '--app', API, ...w], ['logs', 'grep', '-v', '-i', 'ITEMS', '--app', API, ...w], ['logs', 'fetch', '--app', API, ...w], ['logs', 'fetch', '--raw', '--app', API, ...w, '--json']]) {
        const compacted = await cli([...argv, '--debug']);
        const raw = await cli([...argv, '--no-compacted']);
        expect(compacted.code, argv.join(' ')).toBe(0);
        expect(compacted.stdout.length).toBeGreaterThan(0);
        expect(compacted.stdout, argv.join(' ')).toBe(raw.stdout);
        // Served from the compacted days, not by one GET per object.
        expect(compacted.stderr).toMatch(/objects read from \d compacted day\(s\)/);
      }
    }
    // A late object the manifest does not list is read raw, in its place among the others.
    const late = batch(API, D2 + 4 * HOUR + 30 * 60_000, routerTexts(77, 5), { source: 'heroku', dyno: 'router' });
    objects.push(late);
    await putLate(aws, [late]);
    const mixed = await cli(['logs', 'fetch', '--app', API, '--date', '2025-06-02']);
    expect(mixed.stdout).toBe((await cli(['logs', 'fetch', '--app', API, '--date', '2025-06-02', '--no-compacted'])).stdout);
    expect(mixed.stdout).toContain('request_id=r7700 ');
  }, 180_000);

  it('a lines.gz S3 will not serve (500s past the retries): its day is read raw, same output; Ctrl-C in a compacted grep ends it', async () => {
    const proxy = await startFaultProxy(moto.endpoint);
    try {
      const via = { ...env, AWS_ENDPOINT_URL: proxy.endpoint };
      const argv = ['logs', 'fetch', '--app', API, '--since', '2025-06-01', '--until', '2025-06-03'];
      const raw = await runCli([...argv, '--no-compacted'], { env: via, now });
      proxy.setFaults([{ method: 'GET', path: (p) => p.includes('/lines/') && p.includes('2025-06-02'), status: 500, times: 100 }]);
      const r = await runCli([...argv, '--debug', '--engine', 'lines'], { env: via, now });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(raw.stdout);
      // Asked for, refused on every attempt, and then read raw.
      expect(proxy.faulted.length).toBeGreaterThanOrEqual(3);

      // The same for the day's Parquet on the embedded engine: that day is read from lines.gz, the other on the engine.
      proxy.setFaults([{ method: 'GET', path: (p) => p.includes('/parquet/') && p.includes('2025-06-02'), status: 500, times: 100 }]);
      const e = await runCli([...argv, '--debug', '--engine', 'duckdb'], { env: via, now });
      expect(e.code).toBe(0);
      expect(e.stdout).toBe(raw.stdout);
      expect(proxy.faulted.length).toBeGreaterThanOrEqual(3);
      expect(e.stderr).toMatch(/raxx-api-prod 2025-06-02: its Parquet could not be read; read from lines\.gz/);
      expect(e.stderr).toMatch(/compacted day\(s\), 1 of them by the embedded engine/);

      // Ctrl-C while the day's lines.gz or Parquet is on its way (held back by S3 answering 503 and the retries' pauses).
      for (const [engine, folder] of [['lines', '/lines/'], ['duckdb', '/parquet/']] as const) {
        proxy.setFaults([{ method: 'GET', path: (p) => p.includes(folder), status: 503, times: 100 }]);
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 150);
        const started = Date.now();
        const stopped = await runCli(['logs', 'grep', 'status=503', '--app', API, '--since', '2025-06-01', '--until', '2025-06-03', '--engine', engine], { env: via, now, signal: controller.signal });
        expect({ engine, code: stopped.code }).toEqual({ engine, code: 130 });
        expect(Date.now() - started).toBeLessThan(3_000);
      }
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('top paths and the non-router line: the columns the docs promise', async () => {
    const r = await cli(['logs', 'query', 'SELECT path, count(*) AS n FROM logs WHERE path IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3', '--app', API, '--date', '2025-06-02', '--format', 'csv']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('path,n');
    expect(lines.slice(1).map((l) => l.split(',')[0]).sort()).toEqual(['/api/v1/health', '/api/v1/items', '/api/v1/users']);
    const web = await cli(['logs', 'query', "SELECT host, proc, message FROM logs WHERE proc = 'web.1'", '--app', API, '--date', '2025-06-02', '--json']);
    expect(web.json<{ rows: unknown[] }>().rows).toEqual([{ host: 'app', proc: 'web.1', message: 'Started GET "/" for 10.0.0.1' }]);
  });

  it('the SQL cannot reach files or the network on the embedded engine', async () => {
    const r = await cli(['logs', 'query', "SELECT * FROM read_csv('/etc/passwd')", '--app', API, '--date', '2025-06-02']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the query failed: .*(disabled|external access)/i);
    expect(r.stdout).toBe('');
  });

  it('bad input: a clear error and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['logs', 'query', 'SELEC nope', '--app', API, '--date', '2025-06-02'], /the query failed: Parser Error/],
      [['logs', 'query', '   ', '--app', API], /<sql>: SQL is required/],
      [['logs', 'query', 'SELECT 1', '--engine', 'spark'], /--engine: must be local or athena/],
      [['logs', 'compact', '--app', API], /give --date D or --since 30d/],
      [['logs', 'compact', '--app', API, '--date', '2025-06-03'], /no finished UTC day/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      expect(r.stderr, argv.join(' ')).toMatch(message);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/hint: /);
    }
  });

  it('athena-setup creates the Glue table with partition projection; query --engine athena runs the call sequence', async () => {
    const dry = await cli(['logs', 'athena-setup', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const r = await cli(['logs', 'athena-setup', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/database raxx_logs: created; table raxx_logs\.logs: created/);
    const { GetTableCommand } = await import('@aws-sdk/client-glue');
    const table = (await (await aws.glue()).send(new GetTableCommand({ DatabaseName: 'raxx_logs', Name: 'logs' }))).Table!;
    expect(table.PartitionKeys?.map((k) => k.Name)).toEqual(['app', 'day']);
    expect(table.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.app.values': 'raxx-api-prod,raxx-console-prod,raxx-velvet-prod',
      'projection.day.type': 'date',
      'storage.location.template': `s3://${BUCKET}/compacted/records/app=\${app}/day=\${day}/`,
    });
    expect(table.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect((await cli(['logs', 'athena-setup', '--yes'])).stdout).toMatch(/database raxx_logs: exists; table raxx_logs\.logs: updated/);

    // moto answers the next query with these rows (it runs no SQL).
    const rows = [['h', 'n'], ['2025-06-01 00', '3'], ['2025-06-01 03', '2']].map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) }));
    const seeded = await fetch(`${env.AWS_ENDPOINT_URL}/moto-api/static/athena/query-results`, {
      method: 'POST',
      body: JSON.stringify({ account_id: '123456789012', region: 'us-east-1', results: [{ rows, column_info: [{ Name: 'h', Type: 'varchar' }, { Name: 'n', Type: 'bigint' }] }] }),
    });
    expect(seeded.ok).toBe(true);
    const q = await cli(['logs', 'query', 'SELECT 1', '--engine', 'athena', '--app', API, '--since', '2025-06-01', '--json', '--debug']);
    expect(q.code).toBe(0);
    const doc = q.json<{ engine: string; columns: string[]; rows: unknown[]; queryId: string; costUsd: number }>();
    expect(doc.engine).toBe('athena');
    expect(doc.columns).toEqual(['h', 'n']);
    expect(doc.rows).toEqual([{ h: '2025-06-01 00', n: '3' }, { h: '2025-06-01 03', n: '2' }]);
    expect(doc.queryId).toBeTruthy();
    // The window and apps narrow the table before the operator's SQL, as on the local engine.
    expect(q.stderr).toMatch(/athena SQL: WITH logs AS \(SELECT \* FROM "raxx_logs"\."logs" WHERE app IN \('raxx-api-prod'\) AND day BETWEEN '2025-06-01' AND '2025-06-03'.*\) SELECT 1/);
  });
});
