import { writeFile } from 'node:fs/promises';
import { tempDir } from '../support/temp.js';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, InterruptedError, ServiceError, UsageError } from '../../src/lib/core/errors.js';
import { HerokuClientRequest, OVERRIDDEN } from '../../src/lib/heroku/request.js';
import { HerokuApi, herokuBaseUrl, resolveHerokuToken } from '../../src/lib/heroku/client.js';
import { startHerokuApi } from '../support/heroku-api.js';
import { useHeroku } from '../support/fixtures.js';
import { waitFor } from '../support/stand-in.js';

describe('Heroku credentials', () => {
  it('prefers HEROKU_API_KEY', async () => {
    expect(await resolveHerokuToken({ HEROKU_API_KEY: ' tok-env ', HOME: '/nonexistent' })).toBe('tok-env');
  });

  it('reads the api.heroku.com entry that `heroku login` writes to ~/.netrc', async () => {
    const home = tempDir('raxx-ops-netrc-');
    await writeFile(
      join(home, '.netrc'),
      ['machine git.heroku.com', '  login ops@raxx.example', '  password git-token', 'machine api.heroku.com', '  login ops@raxx.example', '  password api-token', ''].join('\n'),
    );
    expect(await resolveHerokuToken({ HOME: home })).toBe('api-token');
  });

  it('without either: ConfigError with the heroku login hint', async () => {
    const err = await resolveHerokuToken({ HOME: '/nonexistent' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).hint).toMatch(/heroku login.*HEROKU_API_KEY/);
  });

  it('reads single-line netrc entries, a `default` entry, and $NETRC (netrc-parser)', async () => {
    const home = tempDir('raxx-ops-netrc-');
    await writeFile(join(home, '.netrc'), 'default login x password y\nmachine api.heroku.com login a password b\n');
    expect(await resolveHerokuToken({ HOME: home })).toBe('b');
    await writeFile(join(home, 'other'), 'machine git.heroku.com login a password c\n');
    const err = await resolveHerokuToken({ HOME: home, NETRC: join(home, 'other') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    // HEROKU_API_KEY still comes first.
    expect(await resolveHerokuToken({ HOME: home, HEROKU_API_KEY: 'from-env' })).toBe('from-env');
  });

  it('HEROKU_API_URL overrides the API address; a bad one is a configuration error', () => {
    expect(herokuBaseUrl({})).toBe('https://api.heroku.com');
    expect(herokuBaseUrl({ HEROKU_API_URL: 'http://127.0.0.1:5000/' })).toBe('http://127.0.0.1:5000');
    expect(() => herokuBaseUrl({ HEROKU_API_URL: 'not a url' })).toThrow(ConfigError);
  });
});

async function rejection<E>(p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected the call to fail');
}

describe('HerokuApi against the Platform API stand-in', () => {
  const api = useHeroku({ apps: ['raxx-api-prod'] });
  let heroku: HerokuApi;
  beforeEach(() => {
    heroku = new HerokuApi({ token: api.token, baseUrl: api.url, retryBaseMs: 5 });
  });

  it('a 404 names what is missing: the app, or the drain on an app that exists', async () => {
    // A missing app is bad input (2), like an invalid name; a missing drain is Heroku's answer.
    const noApp = await rejection<UsageError>(heroku.listDrains('raxx-nope-prod'));
    expect(noApp).toBeInstanceOf(UsageError);
    expect(noApp.message).toBe('Heroku app "raxx-nope-prod" not found, or not visible to this token (Couldn\'t find that app.)');
    expect(noApp.exitCode).toBe(2);

    const noDrain = await rejection<ServiceError>(heroku.removeDrain('raxx-api-prod', '01234567-89ab-cdef-0123-456789abcdef'));
    expect(noDrain.message).toBe('log drain not found on Heroku app "raxx-api-prod" (Couldn\'t find that log drain.)');
    expect(noDrain.code).toBe('not_found');
    expect(noDrain.hint).toMatch(/run the command again/);
  });

  it('retries a read on 429 and 5xx, but never a write', async () => {
    api.failNext(2, 429, { method: 'GET' });
    expect(await heroku.listDrains('raxx-api-prod')).toEqual([]);
    expect(heroku.calls.map((c) => c.method)).toEqual(['GET', 'GET', 'GET']);

    api.failNext(1, 503, { method: 'POST' });
    const err = await rejection<ServiceError>(heroku.addDrain('raxx-api-prod', 'https://drain.example/?app=raxx-api-prod'));
    expect(err).toBeInstanceOf(ServiceError);
    // Every failure says what to do (a 5xx: Heroku's status page, then run again).
    expect(err.hint).toMatch(/status\.heroku\.com and run again/);
    expect(heroku.calls.filter((c) => c.method === 'POST')).toHaveLength(1);
    expect(api.drains('raxx-api-prod')).toEqual([]);
  });

  it('a wrong token is a configuration error (exit 3) with the login hint, and the token is not in it', async () => {
    const bad = new HerokuApi({ token: 'wrong-token-5f1e2d3c4b5a', baseUrl: api.url });
    const err = await rejection<ConfigError>(bad.listDrains('raxx-api-prod'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.hint).toMatch(/heroku login/);
    expect(`${err.message} ${err.hint}`).not.toContain('wrong-token-5f1e2d3c4b5a');
  });
});

/** A TCP server that answers nothing: it either holds each connection open or cuts it. */
async function silentServer(mode: 'hold' | 'cut'): Promise<{ url: string; connections: () => number; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createNetServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (mode === 'cut') socket.once('data', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("heroku-client's own behaviour, wrapped", () => {
  it('pins the heroku-client members the wrapper overrides (an upgrade that renames one fails here)', () => {
    for (const name of OVERRIDDEN) expect(typeof (HerokuClientRequest.prototype as unknown as Record<string, unknown>)[name], name).toBe('function');
  });

  it('a POST or DELETE cut by a socket error is sent once (heroku-client alone sends it up to 5 times); a GET is repeated', async () => {
    const srv = await silentServer('cut');
    try {
      const heroku = new HerokuApi({ token: 'tok-123456', baseUrl: srv.url, retryBaseMs: 5 });
      const post = await rejection<ServiceError>(heroku.addDrain('raxx-api-prod', 'https://drain.example/?token=t0ps3cr3t'));
      expect(post).toBeInstanceOf(ServiceError);
      expect(post.message).toMatch(/connection to the Heroku API broke during POST .*may or may not have been made/);
      expect(post.hint).toMatch(/run the command again/);
      await new Promise((r) => setTimeout(r, 1_200)); // heroku-client's first retry would come after 1 s
      expect(srv.connections()).toBe(1);

      await rejection(heroku.removeDrain('raxx-api-prod', 'some-id'));
      await new Promise((r) => setTimeout(r, 1_200)); // the window of that first retry again
      expect(srv.connections()).toBe(2);

      await rejection(heroku.listDrains('raxx-api-prod'));
      expect(srv.connections()).toBe(2 + 4); // 1 + retries (3)
    } finally {
      await srv.stop();
    }
  });

  it('a refused connection fails at once, and every later call fails with it unsent', async () => {
    const srv = await silentServer('hold');
    await srv.stop(); // the port is now closed
    const heroku = new HerokuApi({ token: 'tok-123456', baseUrl: srv.url, retryBaseMs: 5 });
    const started = Date.now();
    const first = await rejection<ServiceError>(heroku.listDrains('raxx-api-prod'));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(first.message).toBe(`cannot reach the Heroku API at ${srv.url} (ECONNREFUSED)`);
    expect(first.exitCode).toBe(4);
    expect(first.hint).toMatch(/HEROKU_API_URL/);
    expect(await rejection(heroku.listDrains('raxx-console-prod'))).toBe(first);
    expect(heroku.calls).toHaveLength(1);
  });

  it('a call with no answer times out with a clear error, and is not sent again after it', async () => {
    const srv = await silentServer('hold');
    try {
      const heroku = new HerokuApi({ token: 'tok-123456', baseUrl: srv.url, timeoutMs: 300, retryBaseMs: 5 });
      const started = Date.now();
      const err = await rejection<ServiceError>(heroku.listDrains('raxx-api-prod'));
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(err.message).toBe(`the Heroku API at ${srv.url} did not answer within 0.3 s`);
      expect(err.code).toBe('ETIMEDOUT');
      await new Promise((r) => setTimeout(r, 1_200)); // the window of heroku-client's first retry
      expect(srv.connections()).toBe(1);
    } finally {
      await srv.stop();
    }
  });

  it('Ctrl-C abandons a read in flight and nothing is sent again; a call made afterwards (a rollback) still runs', async () => {
    const srv = await silentServer('hold');
    const api = await startHerokuApi({ apps: ['raxx-api-prod'] });
    try {
      const ac = new AbortController();
      const heroku = new HerokuApi({ token: 'tok-123456', baseUrl: srv.url, signal: ac.signal, retryBaseMs: 5 });
      const pending = rejection(heroku.listDrains('raxx-api-prod'));
      await waitFor(() => srv.connections() === 1, 'the read to reach the API');
      ac.abort();
      expect(await pending).toBeInstanceOf(InterruptedError);
      await new Promise((r) => setTimeout(r, 1_200)); // the window of heroku-client's first retry
      expect(srv.connections()).toBe(1);

      const after = new HerokuApi({ token: api.token, baseUrl: api.url, signal: ac.signal });
      expect(await after.listDrains('raxx-api-prod')).toEqual([]);
    } finally {
      await srv.stop();
      await api.stop();
    }
  });

  it("under DEBUG=* heroku-client's debug output would hold drain tokens; through the wrapper nothing is written", async () => {
    const api = await startHerokuApi({ apps: ['raxx-api-prod'] });
    const secret = 'dbgsecret-4b9e2f7a1c3d';
    api.addDrain('raxx-api-prod', `https://drain.example/?token=${secret}&app=raxx-api-prod`);
    const debug = createRequire(import.meta.url)('debug') as { enable(ns: string): void; disable(): string };
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string | Uint8Array) => (written.push(String(chunk)), true);
    debug.enable('*');
    try {
      // The control: heroku-client on its own prints the body with the token.
      const HerokuClient = (await import('heroku-client')).default;
      await new HerokuClient({ token: api.token, host: api.url }).get('/apps/raxx-api-prod/log-drains');
      expect(written.join('')).toContain(secret);
      written.length = 0;

      const heroku = new HerokuApi({ token: api.token, baseUrl: api.url });
      expect(await heroku.listDrains('raxx-api-prod')).toHaveLength(1);
      expect(written.join('')).toBe('');
    } finally {
      debug.disable();
      process.stderr.write = write;
      await api.stop();
    }
  });
});

describe('what Heroku tells the operator', () => {
  const api = useHeroku({ apps: ['raxx-api-prod', 'raxx-console-prod'] });

  it('Warning-Message headers are passed on once each, redacted', async () => {
    const warnings: string[] = [];
    const heroku = new HerokuApi({ token: api.token, baseUrl: api.url, onWarning: (m) => warnings.push(m) });
    api.setResponseHeaders({ 'Warning-Message': 'This API version is deprecated; see https://x.example/?token=abcdef123456' });
    await heroku.listDrains('raxx-api-prod');
    await heroku.listDrains('raxx-console-prod');
    expect(warnings).toEqual(['This API version is deprecated; see https://x.example/?token=****']);
  });

  it("a two_factor 403 is a credentials error (exit 3) naming the second factor, for that app only", async () => {
    const heroku = new HerokuApi({ token: api.token, baseUrl: api.url });
    api.failNext(1, 403, { pathIncludes: 'raxx-api-prod', body: { id: 'two_factor', message: 'A second authentication factor or pre-authorization is required for this request.' } });
    const err = await rejection<ConfigError>(heroku.listDrains('raxx-api-prod'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/^Heroku asks for a second factor \(two_factor\): A second authentication factor/);
    expect(err.hint).toMatch(/two-factor.*heroku drains -a <app>/);
    expect(await heroku.listDrains('raxx-console-prod')).toEqual([]);
  });

  it('a 401 is reported for the first call and every later one fails with it, unsent', async () => {
    const heroku = new HerokuApi({ token: 'wrong-token-123456', baseUrl: api.url });
    const first = await rejection<ConfigError>(heroku.listDrains('raxx-api-prod'));
    expect(first.exitCode).toBe(3);
    expect(await rejection(heroku.listDrains('raxx-console-prod'))).toBe(first);
    expect(api.calls).toHaveLength(1);
  });

  it('Range paging still follows Next-Range', async () => {
    await api.restart({ apps: ['raxx-api-prod'], pageSize: 2 });
    for (let i = 0; i < 5; i++) api.addDrain('raxx-api-prod', `https://drain${i}.example/`);
    const heroku = new HerokuApi({ token: api.token, baseUrl: api.url });
    expect(await heroku.listDrains('raxx-api-prod')).toHaveLength(5);
    expect(api.calls.length).toBe(3);
  });
});
