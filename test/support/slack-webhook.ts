// A Slack incoming-webhook stand-in on loopback: records every message posted to it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackStandIn {
  /** The webhook URL (its path plays the secret part of a real one). */
  url: string;
  messages: { text: string }[];
  close(): Promise<void>;
}

export async function startSlack(): Promise<SlackStandIn> {
  const messages: { text: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(400);
        res.end('invalid_payload');
        return;
      }
      messages.push(JSON.parse(body) as { text: string });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/slacksecrettoken123`,
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
