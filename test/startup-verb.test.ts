// `raxx-ops logs grep …` loads grep's command file alone, not its group's other commands; the
// group's help and a verb it does not know still load them all (commander lists and suggests).
// A module is loaded once per file: the steps run in order and `loaded` says what came in.
import { describe, expect, it, vi } from 'vitest';
import { runCli } from './support/run-cli.js';

const loaded = vi.hoisted(() => [] as string[]);
vi.mock('../src/commands/logs/status.js', async (original) => (loaded.push('status'), original()));
vi.mock('../src/commands/logs/tail.js', async (original) => (loaded.push('tail'), original()));
vi.mock('../src/commands/logs/query.js', async (original) => (loaded.push('query'), original()));
vi.mock('../src/commands/logs/grep.js', async (original) => (loaded.push('grep'), original()));

describe('start-up of one command of a group', () => {
  it('logs grep loads grep alone (also with another verb as its argument); the group help and a typo load them all', async () => {
    const r = await runCli(['logs', 'grep', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(loaded).toEqual(['grep']);
    // The pattern `status` is grep's argument, not the status command.
    const s = await runCli(['logs', 'grep', 'status', '--help']);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('raxx-ops logs grep');
    expect(loaded).toEqual(['grep']);

    const typo = await runCli(['logs', 'gerp', 'x']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/grep/);
    expect(loaded).toEqual(expect.arrayContaining(['grep', 'status', 'tail', 'query']));
    const g = await runCli(['logs', '--help']);
    expect(g.code).toBe(0);
    expect(g.stdout).toMatch(/^ {2}status\b/m);
  });
});
