// The floor for `logs grep`: a process that lists a day prefix and GETs every object at the
// given concurrency, reading each body to the end and nothing more (no gunzip, no search).
// Listing (the SDK's ListObjectsV2, page after page) overlaps the downloads.
//   --transport lean (default): each GET signed with the SDK's SigV4 signer and sent with bare
//     node:http on a keep-alive agent with 64 sockets, no SDK middleware and no retries. It is
//     deliberately not raxx-ops' src/lib/s3-get.ts: a floor of its own keeps a slower s3-get
//     visible in the ratio instead of slowing the floor with it;
//   --transport sdk: the SDK's GetObjectCommand, for reference.
//   node bench/floor.mjs --bucket B --prefix logs/app/2025/06/01/ [--concurrency 64] [--transport lean|sdk]
// (endpoint from AWS_ENDPOINT_URL, keys from AWS_ACCESS_KEY_ID/SECRET). Prints {"objects","bytes"}.
import { Agent, request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const bucket = opt('--bucket');
const prefix = opt('--prefix', '');
const concurrency = Number(opt('--concurrency', '64'));
const transport = opt('--transport', 'lean');
const region = process.env.AWS_REGION ?? 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { S3Client, ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
const { NodeHttpHandler } = await import('@smithy/node-http-handler');
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const s3 = new S3Client({ region, forcePathStyle: true, maxAttempts: 3, requestHandler: new NodeHttpHandler({ httpAgent: agent }) });

const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
const signer = new SignatureV4({ credentials: s3.config.credentials, region, service: 's3', sha256: s3.config.sha256, uriEscapePath: false, applyChecksum: true });

async function leanGet(key) {
  const path = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const { headers } = await signer.sign({ method: 'GET', protocol: endpoint.protocol, hostname: endpoint.hostname, port: Number(endpoint.port), path, query: {}, headers: { host: endpoint.host } });
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: endpoint.hostname, port: endpoint.port, path, headers }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`GET ${key}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function sdkGet(key) {
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

async function list() {
  let token;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of res.Contents ?? []) queue.push(o.Key);
    wake();
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
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
    bytes += await get(key);
    objects += 1;
  }
}

await Promise.all([list(), ...Array.from({ length: concurrency }, worker)]);
s3.destroy();
agent.destroy();
process.stdout.write(JSON.stringify({ objects, bytes, transport }) + '\n');
