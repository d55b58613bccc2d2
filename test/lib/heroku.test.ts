import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/lib/errors.js';
import { herokuBaseUrl, netrcPassword, resolveHerokuToken } from '../../src/lib/heroku.js';

describe('Heroku credentials', () => {
  it('prefers HEROKU_API_KEY', async () => {
    expect(await resolveHerokuToken({ HEROKU_API_KEY: ' tok-env ', HOME: '/nonexistent' })).toBe('tok-env');
  });

  it('reads the api.heroku.com entry that `heroku login` writes to ~/.netrc', async () => {
    const home = await mkdtemp(join(tmpdir(), 'raxx-ops-netrc-'));
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
