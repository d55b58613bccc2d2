// Stand-ins the drain tests share: a proxy in front of the Heroku API stand-in that can hold or
// misreport requests, and the receiver served locally from the function's environment.
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AwsClients } from '../../src/lib/aws/clients.js';
import { createBucket, createReceiverFunction, putDrainParameters } from './aws-fixtures.js';
import { runCli, type CliResult } from './run-cli.js';
import { freePort, waitFor } from './stand-in.js';

export interface HerokuProxy {
  url: string;
  /** Resolves once every answer held so far (`holdAnswerMs`) has been let go. */
  held(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A proxy in front of the Heroku API stand-in: `hook` may hold a request (`delayMs`), pass it
 * on and then answer 503 anyway (`answer503`: the change is made, the client hears a failure),
 * pass it on and hold its answer (`holdAnswerMs`: past the client's deadline), or break the
 * connection without passing it on (`drop`).
 */
export async function startHerokuProxy(
  target: string,
  hook: (q: { method: string; path: string }) => { delayMs?: number; answer503?: boolean; holdAnswerMs?: number; drop?: boolean },
): Promise<HerokuProxy> {
  const upstream = new URL(target);
  const holding: Promise<void>[] = [];
  const server = createServer((req, res) => {
    const how = hook({ method: req.method ?? 'GET', path: req.url ?? '/' });
    if (how.drop) {
      // The request never reaches Heroku and no answer comes: the connection just breaks.
      req.resume();
      req.on('end', () => setTimeout(() => req.socket.destroy(), how.delayMs ?? 0));
      return;
    }
    const forward = () => {
      const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up: IncomingMessage) => {
        if (how.answer503) {
          up.resume();
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: 'service_unavailable', message: 'Service unavailable.' }));
          return;
        }
        if (how.holdAnswerMs) {
          // The change is made; its answer comes too late for the caller.
          const got: Buffer[] = [];
          up.on('data', (c: Buffer) => got.push(c));
          holding.push(
            new Promise<void>((resolve) =>
              up.on('end', () =>
                setTimeout(() => {
                  resolve();
                  if (res.destroyed) return;
                  res.writeHead(up.statusCode ?? 502, up.headers);
                  res.end(Buffer.concat(got));
                }, how.holdAnswerMs),
              ),
            ),
          );
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (how.delayMs) setTimeout(forward, how.delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    async held() {
      await Promise.all(holding);
    },
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ServedReceiver {
  base: string;
  /** Stops the server (as Ctrl-C would) and returns what the run printed. */
  stop(): Promise<CliResult>;
}

/** `raxx-ops receiver serve` on a free loopback port, once it answers (or its early exit, as an error). */
export async function serveReceiver(args: string[], env: Record<string, string>): Promise<ServedReceiver> {
  const port = await freePort();
  const ac = new AbortController();
  const run = runCli(['receiver', 'serve', '--port', String(port), ...args], { env, signal: ac.signal });
  let early: CliResult | undefined;
  void run.then((r) => (early = r));
  await waitFor(async () => {
    if (early) throw new Error(`receiver serve exited ${early.code}: ${early.stderr}`);
    return (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined)) !== undefined;
  }, 'receiver serve');
  return {
    base: `http://127.0.0.1:${port}/`,
    stop() {
      ac.abort();
      return run;
    },
  };
}

/**
 * `raxx-ops receiver serve --from-lambda`: the receiver on loopback with the function's
 * environment (BUCKET_NAME and the tokens), following its changes as the deployed function would.
 */
export async function startReceiver(awsEnv: Record<string, string>, functionName: string): Promise<{ base: string; stop(): Promise<void> }> {
  const served = await serveReceiver(['--from-lambda', functionName, '--poll', '100'], awsEnv);
  return {
    base: served.base,
    async stop() {
      const r = await served.stop();
      if (r.code !== 0) throw new Error(`receiver serve exited ${r.code}: ${r.stderr}`);
    },
  };
}

/**
 * The drain as the runbooks leave it: the bucket, the receiver function (serving on loopback,
 * following the function), and the SSM parameters naming its URL and token.
 */
export async function startDrainStack(aws: AwsClients, awsEnv: Record<string, string>, opts: { bucket: string; functionName: string; token: string }): Promise<{ base: string; stop(): Promise<void> }> {
  await createBucket(aws, opts.bucket);
  await createReceiverFunction(aws, awsEnv, { functionName: opts.functionName, variables: { BUCKET_NAME: opts.bucket, DRAIN_TOKEN: opts.token, KEY_PREFIX: 'logs/' } });
  const receiver = await startReceiver(awsEnv, opts.functionName);
  await putDrainParameters(aws, { url: `${receiver.base}?token=${opts.token}`, token: opts.token });
  return receiver;
}
