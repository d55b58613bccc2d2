// A shipping system with a history, on the stand-ins: moto (behind a fault proxy), the
// Supabase Management API stand-in and a Slack webhook. Two Supabase sources are shipped the
// way the daily job would, through the CLI, over the 7 days before NOW:
// - auth (required, auth_logs): every day but MISSING_AUTH_DAY, where Supabase has no rows;
// - api (optional, edge_logs, dated layout, own bucket): days 1-5; day 6 fails to upload (its
//   last run failed); day 7 has no rows.
// Two drain apps: raxx-api-prod every day, raxx-console-prod all but MISSING_APP_DAY.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildObjectKey } from '@raxx/log-format/object-key';
import { gzipSync } from 'node:zlib';
import { startMoto, type MotoServer } from './moto.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startSlack, type SlackStandIn } from './slack-webhook.js';
import { authRows, edgeRows, startSupabase, type SupabaseStandIn } from './supabase-api.js';
import { runCli } from './run-cli.js';
import { tempDir } from './temp.js';
import { createAwsClients, type AwsClients } from '../../src/lib/aws/clients.js';

export const NOW = new Date('2026-10-08T03:00:00Z');
export const DAYS = ['2026-10-01', '2026-10-02', '2026-10-03', '2026-10-04', '2026-10-05', '2026-10-06', '2026-10-07'];
export const MISSING_AUTH_DAY = '2026-10-04';
export const FAILED_API_DAY = '2026-10-06';
export const MISSING_APP_DAY = '2026-10-03';
export const DRAIN_BUCKET = 'raxx-heroku-logs-prod';
export const API_BUCKET = 'raxx-api-logs-test';
export const APPS = ['raxx-api-prod', 'raxx-console-prod'];

export interface ShippingStack {
  moto: MotoServer;
  proxy: FaultProxy;
  slack: SlackStandIn;
  supabase: SupabaseStandIn;
  aws: AwsClients;
  config: string;
  /** The CLI's environment: AWS through the proxy, Supabase, Slack, the config. */
  env: Record<string, string>;
  cli(args: string[], extra?: Record<string, string | undefined>): ReturnType<typeof runCli>;
  stop(): Promise<void>;
}

/** Buckets versioned as the runbook's buckets are; by default the drain bucket and the API source's. */
export async function createSourceBuckets(aws: AwsClients, buckets: string[] = [DRAIN_BUCKET, API_BUCKET]): Promise<void> {
  const s3 = await aws.s3();
  const { CreateBucketCommand, PutBucketVersioningCommand } = await import('@aws-sdk/client-s3');
  for (const b of buckets) {
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
  }
}

/** The Supabase Management API stand-in as the CLI's environment names it. */
export function supabaseEnv(supabase: SupabaseStandIn): Record<string, string> {
  return { SUPABASE_URL: `https://${supabase.projectRef}.supabase.co`, SUPABASE_API_URL: supabase.url, SUPABASE_ACCESS_TOKEN: supabase.token };
}

/** A config file declaring the two Supabase-pulled sources (auth in the drain bucket, api in its own). */
export async function writeSourcesConfig(prefix: string, extra: Record<string, unknown> = {}): Promise<string> {
  const config = join(tempDir(prefix), 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      ...extra,
      logSources: [
        { name: 'auth', required: true, supabase: { source: 'auth_logs' } },
        { name: 'api', layout: 'dated', bucket: API_BUCKET, supabase: { source: 'edge_logs' } },
      ],
    }),
  );
  return config;
}

export async function startShippingStack(): Promise<ShippingStack> {
  const moto = await startMoto();
  const proxy = await startFaultProxy(moto.endpoint);
  const slack = await startSlack();
  const supabase = await startSupabase();
  const aws = createAwsClients({ region: 'us-east-1', env: moto.env });
  const s3 = await aws.s3();
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  await createSourceBuckets(aws);
  const config = await writeSourcesConfig('raxx-shipping-stack-', { apps: APPS });
  const env = {
    ...moto.env,
    AWS_ENDPOINT_URL: proxy.endpoint,
    RAXX_OPS_CONFIG: config,
    SLACK_WEBHOOK_URL: slack.url,
    ...supabaseEnv(supabase),
  };
  const cli = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(args, { env: { ...env, ...extra }, now: () => NOW });

  for (const day of DAYS) if (day !== MISSING_AUTH_DAY) supabase.rows.push(...authRows(day, 40 + DAYS.indexOf(day)));
  for (const day of DAYS.slice(0, 5)) supabase.rows.push(...edgeRows(day, 20));
  must(await cli(['logs', 'ship', 'auth', '--days', '7', '--retry-base-ms', '1']), 'ship auth');
  must(await cli(['logs', 'ship', 'api', '--days', '7', '--retry-base-ms', '1']), 'ship api');
  // Day 6's rows arrive late; the rerun's upload fails every attempt.
  supabase.rows.push(...edgeRows(FAILED_API_DAY, 9));
  proxy.setFaults([{ method: 'PUT', path: (p) => p.includes(`/api/${FAILED_API_DAY}/`), times: 1000, status: 503 }]);
  const failed = await cli(['logs', 'ship', 'api', '--date', FAILED_API_DAY, '--retry-base-ms', '1']);
  if (failed.code !== 4) throw new Error(`the failing ship should fail: ${failed.code} ${failed.stderr}`);
  proxy.setFaults([]);

  for (const app of APPS) {
    for (const day of DAYS) {
      if (app === 'raxx-console-prod' && day === MISSING_APP_DAY) continue;
      const t = Date.parse(`${day}T12:00:00Z`);
      await s3.send(new PutObjectCommand({ Bucket: DRAIN_BUCKET, Key: buildObjectKey({ app, epochMs: t, id: `${app}-${day}` }), Body: gzipSync(`<190>1 ${day}T12:00:00+00:00 host app web.1 - hello\n`) }));
    }
  }
  return {
    moto,
    proxy,
    slack,
    supabase,
    aws,
    config,
    env,
    cli,
    async stop() {
      aws.destroy();
      await supabase.close();
      await slack.close();
      await proxy.close();
      await moto.stop();
    },
  };
}

function must(r: { code: number; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}`);
}
