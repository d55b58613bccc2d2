// Configuration: the runbooks' values built in, so a Raxx operator needs no file; a JSON file
// (--config or RAXX_OPS_CONFIG) overrides any of them; --env picks an overlay; flags win.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { APP_NAME_PATTERN, keyPrefixProblem, UNKNOWN_APP } from '@raxx/log-format/object-key';
import { ConfigError, UsageError } from './errors.js';

// Heroku's rule, as the receiver applies it to the keys it writes.
export const appName = z.string().regex(APP_NAME_PATTERN, 'not a valid Heroku app name (lowercase letters, digits and dashes, 3-30 characters)');

export const ENVIRONMENTS = ['prod', 'staging'] as const;
export type EnvName = (typeof ENVIRONMENTS)[number];

const ssmPrefix = z.string().regex(/^\/(?:[A-Za-z0-9_.-]+\/)+$/, 'must start and end with "/", e.g. /raxx/log-drain/');
// The receiver's own rule (no `..`, leading `/`, `//`, backslash or control character), then
// this file's stricter shape.
const keyPrefix = z
  .string()
  .superRefine((v, ctx) => {
    const problem = keyPrefixProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: `${problem}, e.g. logs/` });
  })
  .regex(/^(?:[A-Za-z0-9_.-]+\/)*$/, 'must be empty or end with "/", e.g. logs/');
// `unknown` is the receiver's folder for batches whose app cannot be told: never an app to wire.
const configuredApp = appName.refine((a) => a !== UNKNOWN_APP, `"${UNKNOWN_APP}" is the receiver's catch-all folder, not an app`);
const bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid S3 bucket name');

const infisicalSlug = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not an Infisical environment slug');
/** Where the attachments runbook keeps the backend's key in Infisical. */
export const INFISICAL_PATH = '/MooseQuest/aws/support-attachments/';

/** A log source's name is also its folder in the receiver's layout, so it follows the app-name rule. */
export const sourceName = z.string().regex(APP_NAME_PATTERN, 'not a valid source name (lowercase letters, digits and dashes, 3-30 characters)');

/** The shipping runbook's retention: 7 years. */
export const SOURCE_RETENTION_DAYS = 2555;

const redactionPattern = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'lowercase letters, digits, "_" and "-"'),
  /** A JavaScript regular expression; every match is replaced (the `g` flag is implied). */
  pattern: z.string().min(1).refine((p) => {
    try {
      new RegExp(p);
      return true;
    } catch {
      return false;
    }
  }, 'not a valid JavaScript regular expression'),
  flags: z.string().regex(/^[imsu]*$/, 'only i, m, s and u').optional(),
  /** What a match becomes; `$1` refers to a group. */
  replacement: z.string().default('[REDACTED]'),
});

