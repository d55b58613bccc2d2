// `raxx-ops --help` must start fast: the SDK, pg, heroku-client and ora load only when a
// command needs them. Each mock factory runs only if its module is actually imported.
import { describe, expect, it, vi } from 'vitest';
import { runCli } from './support/run-cli.js';

const loaded = vi.hoisted(() => [] as string[]);
vi.mock('@aws-sdk/client-s3', () => (loaded.push('@aws-sdk/client-s3'), {}));
vi.mock('@aws-sdk/client-ssm', () => (loaded.push('@aws-sdk/client-ssm'), {}));
vi.mock('@aws-sdk/client-lambda', () => (loaded.push('@aws-sdk/client-lambda'), {}));
vi.mock('@aws-sdk/client-kms', () => (loaded.push('@aws-sdk/client-kms'), {}));
vi.mock('@aws-sdk/client-cloudwatch-logs', () => (loaded.push('@aws-sdk/client-cloudwatch-logs'), {}));
vi.mock('@aws-sdk/client-iam', () => (loaded.push('@aws-sdk/client-iam'), {}));
vi.mock('@aws-sdk/s3-request-presigner', () => (loaded.push('@aws-sdk/s3-request-presigner'), {}));
vi.mock('@smithy/node-http-handler', () => (loaded.push('@smithy/node-http-handler'), {}));
vi.mock('@aws-sdk/client-glue', () => (loaded.push('@aws-sdk/client-glue'), {}));
vi.mock('@aws-sdk/client-athena', () => (loaded.push('@aws-sdk/client-athena'), {}));
vi.mock('@duckdb/node-api', () => (loaded.push('@duckdb/node-api'), {}));
vi.mock('pg', () => (loaded.push('pg'), {}));
vi.mock('heroku-client', () => (loaded.push('heroku-client'), {}));
vi.mock('heroku-client/lib/request.js', () => (loaded.push('heroku-client'), {}));
vi.mock('netrc-parser', () => (loaded.push('netrc-parser'), {}));
vi.mock('ora', () => (loaded.push('ora'), {}));

describe('start-up', () => {
  it('loads no SDK, pg, heroku-client or ora for --help of the program and every command', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    const groups = [...top.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((g) => g !== 'help');
    expect(groups.length).toBeGreaterThan(0);
    for (const group of groups) {
      const g = await runCli([group, '--help']);
      expect(g.code).toBe(0);
      // A top-level command (doctor) has options but no "Commands:" section.
      const listed = g.stdout.includes('Commands:') ? g.stdout.slice(g.stdout.indexOf('Commands:')) : '';
      if (!listed) expect(g.stdout, `${group} --help has examples`).toContain('Examples:');
      const verbs = [...listed.matchAll(/^ {2}([a-z-]+)(?: |$)/gm)].map((m) => m[1]!).filter((v) => v !== 'help');
      for (const verb of verbs) {
        const v = await runCli([group, verb, '--help']);
        expect(v.code, `${group} ${verb} --help`).toBe(0);
        expect(v.stdout, `${group} ${verb} --help has examples`).toContain('Examples:');
      }
    }
    expect(loaded).toEqual([]);
  });
});
