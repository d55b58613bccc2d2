// `raxx-ops logs dashboard`: the log-shipping runbook's Monitoring API and status page on
// loopback, until Ctrl-C. The handler is the one the deployed function serves.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { UsageError } from '../../lib/core/errors.js';
import { registerSecret } from '../../lib/core/secrets.js';
import { createCommand, option } from '../define.js';

/** A ship request is a few bytes: anything larger is refused before it is read whole. */
const MAX_BODY = 16 * 1024;

export default createCommand({
  description: 'serve the shipping status page and Monitoring API on 127.0.0.1 until Ctrl-C',
  notes: `GET / is the status page: sources and drain apps × the last 7 days (?days=30 for 30), each cell
coloured and labelled, missing dates, sizes, freshness, the last run and its outcome; it reloads
itself every minute and loads nothing from elsewhere. GET /api/logs/health, /api/logs/status,
/api/logs/report (text), /api/logs/supabase?source=S&date=D (the shipped day's entries), and
POST /api/logs/ship {"source": S, "date": D}, which needs Authorization: Bearer
$RAXX_OPS_DASHBOARD_TOKEN and is disabled when that variable is not set. Only requests whose Host
is this address are answered (a web page elsewhere cannot reach it through DNS rebinding).`,
  examples: [
    ['raxx-ops logs dashboard', 'on http://127.0.0.1:8787/'],
    ["RAXX_OPS_DASHBOARD_TOKEN=$(openssl rand -hex 24) raxx-ops logs dashboard --port 9000", 'with manual shipping enabled'],
    ["curl -s http://127.0.0.1:8787/api/logs/health", 'the health as JSON'],
  ],
  options: {
    port: option(z.coerce.number({ error: 'must be a port number' }).int('must be a whole number').min(0, 'must be 0-65535').max(65535, 'must be 0-65535').default(8787), 'port on 127.0.0.1 (0: any free port)', { value: '<port>' }),
  },
  async handler(a, ctx) {
    const { handleDashboard, TOKEN_ENV } = await import('../../lib/shipping/dashboard.js');
    registerSecret(ctx.env[TOKEN_ENV]);
    const deps = {
      s3: () => ctx.aws.s3(),
      config: ctx.config,
      env: ctx.env,
      now: () => ctx.now().getTime(),
      endpoint: ctx.aws.endpointOf('S3'),
      signal: ctx.signal,
      via: 'dashboard',
      onWarn: (text: string) => ctx.out.warn(text),
    };
    let hosts: Set<string> = new Set();
    const server = createServer((req, res) => {
      void (async () => {
        const send = (status: number, headers: Record<string, string>, body: string) => {
          res.writeHead(status, headers);
          res.end(body);
        };
        if (!hosts.has((req.headers.host ?? '').toLowerCase())) return send(421, { 'content-type': 'text/plain' }, 'wrong host\n');
        const body = await readBody(req);
        if (body === undefined) return send(413, { 'content-type': 'application/json' }, JSON.stringify({ error: 'request body too large' }) + '\n');
        const r = await handleDashboard({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers as Record<string, string | undefined>, body }, deps);
        send(r.status, r.headers, r.body);
        ctx.out.info(`${req.method} ${(req.url ?? '/').split('?')[0]} ${r.status}`);
      })().catch((err: Error) => {
        ctx.out.warn(`dashboard: ${err.message}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new UsageError(`port ${a.port} on 127.0.0.1 is already in use`, { hint: 'choose another --port (0 picks a free one)' }) : err));
      server.listen(a.port, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    const url = `http://127.0.0.1:${port}/`;
    if (ctx.out.json) ctx.out.data({ url, shipEnabled: Boolean(ctx.env[TOKEN_ENV]) });
    else ctx.out.line(url);
    ctx.out.info(`status page on ${url}; manual shipping ${ctx.env[TOKEN_ENV] ? 'enabled (bearer token)' : `disabled (${TOKEN_ENV} not set)`}; Ctrl-C to stop`);
    await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve(), { once: true })));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    ctx.out.info('stopped');
  },
});

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
