// A loopback HTTP proxy in front of the local S3 stand-in that models real S3 for benchmarks:
//
// - every request waits a fixed delay before it is answered (default 40 ms: a small GET's
//   time to first byte from a laptop to us-east-1), so round trips cost what they cost on
//   real S3 and concurrency pays off the way it does there;
// - a socket's first request waits two more delays: a new connection's TCP and TLS
//   handshakes cost two extra round trips before S3 sees the request, so opening more
//   sockets is not free, for every client alike;
// - GETs (objects and listings) are answered from a cache the proxy fills on the first
//   read: the bucket does not change while the bench measures, and the stand-in serialises
//   requests (moto answers a few hundred small GETs a second and takes half a second to list
//   1,000 keys) while S3 serves thousands of GETs per second per prefix. Every client sees
//   the same cache: prime it before measuring (one pass at 0 ms) and the comparison is fair.
//   HEAD, PUT and the rest are always forwarded, and a write drops the cached answers of its
//   object (a rewritten manifest is read anew).
//
// Usage as a module: `const p = await startLatencyProxy({ target, delayMs })` → `{ url,
// setDelay(ms), stats, close() }`. As a script: `node bench/latency-proxy.mjs --target URL
// [--delay 40] [--port 0] [--no-cache]` prints its URL and runs until Ctrl-C.
import { createServer, request as httpRequest, Agent } from 'node:http';
import { pathToFileURL, URLSearchParams } from 'node:url';
import { option } from './support.mjs';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

/** A GET's cache key: the decoded path and the sorted query, without the SDK's `x-id`. */
function cacheKey(req) {
  if (req.method !== 'GET' || req.headers.range) return undefined;
  const url = new URL(req.url, 'http://proxy');
  const query = [...url.searchParams.entries()].filter(([k]) => k !== 'x-id').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${decodeURIComponent(url.pathname)}?${new URLSearchParams(query).toString()}`;
}

export async function startLatencyProxy({ target, delayMs = 40, cache = true, port = 0 } = {}) {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const stored = new Map();
  const stats = { requests: 0, connections: 0, forwarded: 0, cacheHits: 0 };
  const served = new WeakSet();
  let delay = delayMs;
  const sockets = new Set();

  const server = createServer((req, res) => {
    stats.requests += 1;
    // The handshakes of a new connection: two extra round trips on its first request.
    const fresh = !served.has(req.socket);
    if (fresh) {
      served.add(req.socket);
      stats.connections += 1;
    }
    const wait = fresh ? delay * 3 : delay;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      // A write to an object (logs compact rewriting a manifest) drops what was cached of it.
      if (req.method !== 'GET' && req.method !== 'HEAD') forget(req);
      const key = cache ? cacheKey(req) : undefined;
      const answer = () => {
        const hit = key !== undefined ? stored.get(key) : undefined;
        if (hit) {
          stats.cacheHits += 1;
          res.writeHead(hit.status, hit.headers);
          res.end(hit.body);
          return;
        }
        stats.forwarded += 1;
        forward(req, Buffer.concat(chunks), res, key);
      };
      if (wait > 0) setTimeout(answer, wait);
      else answer();
    });
  });

  function forget(req) {
    const path = `${decodeURIComponent(new URL(req.url, 'http://proxy').pathname)}?`;
    for (const k of stored.keys()) if (k.startsWith(path)) stored.delete(k);
  }

  function forward(req, body, res, key) {
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const up = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
      (upRes) => {
        const out = [];
        upRes.on('data', (c) => out.push(c));
        upRes.on('end', () => {
          const buf = Buffer.concat(out);
          const resHeaders = {};
          for (const [k, v] of Object.entries(upRes.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) resHeaders[k] = v;
          resHeaders['content-length'] = String(buf.length);
          if (key !== undefined && upRes.statusCode === 200) stored.set(key, { status: 200, headers: resHeaders, body: buf });
          res.writeHead(upRes.statusCode ?? 502, resHeaders);
          res.end(buf);
        });
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${err.message}`);
    });
    up.end(body);
  }

  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    stats,
    get cached() {
      return stored.size;
    },
    setDelay(ms) {
      delay = ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const target = option('--target', process.env.AWS_ENDPOINT_URL);
  if (!target) {
    console.error('usage: node bench/latency-proxy.mjs --target http://127.0.0.1:5000 [--delay 40] [--port 0] [--no-cache]');
    process.exit(2);
  }
  const p = await startLatencyProxy({ target, delayMs: Number(option('--delay', '40')), port: Number(option('--port', '0')), cache: !args.includes('--no-cache') });
  console.log(p.url);
  process.on('SIGINT', () => void p.close().then(() => process.exit(0)));
}
