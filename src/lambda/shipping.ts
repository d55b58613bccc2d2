// The shipping system as Lambda handlers, bundled into the receiver's zip:
//   index.dashboard   the status page and Monitoring API behind a Function URL (AWS_IAM auth)
//   index.dailyShip   the runbook's schedule: yesterday of every Supabase source, 3 attempts
//                     with backoff, a Slack message for a day that still fails
// Both are the CLI's own library code (src/lib), never its commands. Configuration: the
// config file's JSON in RAXX_OPS_CONFIG_JSON; SUPABASE_*, RAXX_OPS_DASHBOARD_TOKEN and
// SLACK_WEBHOOK_URL as for the CLI.
import { S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../lib/core/config.js';
import { handleDashboard } from '../lib/shipping/dashboard.js';
import { shipPulledDay } from '../lib/shipping/pulled-day.js';
import type { RunRecord } from '../lib/shipping/history.js';
import { postSlack } from '../lib/slack/notify.js';
import { redact, registerSecret } from '../lib/core/secrets.js';
import { backoff } from '../lib/core/sleep.js';

/** A Function URL request (payload format 2.0), as much of it as the dashboard reads. */
export interface FunctionUrlEvent {
  rawPath?: string;
  rawQueryString?: string;
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext?: { http?: { method?: string } };
}

export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export const ATTEMPTS = 3;

/** One line to the function's log (CloudWatch takes stdout), already free of secrets. */
const log = (line: string) => void process.stdout.write(`${line}\n`);

async function configFrom(env: NodeJS.ProcessEnv): Promise<ResolvedConfig> {
  const json = env.RAXX_OPS_CONFIG_JSON;
  let configPath: string | undefined;
  if (json) {
    // loadConfig validates a file; the function's variable becomes one in its own /tmp.
    configPath = join(tmpdir(), `raxx-ops-config-${process.pid}-${randomUUID()}.json`);
    await writeFile(configPath, json);
  }
  try {
    return await loadConfig({ env: env.RAXX_OPS_ENV, configPath, processEnv: { ...env, RAXX_OPS_CONFIG: undefined } });
  } finally {
    // Read once: nothing is left in /tmp (a warm function, or a test run, makes many).
    if (configPath) await rm(configPath, { force: true });
  }
}

function s3From(env: NodeJS.ProcessEnv): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  // The given environment, not only process.env: the function's is the same, a test's is not.
  const credentials = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } : undefined;
  return new S3Client({ ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}), ...(endpoint ? { endpoint, forcePathStyle: true } : {}), ...(credentials ? { credentials } : {}) });
}

export function dashboardHandler(env: NodeJS.ProcessEnv = process.env, now: () => number = Date.now) {
  registerSecret(env.RAXX_OPS_DASHBOARD_TOKEN);
  const s3 = s3From(env);
  let config: Promise<ResolvedConfig> | undefined;
  return async (event: FunctionUrlEvent): Promise<FunctionUrlResult> => {
    config ??= configFrom(env);
    const body = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
    const r = await handleDashboard(
      { method: event.requestContext?.http?.method ?? 'GET', url: `${event.rawPath ?? '/'}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`, headers: event.headers ?? {}, body },
      {
        s3: () => Promise.resolve(s3),
        config: await config,
        env,
        now,
        endpoint: env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || 'https://s3.amazonaws.com',
        signal: new AbortController().signal,
        via: `lambda:${env.AWS_LAMBDA_FUNCTION_NAME ?? 'dashboard'}`,
        onWarn: (text) => log(redact(text)),
      },
    );
    return { statusCode: r.status, headers: r.headers, body: r.body };
  };
}

export interface DailyResult {
  day: string;
  runs: RunRecord[];
  failed: { source: string; error: string; attempts: number }[];
}

/** Yesterday (UTC) of every Supabase source, each tried up to 3 times; a failure is posted to Slack. */
export function dailyShipHandler(env: NodeJS.ProcessEnv = process.env, now: () => number = Date.now) {
  const s3 = s3From(env);
  const baseMs = Number(env.SHIP_RETRY_BASE_MS ?? 5000);
  return async (): Promise<DailyResult> => {
    const config = await configFrom(env);
    const t = now();
    const day = new Date(t - 86_400_000).toISOString().slice(0, 10);
    const result: DailyResult = { day, runs: [], failed: [] };
    for (const source of config.logSources.filter((s) => s.supabase)) {
      for (let attempt = 1; ; attempt++) {
        try {
          const run = await shipPulledDay({ s3, config, env, source: source.name, day, now: t, signal: new AbortController().signal, endpoint: env.AWS_ENDPOINT_URL || 'https://s3.amazonaws.com', via: 'schedule', onWarn: (x) => log(redact(x)) });
          result.runs.push({ ...run, attempts: Math.max(run.attempts, attempt) });
          break;
        } catch (err) {
          const message = redact((err as Error).message);
          log(`daily ship: ${source.name} ${day} attempt ${attempt} failed: ${message}`);
          if (attempt === ATTEMPTS) {
            result.failed.push({ source: source.name, error: message, attempts: attempt });
            if (env.SLACK_WEBHOOK_URL) {
              await postSlack(env.SLACK_WEBHOOK_URL, `:x: log shipping: ${source.name} ${day} failed after ${attempt} attempts: ${message}`).catch((e: Error) => log(`slack: ${e.message}`));
            }
            break;
          }
          await backoff(attempt - 1, { baseMs });
        }
      }
    }
    log(JSON.stringify({ day, shipped: result.runs.map((r) => `${r.source}:${r.outcome}`), failed: result.failed.map((f) => f.source) }));
    return result;
  };
}

let dashboardInstance: ReturnType<typeof dashboardHandler> | undefined;
let dailyInstance: ReturnType<typeof dailyShipHandler> | undefined;

/** `index.dashboard`: the Function URL's handler. */
export const dashboard = (event: FunctionUrlEvent) => (dashboardInstance ??= dashboardHandler())(event);
/** `index.dailyShip`: the EventBridge schedule's handler (cron(0 2 * * ? *)). */
export const dailyShip = () => (dailyInstance ??= dailyShipHandler())();
