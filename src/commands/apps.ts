// Which apps a command acts on: the --app flags (repeatable), else every app of --env.
import type { Context } from '../lib/run/context.js';

/** Apps given with --app (deduplicated, in order), else every app of --env. */
export function resolveApps(apps: string[] | undefined, ctx: Context): string[] {
  return apps && apps.length > 0 ? [...new Set(apps)] : ctx.config.apps;
}
