// A loopback proxy in front of moto (or another proxy) that makes Lambda's configuration behave
// as in AWS where moto does not: every configuration answer carries a RevisionId, which changes
// on every UpdateFunctionConfiguration, and an update sent with a stale RevisionId is refused
// with 412 PreconditionFailedException. It can also hold chosen requests (a slow Lambda or SSM)
// or hold an answer after the change was made (the state moves on while the caller waits).
import { createServer, request } from 'node:http';
import { randomUUID } from 'node:crypto';

export interface AwsRequest {
  method: string;
  path: string;
  /** X-Amz-Target of JSON APIs (SSM): e.g. AmazonSSM.GetParameters. */
  target: string;
  body: string;
}

export interface LambdaRevisions {
  url: string;
  /** The current RevisionId of a function (created on first sight). */
  revision(functionName: string): string;
  /** Every UpdateFunctionConfiguration seen: its function, the RevisionId sent, and the answer. */
  updates: { functionName: string; sent: string | undefined; status: number }[];
  /**
   * Matching requests wait `beforeMs` before they are passed on, and their answer waits
   * `afterMs` once it came back (the change is made, the caller does not know yet). `times`
   * limits how many (default 1). `before` runs before the request is passed on, `during` once
   * its answer came back and before it is sent. `dropAnswer` breaks the connection instead of
   * answering: the change is made, the caller hears a network error (and the SDK retries).
   */
  hold(match: (req: AwsRequest) => boolean, opts: { beforeMs?: number; afterMs?: number; times?: number; before?: () => Promise<void>; during?: () => Promise<void>; dropAnswer?: boolean }): void;
  stop(): Promise<void>;
}

const CONFIGURATION = /^\/2015-03-31\/functions\/([^/?]+)\/configuration(?:\?|$)/;
const FUNCTION = /^\/2015-03-31\/functions\/([^/?]+)(?:\?|$)/;

export async function startLambdaRevisions(target: string): Promise<LambdaRevisions> {
  const upstream = new URL(target);
  const revisions = new Map<string, string>();
  const revision = (name: string) => {
    const fn = decodeURIComponent(name).replace(/^arn:.*:function:/, '');
    if (!revisions.has(fn)) revisions.set(fn, randomUUID());
    return fn;
  };
  const updates: LambdaRevisions['updates'] = [];
  let holds: { match: (r: AwsRequest) => boolean; beforeMs: number; afterMs: number; left: number; before?: (() => Promise<void>) | undefined; during?: (() => Promise<void>) | undefined; dropAnswer: boolean }[] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const path = req.url ?? '/';
        const method = req.method ?? 'GET';
        const info: AwsRequest = { method, path, target: String(req.headers['x-amz-target'] ?? ''), body: body.toString('utf8') };
        const hold = holds.find((h) => h.left > 0 && h.match(info));
        if (hold) hold.left--;
        if (hold?.beforeMs) await sleep(hold.beforeMs);
        if (hold?.before) await hold.before();

        const config = CONFIGURATION.exec(path);
        const fnOnly = config ? undefined : FUNCTION.exec(path);
        const name = config ? revision(config[1]!) : fnOnly && method === 'GET' ? revision(fnOnly[1]!) : undefined;
        let forwarded = body;
        if (config && method === 'PUT') {
          const sent = JSON.parse(body.toString('utf8') || '{}') as { RevisionId?: string };
          if (sent.RevisionId !== undefined && sent.RevisionId !== revisions.get(name!)) {
            updates.push({ functionName: name!, sent: sent.RevisionId, status: 412 });
            res.writeHead(412, { 'content-type': 'application/json', 'x-amzn-errortype': 'PreconditionFailedException' });
            res.end(JSON.stringify({ Type: 'User', message: 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id' }));
            return;
          }
          delete sent.RevisionId;
          forwarded = Buffer.from(JSON.stringify(sent));
        }
        const headers = { ...req.headers, 'content-length': String(forwarded.length) };
        const up = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
          const out = request({ host: upstream.hostname, port: upstream.port, method, path, headers }, (r) => {
            const got: Buffer[] = [];
            r.on('data', (c: Buffer) => got.push(c));
            r.on('end', () => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(got) }));
            r.on('error', reject);
          });
          out.on('error', reject);
          out.end(forwarded);
        });
        let answer = up.body;
        if (name && up.status < 300) {
          if (config && method === 'PUT') {
            revisions.set(name, randomUUID());
            updates.push({ functionName: name, sent: (JSON.parse(body.toString('utf8') || '{}') as { RevisionId?: string }).RevisionId, status: up.status });
          }
          const doc = JSON.parse(up.body.toString('utf8')) as Record<string, unknown> & { Configuration?: Record<string, unknown> };
          if (doc.Configuration) doc.Configuration.RevisionId = revisions.get(name);
          else doc.RevisionId = revisions.get(name);
          answer = Buffer.from(JSON.stringify(doc));
        }
        if (hold?.afterMs) await sleep(hold.afterMs);
        if (hold?.during) await hold.during();
        if (hold?.dropAnswer) {
          res.socket?.destroy();
          return;
        }
        const outHeaders: Record<string, string | string[] | undefined> = { ...up.headers, 'content-length': String(answer.length) };
        delete outHeaders['transfer-encoding'];
        res.writeHead(up.status, outHeaders);
        res.end(answer);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    revision: (fn) => revisions.get(revision(fn))!,
    updates,
    hold(match, opts) {
      holds.push({ match, beforeMs: opts.beforeMs ?? 0, afterMs: opts.afterMs ?? 0, left: opts.times ?? 1, before: opts.before, during: opts.during, dropAnswer: opts.dropAnswer ?? false });
    },
    stop() {
      holds = [];
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
