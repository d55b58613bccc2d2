import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { tempDir } from './support/temp.js';
import { join } from 'node:path';
import { runCli } from './support/run-cli.js';
import { freePort } from './support/stand-in.js';
import { VERSION } from '../src/cli.js';

async function configFile(content: unknown): Promise<string> {
  const dir = tempDir('raxx-ops-cfg-');
  const path = join(dir, 'raxx-ops.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('raxx-ops program', () => {
  it('prints help with examples and exit codes on stdout, exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: raxx-ops');
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('Exit codes:');
    expect(r.stderr).toBe('');
  });

  it('help lists exactly the command tree the README documents', async () => {
    const commandsOf = (help: string) =>
      [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}(\w[\w-]*)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    // A group maps to its verbs; a top-level command (no "Commands:" in its help) to null.
    const tree: Record<string, string[] | null> = {};
    for (const name of commandsOf((await runCli(['--help'])).stdout)) {
      const help = (await runCli([name!, '--help'])).stdout;
      tree[name!] = help.includes('Commands:') ? (commandsOf(help) as string[]) : null;
    }
    expect(tree).toEqual({
      config: ['show'],
      drains: ['list', 'wire', 'remove', 'test', 'rotate'],
      logs: ['grep', 'fetch', 'tail', 'status', 'ship', 'report', 'dashboard', 'sources', 'compact', 'query', 'athena-setup'],
      attachments: ['restore', 'url', 'kms-status', 'lockdown', 'unlock', 'rotate-access-key', 'kms-retire'],
      audit: ['smoke', 'fix-roles'],
      receiver: ['serve'],
      doctor: null,
      completion: null,
    });
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    for (const [group, verbs] of Object.entries(tree)) {
      if (verbs === null) expect(readme).toContain(`| \`${group}`);
      else for (const verb of verbs) expect(readme).toContain(`\`${group} ${verb}`);
    }
  });

  it('prints its version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

});

