// A command's whole definition in one object: description, examples, positionals, options
// (declared once: each feeds both commander's help and the zod validation) and the handler.
// Command files import only light modules at top level; the SDK, pg, heroku-client and ora
// are imported inside handlers, so `--help` stays fast.
import { z } from 'zod';
import type { Context } from '../lib/run/context.js';

export interface ArgDef<S extends z.ZodType = z.ZodType> {
  /** Validates (and coerces) the value commander hands over: a string, true, or string[]. */
  schema: S;
  description: string;
  /** One-letter alias: 'F' for -F. */
  short?: string | undefined;
  /** Value placeholder in help ('<n>', '[name]'); absent for boolean flags. */
  value?: string | undefined;
  /** `--app a --app b` → ['a', 'b']. */
  repeatable?: boolean | undefined;
  /** Shown as "(default: …)" in help; taken from the schema's default when omitted. */
  defaultText?: string | undefined;
  /** Declared as --no-<name> (a boolean that is true unless negated). */
  negated?: boolean | undefined;
  /** For positionals: may be left out. */
  optional?: boolean | undefined;
  /** For the last positional: takes every remaining argument, as an array. */
  variadic?: boolean | undefined;
  hidden?: boolean | undefined;
}

type Defs = Record<string, ArgDef>;
export type ArgsOf<O extends Defs, P extends Defs> = { [K in keyof O]: z.output<O[K]['schema']> } & { [K in keyof P]: z.output<P[K]['schema']> };

export interface CommandSpec<O extends Defs, P extends Defs> {
  description: string;
  /** Each: the command line and what it shows. At least one; printed under "Examples:". */
  examples: [command: string, what: string][];
  /** Help text printed before the examples (syntax notes, thresholds). */
  notes?: string;
  positionals?: P;
  options?: O;
  /**
   * A changing command holds this lease (src/lib/run/lease.ts) while it runs, when `when` says
   * the run changes anything; its options need `...leaseOptions` (--force, --wait). With
   * `bestEffort`, a lease that cannot be taken because S3 fails is a warning, not a stop:
   * the emergency stop must work when S3 does not.
   */
  lease?: { name: string; when(args: ArgsOf<O, P>): boolean; bestEffort?: boolean };
  /**
   * Returns (or resolves to) an exit code, 0 when omitted; throws typed errors for failures.
   * Only the CLI calls it, after validation and under the lease: nothing else may run a handler.
   */
  handler(args: ArgsOf<O, P>, ctx: Context): Promise<number | void> | number | void;
}

export interface CommandDefinition<O extends Defs = Defs, P extends Defs = Defs> extends CommandSpec<O, P> {
  positionals: P;
  options: O;
  /** One zod object over positionals and options: the validation help is generated from. */
  schema: z.ZodType<ArgsOf<O, P>>;
}

export function createCommand<O extends Defs = Record<never, ArgDef>, P extends Defs = Record<never, ArgDef>>(spec: CommandSpec<O, P>): CommandDefinition<O, P> {
  const positionals = (spec.positionals ?? {}) as P;
  const options = (spec.options ?? {}) as O;
  const shape: Record<string, z.ZodType> = {};
  for (const [k, d] of Object.entries({ ...positionals, ...options })) shape[k] = d.schema;
  const schema = z.object(shape) as unknown as z.ZodType<ArgsOf<O, P>>;
  return { ...spec, positionals, options, schema };
}

const boolFlag = z.preprocess((v) => v === true || v === 'true', z.boolean());

/** A boolean flag: `--dry-run`, `-F`. */
export function flag(description: string, opts: { short?: string; hidden?: boolean } = {}): ArgDef<z.ZodType<boolean>> {
  return { schema: boolFlag, description, ...opts };
}

/** A flag that is on unless negated: `--no-mask` declares `mask`, true by default. */
export function negatedFlag(description: string): ArgDef<z.ZodType<boolean>> {
  return { schema: z.preprocess((v) => v !== false, z.boolean()), description, negated: true };
}

/** An option taking a value; the schema validates the string commander gives. */
export function option<S extends z.ZodType>(schema: S, description: string, opts: Omit<ArgDef, 'schema' | 'description'> = {}): ArgDef<S> {
  return { schema, description, value: '<value>', ...opts };
}

/** A positional argument. */
export function positional<S extends z.ZodType>(schema: S, description: string, opts: { optional?: boolean; variadic?: boolean } = {}): ArgDef<S> {
  return { schema, description, ...opts };
}

/** A positional as written in usage: `<pattern>`, `[source]`, `[files...]`. */
export function positionalUsage(key: string, def: ArgDef): string {
  const name = `${key}${def.variadic ? '...' : ''}`;
  return def.optional ? `[${name}]` : `<${name}>`;
}

/**
 * The default a schema applies when the value is left out, through zod's public API: a
 * `.default()` (or `.prefault()`) answers undefined with it; optional, nullable, readonly and
 * pipe (preprocess) wrappers are looked through.
 */
function defaultOf(schema: z.core.$ZodType): unknown {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) {
    const parsed = schema.safeParse(undefined);
    return parsed.success ? parsed.data : undefined;
  }
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodReadonly) return defaultOf(schema.unwrap());
  if (schema instanceof z.ZodPipe) return defaultOf(schema.in);
  return undefined;
}

/** An option's default as help shows it, or undefined when there is nothing worth showing. */
export function shownDefault(def: ArgDef): string | undefined {
  if (def.defaultText !== undefined) return def.defaultText;
  const v = defaultOf(def.schema);
  if (v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0)) return undefined;
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

export function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The flag as typed: `--fixed-strings`, `--no-mask`, `<pattern>`. */
export function flagName(key: string, def: ArgDef | undefined, isPositional: boolean): string {
  if (isPositional) return `<${key}>`;
  return def?.negated ? `--no-${kebab(key)}` : `--${kebab(key)}`;
}