/** A log file source shipped by `logs ship` (the log-shipping runbook's log types). */
export const SourceSettings = z.strictObject({
  name: sourceName,
  /** Must exist for every day: a missing day is critical (the runbook's "auth"), else a warning. */
  required: z.boolean().default(false),
  /** Default: the drain bucket. */
  bucket: bucket.optional(),
  /** `receiver`: logs/<source>/YYYY/MM/DD/… (read by logs grep/fetch); `dated`: <source>/<YYYY-MM-DD>/<source>.log.gz. */
  layout: z.enum(['receiver', 'dated']).default('receiver'),
  /** Patterns redacted on top of the defaults (redaction.ts: credentials in URLs, tokens, keys, headers, cookies, e-mail addresses, …). */
  redact: z.array(redactionPattern).default([]),
  /** Pulled from Supabase's Management API when no file is named (`auth_logs`, `edge_logs`, any log source name). */
  supabase: z.strictObject({ source: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a Supabase log source name, e.g. auth_logs or edge_logs') }).optional(),
  /** Set false to apply only this source's own patterns. */
  defaultRedaction: z.boolean().default(true),
  /** The longest line shipped whole; a longer one keeps its first bytes and is flagged (default 1 MiB). */
  maxLineBytes: z.number().int().min(1024, 'at least 1024').max(64 * 1024 * 1024, 'at most 64 MiB (67108864)').optional(),
  retentionDays: z.number().int().min(1).default(SOURCE_RETENTION_DAYS),
});
export type SourceSettings = z.infer<typeof SourceSettings>;

const sources = z.array(SourceSettings).refine((list) => new Set(list.map((s) => s.name)).size === list.length, 'source names must be unique');

const settingsShape = {
  region: z.string().min(1),
  apps: z.array(configuredApp).min(1),
  drain: z.strictObject({
    bucket,
    keyPrefix,
    ssmPrefix,
    functionName: z.string().min(1),
    logGroup: z.string().min(1),
    /** How far back `logs` windows may reach: what the bucket keeps, with room (runbooks: 90-365 days). */
    retentionDays: z.number().int().min(1).max(3650),
    /** The receiver's Function URL as last known: recognises receiver drains when SSM is down. */
    receiverUrl: z.string().regex(/^(https?:\/\/[^\s?#]+)?$/, 'must be an http(s) URL without a query'),
  }),
  audit: z.strictObject({
    roles: z.array(z.string().min(1)),
    triggers: z.array(z.string().min(1)),
  }),
  attachments: z.strictObject({
    bucket,
    kmsAlias: z.string().regex(/^alias\/[A-Za-z0-9/_-]+$/, 'must look like alias/<name>'),
    /** The vault that keeps the backend's access key besides Heroku; absent: updated by hand. */
    infisical: z
      .strictObject({
        /** The Infisical instance, without /api. */
        apiUrl: z.string().regex(/^https?:\/\/[^\s?#]+$/, 'must be an http(s) URL without a query, e.g. https://app.infisical.com').default('https://app.infisical.com'),
        projectId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not an Infisical project id'),
        /** The environment slug of each --env; an env without one is updated by hand. */
        environments: z.strictObject({ prod: infisicalSlug.optional(), staging: infisicalSlug.optional() }),
        secretPath: z.string().regex(/^\/(?:[A-Za-z0-9_.-]+\/?)*$/, 'must be a folder path starting with "/", e.g. /MooseQuest/aws/support-attachments/').default(INFISICAL_PATH),
      })
      .optional(),
  }),
  query: z.strictObject({
    /** Where `logs compact` writes one object per app-day (the receiver's compacted layout). */
    compactedPrefix: z.string().regex(/^(?:[A-Za-z0-9_.-]+\/)+$/, 'must end with "/", e.g. compacted/').refine((v) => !v.split('/').includes('..'), 'must not contain ".."'),
    /** Glue database and table of `logs athena-setup` / `logs query --engine athena`. */
    database: z.string().regex(/^[a-z0-9_]{1,255}$/, 'lowercase letters, digits and _'),
    table: z.string().regex(/^[a-z0-9_]{1,255}$/, 'lowercase letters, digits and _'),
    workgroup: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'not a workgroup name'),
    /** Where Athena writes results; empty: s3://<drain.bucket>/athena-results/. */
    outputLocation: z.string().regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.*)?$/, 'must be an s3://bucket/prefix/ location'),
  }),
  health: z.strictObject({
    /** Drain silent this long during the day → warning (audit runbook: 15 min). */
    warnSilentMinutes: z.number().int().positive(),
    /** No objects this long → critical (log-drain runbook: 2 h). */
    criticalSilentMinutes: z.number().int().positive(),
    retentionFloorDays: z.number().int().positive(),
  }),
  /** Log file sources shipped by `logs ship` (not `sources` below: that says where values came from). */
  logSources: sources,
  /** The Supabase project whose platform logs `logs ship` pulls; empty: the subdomain of SUPABASE_URL. */
  supabase: z.strictObject({
    projectRef: z.string().regex(/^([a-z0-9]{20})?$/, 'a Supabase project ref: 20 lowercase letters and digits'),
    /** Rows asked for per query: the Management API caps an answer at 1,000. */
    pageRows: z.number().int().min(1).max(100_000),
  }),
};

export const Settings = z.strictObject(settingsShape);
export type Settings = z.infer<typeof Settings>;

const PartialSettings = z.strictObject({
  region: settingsShape.region.optional(),
  apps: settingsShape.apps.optional(),
  drain: settingsShape.drain.partial().optional(),
  audit: settingsShape.audit.partial().optional(),
  attachments: settingsShape.attachments.partial().optional(),
  query: settingsShape.query.partial().optional(),
  health: settingsShape.health.partial().optional(),
  logSources: sources.optional(),
  supabase: settingsShape.supabase.partial().optional(),
});
type PartialSettings = z.infer<typeof PartialSettings>;

/** The shape of a config file: overrides, plus per-environment overrides. */
export const ConfigFile = PartialSettings.extend({
  $schema: z.string().optional(),
  environments: z.strictObject({ prod: PartialSettings.optional(), staging: PartialSettings.optional() }).optional(),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

export const DEFAULTS: Settings = {
  region: 'us-east-1',
  apps: ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'],
  drain: {
    bucket: 'raxx-heroku-logs-prod',
    keyPrefix: 'logs/',
    ssmPrefix: '/raxx/log-drain/',
    functionName: 'raxx-heroku-log-drain-receiver',
    logGroup: '/aws/lambda/raxx-heroku-log-drain-receiver',
    retentionDays: 400,
    receiverUrl: '',
  },
  audit: {
    roles: ['raptor_app', 'audit_archiver'],
    triggers: ['trg_users_history', 'trg_sessions_history', 'trg_passkeys_history'],
  },
  attachments: {
    bucket: 'raxx-support-attachments-prod',
    kmsAlias: 'alias/raxx-support-attachments',
  },
  query: {
    compactedPrefix: 'compacted/',
    database: 'raxx_logs',
    table: 'logs',
    workgroup: 'primary',
    outputLocation: '',
  },
  health: {
    warnSilentMinutes: 15,
    criticalSilentMinutes: 120,
    retentionFloorDays: 90,
  },
  logSources: [],
  supabase: { projectRef: '', pageRows: 1000 },
};

const BUILTIN_OVERLAYS: Record<EnvName, PartialSettings> = {
  prod: {},
  staging: { apps: ['raxx-api-staging'] },
};

/** The outside resources changing commands act on, by their setting's path. */
export const RESOURCES = ['drain.bucket', 'drain.functionName', 'drain.ssmPrefix', 'attachments.bucket', 'attachments.kmsAlias'] as const;
export type ResourceName = (typeof RESOURCES)[number];

export interface ResourceInfo {
  value: string;
  /** The other environments whose configuration names the same resource (the runbooks share the drain stack, the attachments bucket and key). */
  sharedWith: EnvName[];
  /**
   * False when this env has no value of its own while prod was given one per environment:
   * the built-in value would be the runbook's prod resource, which prod no longer uses.
   */
  configured: boolean;
}

export interface ResolvedConfig extends Settings {
  env: EnvName;
  /** Where the values came from, for `config show`. */
  sources: string[];
  resources: Record<ResourceName, ResourceInfo>;
}

export interface LoadConfigOptions {
  env?: string | undefined;
  configPath?: string | undefined;
  region?: string | undefined;
  processEnv: NodeJS.ProcessEnv;
}

export async function loadConfig(opts: LoadConfigOptions): Promise<ResolvedConfig> {
  const env = parseEnvName(opts.env ?? 'prod');
  const sources = ['built-in defaults'];
  let merged: Settings = merge(DEFAULTS, BUILTIN_OVERLAYS[env]);
  if (env !== 'prod') sources.push(`built-in ${env} overlay`);

  const path = opts.configPath ?? opts.processEnv.RAXX_OPS_CONFIG;
  let file: ConfigFile | undefined;
  if (path) {
    file = await readConfigFile(path);
    merged = merge(merged, stripEnvironments(file));
    const overlay = file.environments?.[env];
    if (overlay) merged = merge(merged, overlay);
    sources.push(`config file ${path}${overlay ? ` (+ environments.${env})` : ''}`);
  }
  if (opts.region) {
    merged = { ...merged, region: opts.region };
    sources.push('--region');
  }
  const checked = Settings.safeParse(merged);
  if (!checked.success) {
    throw new ConfigError(`invalid configuration: ${describeIssues(checked.error)}`, { hint: path ? `check ${path}` : undefined });
  }
  return { ...checked.data, env, sources, resources: resourcesOf(env, checked.data, file) };
}

function settingOf(settings: PartialSettings | undefined, name: ResourceName): string | undefined {
  const [group, field] = name.split('.') as ['drain' | 'attachments', string];
  return (settings?.[group] as Record<string, string> | undefined)?.[field];
}

function resourcesOf(env: EnvName, settings: Settings, file: ConfigFile | undefined): Record<ResourceName, ResourceInfo> {
  const top = file ? stripEnvironments(file) : undefined;
  const valueIn = (e: EnvName, name: ResourceName) => settingOf(file?.environments?.[e], name) ?? settingOf(top, name) ?? settingOf(BUILTIN_OVERLAYS[e], name) ?? settingOf(DEFAULTS, name);
  const out = {} as Record<ResourceName, ResourceInfo>;
  for (const name of RESOURCES) {
    const value = settingOf(settings, name)!;
    const own = settingOf(file?.environments?.[env], name) ?? settingOf(top, name) ?? settingOf(BUILTIN_OVERLAYS[env], name);
    const prodMoved = env !== 'prod' && settingOf(file?.environments?.prod, name) !== undefined;
    out[name] = {
      value,
      sharedWith: ENVIRONMENTS.filter((e) => e !== env && valueIn(e, name) === value),
      configured: !(prodMoved && own === undefined),
    };
  }
  return out;
}

export function parseEnvName(value: string): EnvName {
  if ((ENVIRONMENTS as readonly string[]).includes(value)) return value as EnvName;
  throw new UsageError(`unknown environment "${value}"`, { hint: `use --env ${ENVIRONMENTS.join(' or --env ')}` });
}

async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read config file ${path}: ${code === 'ENOENT' ? 'no such file' : String(code ?? err)}`, {
      hint: 'pass an existing JSON file with --config, or unset RAXX_OPS_CONFIG to use the built-in defaults',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`, {
      hint: `fix the file (a JSON object, e.g. {"drain": {"bucket": "…"}}), or run without --config / RAXX_OPS_CONFIG; raxx-ops config show prints the values in use`,
    });
  }
  const parsed = ConfigFile.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(`config file ${path}: ${describeIssues(parsed.error)}`, {
      hint: 'run `raxx-ops config show --json` to see the expected fields and their current values',
    });
  }
  return parsed.data;
}

/** "drain.bucket: expected string, received number" — the field first, as operators grep for it. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.length ? issue.path.join('.') : '(top level)';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

function stripEnvironments(file: ConfigFile): PartialSettings {
  const { environments: _e, $schema: _s, ...rest } = file;
  return rest;
}

function merge(base: Settings, over: PartialSettings): Settings {
  return {
    region: over.region ?? base.region,
    apps: over.apps ?? base.apps,
    drain: { ...base.drain, ...over.drain },
    audit: { ...base.audit, ...over.audit },
    attachments: { ...base.attachments, ...over.attachments },
    query: { ...base.query, ...over.query },
    health: { ...base.health, ...over.health },
    logSources: over.logSources ?? base.logSources,
    supabase: { ...base.supabase, ...over.supabase },
  };
}

/**
 * A source as shipping uses it: its declaration, or the defaults for one that is not declared
 * (optional, the drain bucket, the receiver's layout, the default redaction).
 */
export function resolveSource(config: Settings, name: string): SourceSettings & { bucket: string; declared: boolean } {
  const declared = config.logSources.find((s) => s.name === name);
  const s = declared ?? SourceSettings.parse({ name });
  return { ...s, bucket: s.bucket ?? config.drain.bucket, declared: declared !== undefined };
}

/** SSM parameter names the drain commands read and write. */
export function ssmNames(config: Settings) {
  const p = config.drain.ssmPrefix;
  return {
    bucketName: `${p}bucket_name`,
    bucketArn: `${p}bucket_arn`,
    drainToken: `${p}drain_token`,
    drainUrl: `${p}drain_url`,
  };
}