describe('bad input: clear error, hint, exit code', () => {
  const cases: { name: string; argv: string[]; env?: Record<string, string>; code: number; stderr: RegExp }[] = [
    { name: 'unknown command', argv: ['nope'], code: 2, stderr: /unknown command 'nope'/ },
    { name: 'unknown flag', argv: ['config', 'show', '--bogus'], code: 2, stderr: /unknown option '--bogus'/ },
    { name: 'unknown environment', argv: ['--env', 'qa', 'config', 'show'], code: 2, stderr: /'qa' is invalid.*prod, staging/ },
    { name: 'missing config file', argv: ['--config', '/nonexistent/raxx.json', 'config', 'show'], code: 3, stderr: /cannot read config file .*no such file/ },
    // Checked before any network call, so no stand-in is needed to see it.
    { name: 'Heroku call without a token', argv: ['drains', 'list'], code: 3, stderr: /no Heroku API token[\s\S]*hint: .*heroku login.*HEROKU_API_KEY/ },
    { name: 'invalid app name', argv: ['drains', 'list', '--app', 'Raxx_API'], code: 2, stderr: /--app: .*Heroku app name/ },
    { name: 'no command at all', argv: [], code: 2, stderr: /Usage: raxx-ops[\s\S]*error: a command is needed\nhint: / },
    { name: 'a group without its command', argv: ['drains'], code: 2, stderr: /Usage: raxx-ops drains[\s\S]*error: a command is needed after "raxx-ops drains"\nhint: .*raxx-ops drains --help/ },
    { name: 'a missing argument', argv: ['logs', 'grep', '--app', 'raxx-api-prod'], code: 2, stderr: /^error: missing required argument 'pattern'\nhint: see raxx-ops logs grep --help\n$/ },
    { name: 'a missing option value', argv: ['logs', 'status', '--days'], code: 2, stderr: /^error: option '--days <n>' argument missing\nhint: see raxx-ops logs status --help\n$/ },
    { name: 'a number that is not one', argv: ['logs', 'status', '--days', 'x'], code: 2, stderr: /^error: --days: must be a number\nhint: see raxx-ops logs status --help\n$/ },
    { name: 'a doctor --since that is not a time', argv: ['doctor', '--since', 'soon'], code: 2, stderr: /^error: --since: "soon" is not a time\nhint: use a relative time/ },
    { name: 'an unknown flag of a top-level command', argv: ['doctor', '--bogus'], code: 2, stderr: /^error: unknown option '--bogus'\nhint: see raxx-ops doctor --help\n$/ },
    { name: 'an unknown flag of a command', argv: ['logs', 'status', '--bogus'], code: 2, stderr: /^error: unknown option '--bogus'\nhint: see raxx-ops logs status --help\n$/ },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, async () => {
      const r = await runCli(c.argv, { env: c.env });
      expect(r.code).toBe(c.code);
      expect(r.stderr).toMatch(c.stderr);
      expect(r.stdout).toBe('');
    });
  }

  it('an unreachable endpoint → 4 naming it, with a hint', async () => {
    const closed = await freePort();
    const endpoint = `http://127.0.0.1:${closed}`;
    const r = await runCli(['logs', 'status', '--app', 'raxx-api-prod'], { env: { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`cannot reach S3 at ${endpoint}`);
    expect(r.stderr).toMatch(/hint: /);
    expect(r.stdout).toBe('');
  });

  it('config file with a wrong type → 3 naming the field', async () => {
    const path = await configFile({ drain: { bucket: 42 } });
    const r = await runCli(['--config', path, 'config', 'show']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/drain\.bucket: .*expected string/i);
    expect(r.stderr).toMatch(/hint:/);
  });

  it('config file with an unknown field → 3 naming it', async () => {
    const path = await configFile({ drian: {} });
    const r = await runCli(['--config', path, 'config', 'show']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/drian/);
  });

  it('config file that is not JSON → 3', async () => {
    const path = await configFile('{ nope');
    const r = await runCli(['--config', path, 'config', 'show']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not valid JSON/);
    expect(r.stderr).toMatch(/\nhint: fix the file/);
  });

  it('invalid app name in config → 3', async () => {
    const path = await configFile({ apps: ['Raxx_API'] });
    const r = await runCli(['--config', path, 'config', 'show']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/apps\.0: not a valid Heroku app name/);
  });

  it.each([
    ['../../', /drain\.keyPrefix: must not contain "\." or "\.\." folders/],
    ['logs/../', /drain\.keyPrefix: must not contain "\." or "\.\." folders/],
    ['/logs/', /drain\.keyPrefix: must not start with "\/"/],
    ['logs//', /drain\.keyPrefix: must not contain an empty folder/],
    ['logs\\x/', /drain\.keyPrefix: must not contain a backslash/],
    ['logs\u0001/', /drain\.keyPrefix: must not contain control characters/],
  ])('drain.keyPrefix %j in config → 3 with the reason', async (keyPrefix, reason) => {
    const path = await configFile({ drain: { keyPrefix } });
    const r = await runCli(['--config', path, 'config', 'show']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(reason);
  });

  it('the catch-all folder name as an app in config → 3', async () => {
    const path = await configFile({ apps: ['raxx-api-prod', 'unknown'] });
    const r = await runCli(['--config', path, 'config', 'show']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/apps\.1: "unknown" is the receiver's catch-all folder, not an app/);
  });
});

describe('config show', () => {
  it('resolves the built-in production values', async () => {
    const r = await runCli(['config', 'show', '--json']);
    expect(r.code).toBe(0);
    const cfg = r.json<{ env: string; apps: string[]; drain: { bucket: string }; ssm: { drainUrl: string }; region: string }>();
    expect(cfg.env).toBe('prod');
    expect(cfg.region).toBe('us-east-1');
    expect(cfg.apps).toEqual(['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod']);
    expect(cfg.drain.bucket).toBe('raxx-heroku-logs-prod');
    expect(cfg.ssm.drainUrl).toBe('/raxx/log-drain/drain_url');
  });

  it('applies --env staging, a config file with its environments overlay, and --region last', async () => {
    const path = await configFile({ drain: { bucket: 'raxx-logs-test' }, environments: { staging: { apps: ['raxx-api-qa1'] } } });
    const r = await runCli(['--env', 'staging', '--region', 'eu-west-1', 'config', 'show', '--json'], { env: { RAXX_OPS_CONFIG: path } });
    expect(r.code).toBe(0);
    const cfg = r.json<{ env: string; apps: string[]; drain: { bucket: string; keyPrefix: string }; region: string; sources: string[] }>();
    expect(cfg.env).toBe('staging');
    expect(cfg.apps).toEqual(['raxx-api-qa1']);
    expect(cfg.drain.bucket).toBe('raxx-logs-test');
    expect(cfg.drain.keyPrefix).toBe('logs/');
    expect(cfg.region).toBe('eu-west-1');
    expect(cfg.sources.join(' ')).toContain(path);
  });

  it('uses the staging app without a file', async () => {
    const r = await runCli(['config', 'show', '--json', '--env', 'staging']);
    expect(r.json<{ apps: string[] }>().apps).toEqual(['raxx-api-staging']);
  });

  it('prints a readable table without --json', async () => {
    const r = await runCli(['config', 'show']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/drain bucket\s+raxx-heroku-logs-prod/);
    expect(r.stdout).not.toContain('\u001b[');
  });
});
