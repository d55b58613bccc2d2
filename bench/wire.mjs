// The wire under `logs grep`, alone: GET every object of a day prefix at a concurrency, each
// body read to its end, with
//   --client socket: raxx-ops' own src/lib/aws/s3-get.ts (its SigV4 and s3-socket.ts's HTTP/1.1);
//   --client undici: undici's Pool (one per origin, keep-alive, the same number of
//     connections) with @smithy/signature-v4 signing each request.
// The keys are listed first, untimed (the same listing for both). Prints
// {"objects","bytes","seconds","cpuMs"} for the GETs alone: wall time and the CPU (user +
// system) this process spent on them.
//   node --import tsx bench/wire.mjs --bucket B --prefix P --concurrency 256 --client socket|undici
import { Pool } from 'undici';
import { SignatureV4 } from '@smithy/signature-v4';
import { setMaxListeners } from 'node:events';
import { option, Sha256 } from './support.mjs';

const bucket = option('--bucket');
const prefix = option('--prefix', '');
const concurrency = Number(option('--concurrency', '256'));
const client = option('--client', 'socket');
const region = process.env.AWS_REGION ?? 'us-east-1';
const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'x', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'x' };
const { getObjectFast, listObjectsFast } = await import('../src/lib/aws/s3-get.ts');
const target = { region, endpoint, credentials: async () => credentials };
const signal = new AbortController().signal;
setMaxListeners(0, signal);

const list = listObjectsFast(target, bucket);
const keys = [];
for (let token; ; ) {
  const page = await list({ prefix, token }, signal);
  keys.push(...page.objects.map((o) => o.key));
  if (!page.nextToken) break;
  token = page.nextToken;
}

let getBytes;
let close = async () => undefined;
if (client === 'socket') {
  const get = getObjectFast(target, bucket);
  getBytes = async (key) => {
    const { body } = await get(key, signal);
    if (Buffer.isBuffer(body)) return body.length;
    let n = 0;
    for await (const c of body) n += c.length;
    return n;
  };
} else {
  const pool = new Pool(endpoint.origin, { connections: concurrency + 16, pipelining: 1, keepAliveTimeout: 30_000 });
  const signer = new SignatureV4({ credentials, region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: true });
  getBytes = async (key) => {
    const path = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const { headers } = await signer.sign({ method: 'GET', protocol: endpoint.protocol, hostname: endpoint.hostname, port: Number(endpoint.port), path, query: {}, headers: { host: endpoint.host } });
    const res = await pool.request({ method: 'GET', path, headers });
    let n = 0;
    for await (const c of res.body) n += c.length;
    if (res.statusCode !== 200) throw new Error(`GET ${key}: HTTP ${res.statusCode}`);
    return n;
  };
  close = () => pool.close();
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let next = 0;
let bytes = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, keys.length) }, async () => {
    while (next < keys.length) {
      const n = await getBytes(keys[next++]);
      bytes += n;
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await close();
console.log(JSON.stringify({ objects: keys.length, bytes, seconds, cpuMs: (cpu.user + cpu.system) / 1000 }));
process.exit(0);
