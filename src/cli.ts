// Builds the commander program and runs it. main() returns an exit code and never exits the
// process (only bin/raxx-ops does), so tests run the whole CLI in-process.
import { inspect } from 'node:util';
import { Command, CommanderError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { groups, topCommands, type GroupSpec } from './commands/index.js';
import { flagName, positionalUsage, shownDefault, type CommandDefinition } from './commands/define.js';
import type { Context, GlobalFlags, Io } from './lib/run/context.js';
import { ConfirmationError, ExitCode, InterruptedError, UsageError, UserError, PartialFailureError, errorCodeName } from './lib/core/errors.js';

export const VERSION: string = pkg.version;

/** Help lines wider than this are a defect (a test holds every command to it). */
export const HELP_WIDTH = 100;

interface RunState {
  code: number;
  argv: string[];
  /** Where a commander usage error happened, for its hint. */
  usagePath?: string;
  usageMessage?: string;
}

const GLOBAL_EXAMPLES: [string, string][] = [
  ['raxx-ops config show', 'what this run would use'],
  ["raxx-ops logs grep 'status=5' --app raxx-api-prod --since 2h", '5xx lines of the last two hours'],
  ['raxx-ops drains list --env staging --json', "staging's drains, as JSON"],
];

export function examples(lines: [command: string, what: string][]): string {
  // Commands and what they show side by side when that fits HELP_WIDTH; otherwise the
  // explanation goes on the next line.
  // Not the table renderer: help is ASCII we write, and --help must not load string-width.
  const fits = (c: string, w: string, width: number) => 4 + width + 2 + w.length <= HELP_WIDTH && c.length <= width;
  const width = Math.max(0, ...lines.filter(([c, w]) => fits(c, w, c.length)).map(([c]) => c.length));
  const out = lines.map(([c, w]) => (fits(c, w, width) ? `  $ ${c.padEnd(width)}  ${w}` : `  $ ${c}\n      ${w}`));
  return `\nExamples:\n${out.join('\n')}\n`;
}

/** For repeatable flags: `--app a --app b` → ['a', 'b']. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function globalFlags(cmd: Command): GlobalFlags {
  const all = cmd.optsWithGlobals();
  return {
    env: String(all.env ?? 'prod'),
    config: all.config as string | undefined,
    region: all.region as string | undefined,
    profile: all.profile as string | undefined,
    json: Boolean(all.json),
    color: all.color !== false,
    debug: Boolean(all.debug),
    yes: Boolean(all.yes),
  };
}

/** Declares one command on commander from its definition: the options are declared once. */
export function addCommand(parent: Command, name: string, def: CommandDefinition, io: Io, state: RunState): Command {
  const cmd = parent.command(name).description(def.description);
  for (const [key, d] of Object.entries(def.positionals)) cmd.argument(positionalUsage(key, d), d.description);
  for (const [key, d] of Object.entries(def.options)) {
    const long = flagName(key, d, false);
    const flags = `${d.short ? `-${d.short}, ` : ''}${long}${d.value ? ` ${d.value}` : ''}`;
    const dflt = shownDefault(d);
    const opt = new Option(flags, d.description + (dflt === undefined ? '' : ` (default: ${dflt})`));
    if (d.repeatable) opt.argParser(collect);
    if (d.hidden) opt.hideHelp();
    cmd.addOption(opt);
  }
  cmd.addHelpText('after', (def.notes ? `\n${def.notes.trim()}\n` : '') + examples(def.examples));
  usageReporting(cmd, io, state);
  cmd.action(async (...params: unknown[]) => {
    const self = params[params.length - 1] as Command;
    const keys = Object.keys(def.positionals);
    const input: Record<string, unknown> = { ...self.opts() };
    keys.forEach((k, i) => {
      if (params[i] !== undefined) input[k] = params[i];
    });
    const parsed = def.schema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const key = issue?.path[0];
      const where = typeof key === 'string' ? flagName(key, def.options[key], keys.includes(key)) : 'arguments';
      // zod's own wording for a non-number ("expected number, received NaN") says nothing to an operator.
      const message = !issue ? 'invalid' : /received NaN/.test(issue.message) ? 'must be a number' : issue.message;
      // A schema that knows the fix (a duration's accepted forms) says it in the issue's params.
      const hint = issue?.code === 'custom' && typeof issue.params?.hint === 'string' ? issue.params.hint : `see raxx-ops ${commandPath(self)} --help`;
      throw new UsageError(`${where}: ${message}`, { hint });
    }
    const { createContext } = await import('./lib/run/context.js');
    const ctx = await createContext(globalFlags(self), io);
    try {
      const run = () => def.handler(parsed.data, ctx);
      const code = def.lease && def.lease.when(parsed.data) ? await leased(def, parsed.data, ctx, `raxx-ops ${commandPath(self)}`, run) : await run();
      state.code = code ?? ExitCode.Ok;
    } finally {
      await ctx.close();
    }
  });
  return cmd;
}

