// What a changing command touches, for its plan: the environment, every resource by name (and
// whether another environment uses the same one: the runbooks share the drain stack and the
// attachments bucket and key between prod and staging), and the apps. A resource the env has no
// value of its own for is refused here, before any plan, rather than defaulted to prod's.
import type { Context } from './context.js';
import { ssmNames, type ResourceName } from '../core/config.js';
import { ConfigError } from '../core/errors.js';

const LABELS: Record<ResourceName, string> = {
  'drain.bucket': 'drain bucket',
  'drain.functionName': 'receiver function',
  'drain.ssmPrefix': 'SSM parameters',
  'attachments.bucket': 'attachments bucket',
  'attachments.kmsAlias': 'attachments KMS key',
};

export interface ScopeResource {
  resource: string;
  name: string;
  sharedWith: string[];
}

export interface Scope {
  environment: string;
  resources: ScopeResource[];
  apps?: string[];
}

/**
 * The scope of a run that touches `names` (and `apps`); throws ConfigError (exit 3) when the
 * env has no resource of its own for one of them. `ssm` narrows the SSM parameters named.
 */
export function scopeOf(ctx: Context, names: ResourceName[], opts: { apps?: string[]; ssm?: ('drainToken' | 'drainUrl' | 'bucketName' | 'bucketArn')[] } = {}): Scope {
  const { config } = ctx;
  const resources = names.map((n): ScopeResource => {
    const r = config.resources[n];
    if (!r.configured) {
      throw new ConfigError(`no ${LABELS[n]} configured for --env ${config.env} (prod has its own in the config file; using prod's is never assumed)`, {
        hint: `set environments.${config.env}.${n} in the config file (or ${n} at its top level if the environments share it); raxx-ops --env ${config.env} config show`,
      });
    }
    const ssm = ssmNames(config);
    const name = n === 'drain.ssmPrefix' ? (opts.ssm ?? ['drainToken', 'drainUrl']).map((k) => ssm[k]).join(', ') : r.value;
    return { resource: LABELS[n], name, sharedWith: r.sharedWith };
  });
  return { environment: config.env, resources, ...(opts.apps ? { apps: opts.apps } : {}) };
}

/** The plan's first lines: "environment: staging" and one line per resource and for the apps. */
export function scopeLines(scope: Scope): string[] {
  const lines = [`environment: ${scope.environment}`];
  for (const r of scope.resources) {
    lines.push(`  ${r.resource}: ${r.name}${r.sharedWith.length ? ` (shared with ${r.sharedWith.join(', ')}: a change here is a change there too)` : ''}`);
  }
  if (scope.apps) lines.push(`  apps: ${scope.apps.length ? scope.apps.join(', ') : 'none'}`);
  return lines;
}

/** Prints the scope unless --json (where it is the document's `scope`). */
export function printScope(ctx: Context, scope: Scope): void {
  if (!ctx.out.json) for (const line of scopeLines(scope)) ctx.out.line(line);
}
