// Helpers the group files use to declare commands without loading them: commander gets the
// flags and help text up front, the command module is imported only when it runs.
import type { Command } from 'commander';
import type { CommandModule } from './command.js';

export type Loader = () => Promise<{ default: CommandModule }>;
export type ActionFactory = (load: Loader, positionals?: string[]) => (...params: unknown[]) => Promise<void>;
export type Register = (program: Command, action: ActionFactory) => void;

/** For repeatable flags: `--app a --app b` → ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function examples(...lines: [command: string, what: string][]): string {
  const width = Math.max(...lines.map(([c]) => c.length));
  return `\nExamples:\n${lines.map(([c, w]) => `  $ ${c.padEnd(width)}  ${w}`).join('\n')}\n`;
}