async function leased(def: CommandDefinition, args: Record<string, unknown>, ctx: Context, command: string, run: () => Promise<number | void> | number | void): Promise<number | void> {
  const { acquireLease, leaseTtl, LeaseHeldError } = await import('./lib/run/lease.js');
  const { stopError } = await import('./lib/core/errors.js');
  const opts = { force: Boolean(args.force), waitMs: Number(args.wait ?? 0) * 1000, ttlMs: leaseTtl(ctx.env) };
  let lease;
  try {
    lease = await acquireLease(ctx, def.lease!.name, command, opts);
  } catch (err) {
    // Only S3 failing is let go (the emergency stop must work without S3); a refusal, a declined
    // --force or Ctrl-C/Ctrl-D at its question stop the run.
    if (!def.lease!.bestEffort || err instanceof LeaseHeldError || err instanceof ConfirmationError || err instanceof InterruptedError || ctx.signal.aborted) throw err;
    ctx.out.warn(`could not take the ${def.lease!.name} lease (${(err as Error).message}); going on without it`);
  }
  try {
    return await run();
  } catch (err) {
    // A run stopped by losing its lease says so, whatever the step in flight threw on the abort.
    const why = ctx.signal.aborted ? stopError(ctx.signal) : undefined;
    if (why && !(why instanceof InterruptedError) && !(err instanceof UserError && err.message.includes(why.message))) throw why;
    throw err;
  } finally {
    await lease?.release();
  }
}

/** commander prints its own usage errors; keep them for one error + hint in our format. */
function usageReporting(cmd: Command, io: Io, state: RunState): void {
  cmd.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
    outputError: (s) => {
      state.usagePath = commandPath(cmd);
      state.usageMessage = s.trim().replace(/^error:\s*/, '');
    },
  });
}

function addGroup(program: Command, group: GroupSpec, io: Io, state: RunState): Command {
  const g = program.command(group.name).description(group.description);
  g.addHelpText('after', examples(group.examples));
  usageReporting(g, io, state);
  return g;
}

/**
 * The program, with the commands of the groups and the top-level commands named in argv
 * declared (all of them when `all` is set: help tests, completion). The others are listed
 * without loading their command files, which keeps start-up light.
 */
export async function buildProgram(io: Io, state: RunState, argv: string[], all = false): Promise<Command> {
  const program = new Command('raxx-ops');
  program
    .description("Raxx's operations runbooks as one tool: Heroku log drains, the drain bucket and its receiver, support attachments")
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--env <env>', 'environment whose apps and resources to use').choices(['prod', 'staging']).default('prod'))
    .option('--config <file>', 'JSON file overriding the built-in configuration (or RAXX_OPS_CONFIG)')
    .option('--region <region>', 'AWS region (default from configuration: us-east-1)')
    .option('--profile <profile>', 'AWS profile (default: the SDK chain, AWS_PROFILE)')
    .option('--json', 'machine-readable output on stdout (one JSON document, or NDJSON for streams)')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .option('--debug', 'stack traces and request details on stderr')
    .option('-y, --yes', 'answer yes to confirmations (needed when not on a terminal)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .addHelpText(
      'after',
      `${examples(GLOBAL_EXAMPLES)}
Exit codes: 0 ok, 1 a check found a problem, 2 bad usage, 3 configuration or credentials,
4 an outside service failed, 5 confirmation needed (use --yes), 70 a bug in raxx-ops,
130 interrupted.`,
    );
  usageReporting(program, io, state);

  const named = new Set(argv);
  for (const group of groups) {
    const g = addGroup(program, group, io, state);
    if (!all && !named.has(group.name)) continue;
    // `logs grep …` loads grep alone: the group's ten other command files were about 0.1 s of
    // CPU of the 0.6 s `logs grep --help` took. The group's help, or a verb it does not know
    // (commander suggests the nearest), declares them all.
    const verb = all ? undefined : argv.slice(argv.indexOf(group.name) + 1).find((a) => Object.hasOwn(group.commands, a));
    const wanted = verb === undefined ? Object.entries(group.commands) : [[verb, group.commands[verb]!] as const];
    const mods = await Promise.all(wanted.map(async ([name, load]) => [name, (await load()).default] as const));
    for (const [name, def] of mods) addCommand(g, name, def, io, state);
  }
  for (const top of topCommands) {
    // Listed by its summary; its file is loaded only when it runs or shows its own help.
    if (all || named.has(top.name)) addCommand(program, top.name, (await top.load()).default, io, state).summary(top.summary);
    else usageReporting(program.command(top.name).description(top.summary), io, state);
  }
  return program;
}

