// Renders docs/commands.md from the command definitions, so the reference of every command
// and flag cannot drift from the code: `npm run docs` writes it, a test compares it.
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { flagName, positionalUsage, shownDefault, type CommandDefinition } from '../src/commands/define.js';
import { groups, topCommands } from '../src/commands/index.js';

export async function renderReference(): Promise<string> {
  const out: string[] = [
    '# Command reference',
    '',
    'Generated from the command definitions by `npm run docs`; a test keeps it in step. Global',
    'flags (`--env`, `--config`, `--region`, `--profile`, `--json`, `--no-color`, `--debug`,',
    '`--yes`) work with every command; see the [README](../README.md).',
    '',
  ];
  const sections: { heading: string; description?: string; commands: [string[], () => Promise<{ default: CommandDefinition }>][] }[] = [
    ...groups.map((g) => ({ heading: g.name, description: g.description, commands: Object.entries(g.commands).map(([verb, load]) => [[g.name, verb], load] as [string[], typeof load]) })),
    { heading: 'other commands', commands: topCommands.map((t) => [[t.name], t.load] as [string[], typeof t.load]) },
  ];
  for (const section of sections) {
    out.push(`## ${section.heading}`, '', ...(section.description ? [`${section.description}.`, ''] : []));
    for (const [path, load] of section.commands) {
      const def: CommandDefinition = (await load()).default;
      const pos = Object.entries(def.positionals).map(([k, d]) => positionalUsage(k, d));
      out.push(`### \`raxx-ops ${[...path, ...pos].join(' ')}\``, '', `${def.description}.`, '');
      const rows = [
        ...Object.entries(def.positionals).map(([k, d]) => [flagName(k, d, true), d.description, '']),
        ...Object.entries(def.options).map(([k, d]) => {
          const shown = shownDefault(d) ?? '';
          return [`${d.short ? `-${d.short}, ` : ''}${flagName(k, d, false)}${d.value ? ` ${d.value}` : ''}${d.repeatable ? ' …' : ''}`, d.description, shown];
        }),
      ];
      if (rows.length > 0) {
        out.push('| flag | meaning | default |', '| --- | --- | --- |');
        for (const [f, m, d] of rows) out.push(`| \`${f!.replace(/\|/g, '\\|')}\` | ${m!.replace(/\|/g, '\\|')} | ${d ? `\`${d}\`` : ''} |`);
        out.push('');
      }
      if (def.notes) out.push(def.notes.trim(), '');
      out.push('```sh', ...def.examples.map(([c, w]) => `${c}    # ${w}`), '```', '');
    }
  }
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await writeFile(new URL('../docs/commands.md', import.meta.url), await renderReference());
  process.stdout.write('wrote docs/commands.md\n');
}
