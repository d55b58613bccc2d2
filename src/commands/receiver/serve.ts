// `raxx-ops receiver serve`: the deployed Lambda's handler on loopback, fed the variables the
// function would read. With --from-lambda those come from the function's own configuration
// and are re-read as it changes, so a local stack accepts and refuses tokens exactly when the
// deployed function would during a rotation.
import { z } from 'zod';
import { configFromEnv, RECEIVER_ENV_VARS, ReceiverConfigError, type ReceiverConfig, type ReceiverEnvVar } from '@raxx/log-drain-receiver/config';
import type { DrainHandler, S3Like } from '@raxx/log-drain-receiver/handler';
import type { Context } from '../../lib/run/context.js';
import { ConfigError, UsageError } from '../../lib/core/errors.js';
import { registerSecret } from '../../lib/core/secrets.js';
import { sleep } from '../../lib/core/sleep.js';
import { createCommand, option } from '../define.js';
import * as opt from '../options.js';

/** What the Lambda reads from its environment. */
type ReceiverEnv = Partial<Record<ReceiverEnvVar, string>>;

export default createCommand({
  description: "run the receiver's handler on loopback, as the Function URL would, until Ctrl-C; one JSON log line per request on stdout",
  notes: `Without --from-lambda the receiver reads the variables the Lambda reads: DRAIN_TOKEN (required),
DRAIN_TOKEN_PREVIOUS, BUCKET_NAME (default: drain.bucket), KEY_PREFIX (default: drain.keyPrefix),
ALLOWED_APPS. Objects go to S3 through the usual AWS settings (--region, --profile,
AWS_ENDPOINT_URL_S3).`,
  examples: [
    ['DRAIN_TOKEN=dev-token raxx-ops receiver serve --port 8080', 'the handler on http://127.0.0.1:8080/'],
    ['raxx-ops receiver serve --from-lambda --env staging', 'mirror the staging function, following its token changes'],
    ["curl -u :dev-token --data-binary @batch.txt 'http://127.0.0.1:8080/?app=raxx-api-prod'", 'post a batch (the token as Basic password)'],
  ],
  options: {
    port: option(z.coerce.number({ error: 'must be a port number' }).int('must be a whole number').min(0, 'must be 0-65535').max(65535, 'must be 0-65535').default(8080), 'port to listen on (0: any free port)', { value: '<port>' }),
    host: option(z.string().min(1).default('127.0.0.1'), 'address to listen on; the drain token is the only guard, so keep it on loopback', { value: '<host>' }),
    fromLambda: option(
      z.union([z.literal(true), z.string().regex(/^[A-Za-z0-9_:.-]{1,140}$/, 'must be a Lambda function name or ARN')]).optional(),
      "take the environment from the deployed function's configuration (default: drain.functionName) and follow its changes, as a token rotation would",
      { value: '[name]' },
    ),
    poll: opt.durationOption('ms', { minMs: 50, maxMs: 60_000 }, 250, "with --from-lambda, how often to re-read the function's configuration (a bare number is ms)"),
  },
  async handler(a, ctx) {
    const functionName = a.fromLambda === undefined ? undefined : a.fromLambda === true ? ctx.config.drain.functionName : a.fromLambda;
    const { getReceiverFunction } = await import('../../lib/drains/receiver-function.js');
    const readEnv = functionName
      ? async () => pick((await getReceiverFunction(ctx, functionName)).variables)
      : () => Promise.resolve(localEnv(ctx));

    let env = await readEnv();
    const config = validate(env, functionName);
    const s3 = (await ctx.aws.s3()) as unknown as S3Like;
    // Request log lines are the command's output, as they are the Lambda's in CloudWatch.
    const log = (line: string) => ctx.out.raw(`${line}\n`);
    // The handler brings the S3 client: loaded here, not at start-up.
    const { handlerFromConfig, misconfiguredHandler } = await import('@raxx/log-drain-receiver/handler');
    let current: DrainHandler = handlerFromConfig(config, { s3, log });

    const { startReceiverServer } = await import('@raxx/log-drain-receiver/serve');
    const server = await startReceiverServer({ port: a.port, host: a.host, handler: (event, context) => current(event, context) }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') throw new UsageError(`port ${a.port} on ${a.host} is already in use`, { hint: 'choose another --port (0 picks a free one)' });
      if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new UsageError(`cannot listen on ${a.host}`, { hint: 'use a local address such as 127.0.0.1' });
      throw err;
    });

    ctx.out.info(`listening on ${server.url}/`);
    ctx.out.info(describe(config, functionName));
    if (functionName) ctx.out.info(`following ${functionName}'s configuration (every ${a.poll} ms); Ctrl-C to stop`);
    else ctx.out.info('Ctrl-C to stop');

    const follow = functionName
      ? followChanges(ctx, env, readEnv, a.poll, (next) => {
          const changed = RECEIVER_ENV_VARS.filter((k) => env[k] !== next[k]);
          env = next;
          const parsed = parse(env);
          if ('problems' in parsed) {
            // The deployed function answers 500 with this configuration, and so do we.
            current = misconfiguredHandler(parsed.problems, log);
            ctx.out.info(`${functionName} changed (${changed.join(', ')})`);
            ctx.out.warn(`the function's configuration is now invalid (${parsed.problems.join('; ')}): batches get 500 until it is fixed`);
          } else {
            current = handlerFromConfig(parsed, { s3, log });
            ctx.out.info(`${functionName} changed (${changed.join(', ')}): ${describe(parsed, functionName)}`);
          }
        })
      : Promise.resolve();

    await abortion(ctx.signal);
    await follow;
    await server.close();
    ctx.out.info('stopped');
  },
});

