// What a command file exports: a zod schema for its flags and arguments, and run().
// Commands are plain async functions; tests can call run() directly with a Context.
import type { z } from 'zod';
import type { Context } from '../lib/context.js';

export interface CommandModule<S extends z.ZodType = z.ZodType> {
  args: S;
  /** Resolves to an exit code (0 when omitted); throws typed errors for failures. */
  run(args: z.infer<S>, ctx: Context): Promise<number | void>;
}

export function defineCommand<S extends z.ZodType>(mod: CommandModule<S>): CommandModule<S> {
  return mod;
}
