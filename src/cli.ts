// Builds the commander program and runs it. main() returns an exit code and never exits the
// process (only bin/raxx-ops does), so tests run the whole CLI in-process.
import { Command, CommanderError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { groups } from './commands/index.js';
import type { ActionFactory } from './commands/registry.js';
import type { GlobalFlags, Io } from './lib/context.js';
import { ExitCode, InterruptedError, UsageError, UserError, PartialFailureError } from './lib/errors.js';

export const VERSION: string = pkg.version;

interface RunState {
  code: number;
}

export function buildProgram(io: Io, state: RunState): Command {
  const program = new Command('raxx-ops');
  program
    .description("Raxx's operations runbooks as one tool: Heroku log drains, the drain bucket and its receiver")
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--env <env>', 'environment whose apps and resources to use').choices(['prod', 'staging']).default('prod'))
    .option('--config <file>', 'JSON file overriding the built-in configuration (or RAXX_OPS_CONFIG)')
    .option('--region <region>', 'AWS region (default from configuration: us-east-1)')
    .option('--profile <profile>', 'AWS profile (default: the SDK chain, AWS_PROFILE)')
    .option('--json', 'machine-readable output on stdout (one JSON document, or NDJSON for streams)')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .option('--debug', 'stack traces and request details on stderr')
    .option('-y, --yes', 'answer yes to confirmations (needed when not on a terminal)')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ raxx-ops config show                          what this run would use
  $ raxx-ops logs grep 'status=5' --app raxx-api-prod --since 2h
  $ raxx-ops drains list --env staging --json

Exit codes: 0 ok, 1 a check found a problem, 2 bad usage, 3 configuration or credentials,
4 an outside service failed, 5 confirmation needed (use --yes), 130 interrupted.`,
    );

  const action: ActionFactory = (load, positionals = []) =>
    async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      const values = params.slice(0, positionals.length);
      const all = cmd.optsWithGlobals();
      const flags: GlobalFlags = {
        env: String(all.env ?? 'prod'),
        config: all.config as string | undefined,
        region: all.region as string | undefined,
        profile: all.profile as string | undefined,
        json: Boolean(all.json),
        color: all.color !== false,
        debug: Boolean(all.debug),
        yes: Boolean(all.yes),
      };
      const { default: mod } = await load();
      const input: Record<string, unknown> = { ...cmd.opts() };
      positionals.forEach((name, i) => {
        if (values[i] !== undefined) input[name] = values[i];
      });
      const parsed = mod.args.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const key = issue?.path[0];
        const where = typeof key === 'string' ? (positionals.includes(key) ? `<${key}>` : `--${kebab(key)}`) : 'arguments';
        throw new UsageError(`${where}: ${issue?.message ?? 'invalid'}`, { hint: `see raxx-ops ${commandPath(cmd)} --help` });
      }
      const { createContext } = await import('./lib/context.js');
      const ctx = await createContext(flags, io);
      try {
        const code = await mod.run(parsed.data, ctx);
        state.code = code ?? ExitCode.Ok;
      } finally {
        await ctx.close();
      }
    };

  for (const register of groups) register(program, action);
  return program;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const state: RunState = { code: ExitCode.Ok };
  const debug = argv.includes('--debug');
  try {
    const program = buildProgram(io, state);
    await program.parseAsync(argv, { from: 'user' });
    return state.code;
  } catch (err) {
    return reportError(err, io, debug);
  }
}

async function reportError(err: unknown, io: Io, debug: boolean): Promise<number> {
  if (err instanceof CommanderError) {
    // commander has already printed its message (and the help, when asked for).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.Ok;
    if (err.exitCode === 0) return ExitCode.Ok;
    return ExitCode.Usage;
  }
  const { Output, colorEnabled } = await import('./lib/output.js');
  const out = new Output({ stdout: io.stdout, stderr: io.stderr, json: false, color: colorEnabled(undefined, io.env, io.stderr), debug });
  if (io.signal?.aborted) {
    // What a command says on its way out (where it stopped, what it rolled back) still
    // matters after Ctrl-C; the exit code says it was interrupted.
    if (err instanceof UserError && !(err instanceof InterruptedError)) out.error(err.message, err.hint);
    io.stderr.write('interrupted\n');
    return ExitCode.Interrupted;
  }
  if (err instanceof UserError) {
    out.error(err.message, err.hint);
    if (err instanceof PartialFailureError) {
      for (const f of err.failures) out.error(`${f.subject}: ${f.error.message}`, f.error.hint);
    }
    if (debug && err.cause) out.debug(String((err.cause as Error).stack ?? err.cause));
    return err.exitCode;
  }
  out.error(`unexpected error: ${(err as Error)?.message ?? String(err)}`, debug ? undefined : 'rerun with --debug for the stack trace');
  if (debug) out.debug(String((err as Error)?.stack ?? err));
  return ExitCode.CheckFailed;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
