// `raxx-ops completion bash|zsh`: the script is sourced into a real bash with COMP_WORDS set
// as bash sets them, and must offer the groups, each group's verbs and each command's flags —
// all taken from the command definitions, so the tree here is the one `--help` shows.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';
import { tempDir } from './support/temp.js';

describe('completion', () => {
  let script: string;
  let file: string;

  beforeAll(async () => {
    const r = await runCli(['completion', 'bash']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    script = r.stdout;
    file = join(tempDir('raxx-ops-completion-'), 'raxx-ops.bash');
    writeFileSync(file, script);
  });

  /** What bash offers for the words typed so far (a trailing space starts a new word). */
  function complete(line: string): string[] {
    const words = line.split(' ');
    const program = `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _raxx_ops; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', program, 'bash', file], { encoding: 'utf8' });
    return out.split('\n').filter((w) => w !== '');
  }

  it('registers itself for raxx-ops', () => {
    expect(script).toMatch(/^complete -F _raxx_ops raxx-ops$/m);
  });

  it('completes groups and top-level commands', () => {
    expect(complete('raxx-ops ')).toEqual(['config', 'drains', 'logs', 'attachments', 'audit', 'receiver', 'doctor', 'completion', 'help']);
    expect(complete('raxx-ops at')).toEqual(['attachments']);
    expect(complete('raxx-ops d')).toEqual(['drains', 'doctor']);
  });

  it("completes a group's verbs, also after global flags and their values", () => {
    expect(complete('raxx-ops drains ')).toEqual(['list', 'wire', 'remove', 'test', 'rotate']);
    expect(complete('raxx-ops --env staging logs ')).toEqual(['grep', 'fetch', 'tail', 'status', 'ship', 'report', 'dashboard', 'sources', 'compact', 'query', 'athena-setup']);
    expect(complete('raxx-ops attachments k')).toEqual(['kms-status', 'kms-retire']);
  });

  it("completes a command's own flags once a dash is typed, and values where they are known", () => {
    expect(complete('raxx-ops drains wire --')).toEqual(['--force', '--wait', '--app', '--prune', '--dry-run', '--help']);
    expect(complete('raxx-ops logs grep --app raxx-api-prod -')).toEqual(expect.arrayContaining(['--since', '--until', '-F', '-i', '-v', '-c', '--count']));
    expect(complete('raxx-ops doctor --s')).toEqual(['--since', '--send-test']);
    expect(complete('raxx-ops --env ')).toEqual(['prod', 'staging']);
    expect(complete('raxx-ops completion ')).toEqual(['bash', 'zsh']);
    expect(complete('raxx-ops -')).toEqual(expect.arrayContaining(['--env', '--json', '--yes', '--help']));
  });

  it("every command's help flags are offered, and only those", async () => {
    const cases: [string, string][] = [
      ['logs', 'status'],
      ['attachments', 'restore'],
      ['audit', 'smoke'],
    ];
    for (const [group, verb] of cases) {
      const help = (await runCli([group, verb, '--help'])).stdout;
      const documented = [...help.matchAll(/^ {2}(?:(-\w), )?(--[\w-]+)/gm)].flatMap((m) => [m[2]!, ...(m[1] ? [m[1]] : [])]);
      expect(complete(`raxx-ops ${group} ${verb} -`).sort()).toEqual(documented.sort());
    }
  });

  it('the global flags are the ones raxx-ops --help lists', async () => {
    const help = (await runCli(['--help'])).stdout;
    const documented = [...help.slice(0, help.indexOf('Commands:')).matchAll(/^ {2}(?:(-\w), )?(--[\w-]+)/gm)].flatMap((m) => [m[2]!, ...(m[1] ? [m[1]] : [])]);
    const offered = complete('raxx-ops -');
    expect(offered.sort()).toEqual(documented.sort());
  });

  it('zsh: the same function through bashcompinit', async () => {
    const r = await runCli(['completion', 'zsh']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^#compdef raxx-ops\n/);
    expect(r.stdout).toContain('bashcompinit');
    expect(r.stdout).toContain('complete -F _raxx_ops raxx-ops');
  });

  it('another shell is a usage error with a hint', async () => {
    const r = await runCli(['completion', 'fish']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must be bash or zsh[\s\S]*hint:/);
  });
});
