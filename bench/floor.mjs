// The floor for `logs grep`: a process that lists a day prefix and GETs every object at the
// given concurrency, reading each body to the end and nothing more (no gunzip, no search).
// Listing overlaps the downloads: the day is listed in the same 16 time ranges at once as
// `logs grep` lists it (the receiver's keyRanges), each page a signed GET whose keys are read
// with a regular expression.
//   --transport lean (default): each GET signed with @smithy/signature-v4 (the SDK's signer, on
//     node:crypto, credentials from the environment) and sent with bare node:http on a
//     keep-alive agent, no SDK middleware and no retries; the S3 client is not even loaded
//     (it took some 0.2 s of start-up, which made the floor look slower than it is). It is
//     deliberately not raxx-ops' src/lib/aws/s3-get.ts: a floor of its own keeps a slower s3-get
//     visible in the ratio instead of slowing the floor with it;
//   --transport sdk: the SDK's GetObjectCommand, for reference.
//   node bench/floor.mjs --bucket B --prefix logs/app/2025/06/01/ [--concurrency 64] [--transport lean|sdk]
// (endpoint from AWS_ENDPOINT_URL, keys from AWS_ACCESS_KEY_ID/SECRET). Prints {"objects","bytes"}.
import { Agent, request } from 'node:http';
import { URLSearchParams } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { DAY_MS, keyRanges, tryParseDay } from '@raxx/log-format/object-key';
import { option, Sha256 } from './support.mjs';

const bucket = option('--bucket');
const prefix = option('--prefix', '');
const concurrency = Number(option('--concurrency', '64'));
const transport = option('--transport', 'lean');
const region = process.env.AWS_REGION ?? 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// As many sockets as downloads, plus the listings.
const agent = new Agent({ keepAlive: true, maxSockets: concurrency + 16 });

const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY, ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}) };
const signer = new SignatureV4({ credentials, region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: true });
// The SDK only for its own transport: the listing is the lean one either way.
const s3 = transport === 'sdk' ? await sdkClient() : undefined;

async function sdkClient() {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  return new S3Client({ region, forcePathStyle: true, maxAttempts: 3, requestHandler: new NodeHttpHandler({ httpAgent: agent }) });
}

/** A signed GET; resolves with the body's byte count, or with its text when `text`. */
async function signedGet(path, query = {}, text = false) {
  const { headers } = await signer.sign({ method: 'GET', protocol: endpoint.protocol, hostname: endpoint.hostname, port: Number(endpoint.port), path, query, headers: { host: endpoint.host } });
  const qs = new URLSearchParams(query).toString();
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: endpoint.hostname, port: endpoint.port, path: qs ? `${path}?${qs}` : path, headers }, (res) => {
      let n = 0;
      const chunks = [];
      res.on('data', (c) => {
        n += c.length;
        if (text) chunks.push(c);
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(text ? Buffer.concat(chunks).toString('utf8') : n) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const leanGet = (key) => signedGet(`/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`);

async function sdkGet(key) {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  let n = 0;
  for await (const chunk of res.Body) n += chunk.length;
  return n;
}

const get = transport === 'sdk' ? sdkGet : leanGet;
const queue = [];
let listing = true;
const waiters = [];
const wake = () => {
  while (waiters.length > 0) waiters.shift()();
};
let objects = 0;
let bytes = 0;

/** The day's keys in the same time ranges as `logs grep`, all ranges at once, in key order. */
async function list() {
  const m = /^(.*?)([^/]+)\/(\d{4})\/(\d{2})\/(\d{2})\/$/.exec(prefix);
  const day = m ? tryParseDay(`${m[3]}-${m[4]}-${m[5]}`) : undefined;
  const ranges = m && day !== undefined ? keyRanges(m[1], m[2], day, day + DAY_MS, 16) : [{ dayPrefix: prefix }];
  const listRange = async (range) => {
    const keys = [];
    let token;
    do {
      const query = { 'list-type': '2', prefix: range.dayPrefix, ...(range.startAfter && !token ? { 'start-after': range.startAfter } : {}), ...(token ? { 'continuation-token': token } : {}) };
      const xml = await signedGet(`/${bucket}`, query, true);
      let past = false;
      for (const [, key] of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
        if (range.before !== undefined && key >= range.before) {
          past = true;
          break;
        }
        keys.push(key);
      }
      token = !past && /<IsTruncated>true</.test(xml) ? /<NextContinuationToken>([^<]*)</.exec(xml)?.[1] : undefined;
    } while (token);
    return keys;
  };
  // Downloads start with the first range; later ranges join the queue in order.
  const pending = ranges.map(listRange);
  for (const p of pending) {
    queue.push(...(await p));
    wake();
  }
  listing = false;
  wake();
}

async function worker() {
  for (;;) {
    const key = queue.shift();
    if (key === undefined) {
      if (!listing) return;
      await new Promise((r) => waiters.push(r));
      continue;
    }
    const n = await get(key); // not `bytes += await …`: that reads `bytes` before the wait
    bytes += n;
    objects += 1;
  }
}

await Promise.all([list(), ...Array.from({ length: concurrency }, worker)]);
s3?.destroy();
agent.destroy();
process.stdout.write(JSON.stringify({ objects, bytes, transport }) + '\n');
