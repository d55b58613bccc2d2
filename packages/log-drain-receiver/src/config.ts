// The receiver's settings, from the Lambda's environment (or any env-like map: the CLI's
// `receiver serve --from-lambda` passes the function's configured variables). Validated
// with zod; errors name the variable, never its value.
// zod/mini keeps the Lambda bundle small (see event.ts).
import * as z from 'zod/mini';
import { DEFAULT_KEY_PREFIX, isAppName, keyPrefixProblem, normalizePrefix, UNKNOWN_APP } from '@raxx/log-format/object-key';

/** The variables the receiver reads; any others in the environment are ignored. */
export const RECEIVER_ENV_VARS = ['BUCKET_NAME', 'DRAIN_TOKEN', 'DRAIN_TOKEN_PREVIOUS', 'KEY_PREFIX', 'ALLOWED_APPS'] as const;
export type ReceiverEnvVar = (typeof RECEIVER_ENV_VARS)[number];

export interface DrainTokens {
  current: string;
  /** The token being rotated out, accepted until DRAIN_TOKEN_PREVIOUS is cleared. */
  previous?: string | undefined;
}

export interface ReceiverConfig {
  bucket: string;
  tokens: DrainTokens;
  keyPrefix: string;
  /** When set, batches for other apps are stored under `unknown` (see batch.ts). */
  allowedApps?: string[] | undefined;
}

export class ReceiverConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`receiver configuration: ${problems.join('; ')}`);
    this.name = 'ReceiverConfigError';
  }
}

// An unset variable and an empty one mean the same; SSM-sourced values may carry a newline.
const optionalText = z.pipe(
  z.optional(z.string()),
  z.transform((v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim())),
);

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const envSchema = z.object({
  BUCKET_NAME: optionalText.check(z.refine((v) => v !== undefined && S3_BUCKET.test(v), 'must be an S3 bucket name')),
  DRAIN_TOKEN: optionalText.check(z.refine((v) => v !== undefined, 'must be set')),
  DRAIN_TOKEN_PREVIOUS: optionalText,
  KEY_PREFIX: optionalText.check(
    z.superRefine((v, ctx) => {
      const problem = v === undefined ? undefined : keyPrefixProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem}, e.g. logs/`, input: v });
    }),
  ),
  ALLOWED_APPS: z
    .pipe(
      optionalText,
      z.transform((v: string | undefined) => (v === undefined ? undefined : [...new Set(v.split(',').map((a) => a.trim()).filter((a) => a !== ''))])),
    )
    .check(z.refine((apps) => apps === undefined || apps.every(isAppName), 'must be a comma list of Heroku app names'))
    .check(z.refine((apps) => !apps?.includes(UNKNOWN_APP), `must not name "${UNKNOWN_APP}", the folder of batches whose app cannot be told`)),
} satisfies Record<ReceiverEnvVar, unknown>);

/** Read the receiver's settings from an environment. Throws ReceiverConfigError. */
export function configFromEnv(env: Record<string, string | undefined>): ReceiverConfig {
  const res = envSchema.safeParse(Object.fromEntries(RECEIVER_ENV_VARS.map((k) => [k, env[k]])));
  if (!res.success) {
    // Paths and messages only: zod's issues do not carry the input, so no token leaks here.
    throw new ReceiverConfigError(res.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
  }
  const v = res.data;
  return {
    bucket: v.BUCKET_NAME!,
    tokens: { current: v.DRAIN_TOKEN!, previous: v.DRAIN_TOKEN_PREVIOUS },
    keyPrefix: normalizePrefix(v.KEY_PREFIX ?? DEFAULT_KEY_PREFIX),
    allowedApps: v.ALLOWED_APPS && v.ALLOWED_APPS.length > 0 ? v.ALLOWED_APPS : undefined,
  };
}
