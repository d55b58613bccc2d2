// The help and error contract of every command: one error and one hint per failure, a JSON
// error document under --json, help that fits a terminal and shows examples, and
// `raxx-ops help <group> <command>` as the command's own help.
import { describe, expect, it } from 'vitest';
import { HELP_WIDTH } from '../src/cli.js';
import { groups, topCommands } from '../src/commands/index.js';
import { runCli } from './support/run-cli.js';

// Each command's path: [group, verb], or [name] for a top-level command such as doctor.
const commands = [...groups.flatMap((g) => Object.keys(g.commands).map((verb) => [g.name, verb])), ...topCommands.map((t) => [t.name])].map((path) => [path.join(' '), path] as const);

describe('help is a contract', () => {
  it.each(commands)('%s: examples, within the help width, defaults shown as values', async (name, path) => {
    const r = await runCli([...path, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: raxx-ops ${name} `);
    expect(r.stdout).toMatch(/\nExamples:\n {2}\$ (\S+=\S+ )?raxx-ops /);
    for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(HELP_WIDTH);
    // Defaults come from the zod schema: numbers, not quoted strings as commander would show.
    expect(r.stdout).not.toMatch(/default: "\d+"/);
  });

  it.each(groups.map((g) => g.name))('%s: the group help has examples', async (group) => {
    const r = await runCli([group, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(HELP_WIDTH);
  });

  it('a top-level command is listed by its summary without loading its file, and `help doctor` is its help', async () => {
    const top = await runCli(['--help']);
    for (const t of topCommands) expect(top.stdout).toMatch(new RegExp(`\\n {2}${t.name}\\b.*${t.summary.slice(0, 20)}`));
    const viaHelp = await runCli(['help', 'doctor']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe((await runCli(['doctor', '--help'])).stdout);
    expect(viaHelp.stdout).toContain('Usage: raxx-ops doctor [options]');
  });

  it('`help logs grep` is the command\'s help, not the group\'s', async () => {
    const viaHelp = await runCli(['help', 'logs', 'grep']);
    const direct = await runCli(['logs', 'grep', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(direct.stdout);
    expect(viaHelp.stdout).toContain('Usage: raxx-ops logs grep');
  });

  it('shows a default taken from the option declaration', async () => {
    const r = await runCli(['logs', 'status', '--help']);
    expect(r.stdout).toMatch(/--days <n>\s+how many UTC days, ending today \(default: 2\)/);
  });
});

describe('--json failures print one JSON error document on stdout', () => {
  const cases: { name: string; argv: string[]; code: number; kind: string; message: RegExp }[] = [
    { name: 'usage', argv: ['--json', 'logs', 'grep'], code: 2, kind: 'usage', message: /missing required argument 'pattern'/ },
    { name: 'bad flag value', argv: ['logs', 'status', '--days', '0', '--json'], code: 2, kind: 'usage', message: /--days: must be at least 1/ },
    { name: 'configuration', argv: ['--json', '--config', '/nonexistent/raxx.json', 'config', 'show'], code: 3, kind: 'config', message: /cannot read config file/ },
    { name: 'credentials', argv: ['drains', 'list', '--json'], code: 3, kind: 'config', message: /no Heroku API token/ },
  ];
  it.each(cases)('$name → $code', async (c) => {
    const r = await runCli(c.argv);
    expect(r.code).toBe(c.code);
    const doc = r.json<{ error: { code: string; exitCode: number; message: string; hint?: string } }>();
    expect(doc.error.code).toBe(c.kind);
    expect(doc.error.exitCode).toBe(c.code);
    expect(doc.error.message).toMatch(c.message);
    expect(doc.error.hint).toBeTruthy();
    // People still read the error on stderr.
    expect(r.stderr).toMatch(/^error: /m);
  });
});

describe('docs/commands.md', () => {
  it('is the reference the definitions render (run `npm run docs` after changing a command)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { renderReference } = await import('../scripts/command-reference.js');
    const onDisk = await readFile(new URL('../docs/commands.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(await renderReference());
  });
});