/** `raxx-ops help logs grep` is `raxx-ops logs grep --help` (commander's help takes one word). */
function rewriteHelp(argv: string[]): string[] {
  const i = argv.indexOf('help');
  if (i === -1 || argv.slice(0, i).some((a) => !a.startsWith('-'))) return argv;
  return [...argv.slice(0, i), ...argv.slice(i + 1), '--help'];
}

export async function main(argv: string[], io: Io): Promise<number> {
  const state: RunState = { code: ExitCode.Ok, argv };
  const debug = argv.includes('--debug');
  const json = argv.includes('--json');
  // Whether anything reached stdout: a --json failure prints its error document only if the
  // command had not printed its own report yet, so stdout stays one JSON document.
  let wroteStdout = false;
  const stdout = io.stdout;
  const counted: Io = {
    ...io,
    stdout: new Proxy(stdout, {
      get(target, prop, receiver) {
        if (prop === 'write') {
          return (chunk: string) => {
            if (chunk.length > 0) wroteStdout = true;
            return target.write(chunk);
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }),
  };
  try {
    const args = rewriteHelp(argv);
    const program = await buildProgram(counted, state, args);
    await program.parseAsync(args, { from: 'user' });
    return state.code;
  } catch (err) {
    return reportError(err, counted, { debug, json: json && !wroteStdout }, state);
  }
}

async function reportError(err: unknown, io: Io, opts: { debug: boolean; json: boolean }, state: RunState): Promise<number> {
  const { Output, colorEnabled } = await import('./lib/core/output.js');
  const out = new Output({ stdout: io.stdout, stderr: io.stderr, json: false, color: colorEnabled(undefined, io.env, io.stderr), debug: opts.debug });
  const fail = (code: ExitCode, message: string, hint: string | undefined, name = errorCodeName(code)): number => {
    out.error(message, hint);
    if (opts.json) out.data({ error: { code: name, exitCode: code, message, ...(hint ? { hint } : {}) } });
    return code;
  };

  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.Ok;
    if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') {
      // Bare `raxx-ops` or `raxx-ops drains`: the help went to stderr; a command is missing.
      const path = groups.find((g) => state.argv.includes(g.name))?.name ?? '';
      return fail(ExitCode.Usage, `a command is needed${path ? ` after "raxx-ops ${path}"` : ''}`, `see the list above, or raxx-ops ${path ? `${path} ` : ''}--help`);
    }
    if (err.exitCode === 0) return ExitCode.Ok;
    const path = state.usagePath;
    return fail(ExitCode.Usage, state.usageMessage ?? err.message.replace(/^error:\s*/, ''), `see raxx-ops ${path ? `${path} ` : ''}--help`);
  }
  if (io.signal?.aborted || err instanceof InterruptedError) {
    // What a command says on its way out (where it stopped, what it rolled back) still
    // matters after Ctrl-C; the exit code says it was interrupted.
    if (err instanceof UserError && !(err instanceof InterruptedError)) out.error(err.message, err.hint);
    io.stderr.write(`${err instanceof InterruptedError ? err.message : 'interrupted'}\n`);
    if (opts.json) out.data({ error: { code: errorCodeName(ExitCode.Interrupted), exitCode: ExitCode.Interrupted, message: 'interrupted' } });
    return ExitCode.Interrupted;
  }
  if (err instanceof UserError) {
    const code = fail(err.exitCode, err.message, err.hint);
    if (err instanceof PartialFailureError) {
      for (const f of err.failures) out.error(`${f.subject}: ${f.error.message}`, f.error.hint);
    }
    if (opts.debug && err.cause) out.debug(err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : inspect(err.cause));
    return code;
  }
  // Anything else is a defect in raxx-ops, not the operator's input or an outside service.
  const code = fail(
    ExitCode.Bug,
    `unexpected error (this is a bug in raxx-ops): ${(err as Error)?.message ?? String(err)}`,
    opts.debug ? 'please report it with the stack trace below' : 'rerun with --debug for the stack trace, and report it',
  );
  if (opts.debug) out.debug(String((err as Error)?.stack ?? err));
  return code;
}

