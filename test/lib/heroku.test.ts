import { writeFile } from 'node:fs/promises';
import { tempDir } from '../support/temp.js';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ServiceError, UsageError } from '../../src/lib/errors.js';
import { HerokuApi, herokuBaseUrl, netrcPassword, resolveHerokuToken } from '../../src/lib/heroku.js';
import { startHerokuApi, type HerokuApiServer } from '../support/heroku-api.js';

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

  it('parses single-line netrc entries and ignores default', () => {
    expect(netrcPassword('default login x password y machine api.heroku.com login a password b', 'api.heroku.com')).toBe('b');
    expect(netrcPassword('machine other login a password b', 'api.heroku.com')).toBeUndefined();
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
  let api: HerokuApiServer;
  let heroku: HerokuApi;
  beforeEach(async () => {
    api = await startHerokuApi({ apps: ['raxx-api-prod'] });
    heroku = new HerokuApi({ token: api.token, baseUrl: api.url, retryBaseMs: 5 });
  });
  afterEach(() => api.stop());

  it('a 404 names what is missing: the app, or the drain on an app that exists', async () => {
    // A missing app is bad input (2), like an invalid name; a missing drain is Heroku's answer.
    const noApp = await rejection<UsageError>(heroku.listDrains('raxx-nope-prod'));
    expect(noApp).toBeInstanceOf(UsageError);
    expect(noApp.message).toBe('Heroku app "raxx-nope-prod" not found, or not visible to this token (Couldn\'t find that app.)');
    expect(noApp.exitCode).toBe(2);

    const noDrain = await rejection<ServiceError>(heroku.removeDrain('raxx-api-prod', '01234567-89ab-cdef-0123-456789abcdef'));
    expect(noDrain.message).toBe('log drain not found on Heroku app "raxx-api-prod" (Couldn\'t find that log drain.)');
    expect(noDrain.code).toBe('not_found');
  });

  it('retries a read on 429 and 5xx, but never a write', async () => {
    api.failNext(2, 429, { method: 'GET' });
    expect(await heroku.listDrains('raxx-api-prod')).toEqual([]);
    expect(heroku.calls.map((c) => c.method)).toEqual(['GET', 'GET', 'GET']);

    api.failNext(1, 503, { method: 'POST' });
    const err = await rejection<ServiceError>(heroku.addDrain('raxx-api-prod', 'https://drain.example/?app=raxx-api-prod'));
    expect(err).toBeInstanceOf(ServiceError);
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