function pick(vars: Record<string, string | undefined>): ReceiverEnv {
  const env: ReceiverEnv = {};
  for (const k of RECEIVER_ENV_VARS) if (vars[k] !== undefined) env[k] = vars[k];
  return env;
}

/** The local environment, with the configured bucket and prefix as defaults. */
function localEnv(ctx: Context): ReceiverEnv {
  const env = pick(ctx.env);
  env.BUCKET_NAME ??= ctx.config.drain.bucket;
  env.KEY_PREFIX ??= ctx.config.drain.keyPrefix;
  registerSecret(env.DRAIN_TOKEN);
  registerSecret(env.DRAIN_TOKEN_PREVIOUS);
  return env;
}

/** The receiver's configuration, or what is wrong with it (variable names, never values). */
function parse(env: ReceiverEnv): ReceiverConfig | { problems: string[] } {
  try {
    return configFromEnv(env);
  } catch (err) {
    if (err instanceof ReceiverConfigError) return { problems: err.problems };
    throw err;
  }
}

function validate(env: ReceiverEnv, functionName: string | undefined): ReceiverConfig {
  const parsed = parse(env);
  if (!('problems' in parsed)) return parsed;
  const where = functionName ? `the environment of ${functionName}` : 'the environment';
  throw new ConfigError(`cannot serve the receiver: ${where} is not a valid receiver configuration (${parsed.problems.join('; ')})`, {
    hint: functionName ? 'check the function with `aws lambda get-function-configuration`' : 'set DRAIN_TOKEN (and BUCKET_NAME unless drain.bucket is right), or use --from-lambda',
  });
}

/** One line saying what is served, naming tokens by presence only. */
function describe(config: ReceiverConfig, functionName: string | undefined): string {
  const tokens = config.tokens.previous ? 'current and previous token' : 'current token';
  const apps = config.allowedApps ? `, apps ${config.allowedApps.join(',')}` : '';
  return `writing to s3://${config.bucket}/${config.keyPrefix}, accepting the ${tokens}${apps}${functionName ? ` of ${functionName}` : ''}`;
}

/**
 * Re-read the function's variables every `intervalMs` until the run is aborted; call
 * `onChange` when any receiver variable differs. Compared by value: RevisionId is not
 * always reported (local stand-ins omit it), and the variables are what matters.
 */
async function followChanges(ctx: Context, initial: ReceiverEnv, read: () => Promise<ReceiverEnv>, intervalMs: number, onChange: (env: ReceiverEnv) => void): Promise<void> {
  let last = JSON.stringify(initial);
  let failing = false;
  while (!ctx.signal.aborted) {
    // Ctrl-C ends the watch, not the server's run: the caller closes it.
    await sleep(intervalMs, ctx.signal).catch(() => undefined);
    if (ctx.signal.aborted) break;
    try {
      const next = await read();
      if (failing) ctx.out.info('reading the function configuration works again');
      failing = false;
      const key = JSON.stringify(next);
      if (key !== last) {
        last = key;
        onChange(next);
      }
    } catch (err) {
      // Keep serving the last configuration: a network blip must not turn batches away.
      if (!failing) ctx.out.warn(`cannot re-read the function configuration (${(err as Error).message}); still serving the last one`);
      failing = true;
    }
  }
}

function abortion(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
