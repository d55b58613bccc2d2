// Output masking: drain tokens, URL credentials and query strings, database passwords,
// pre-signed URL signatures and every other shape of redaction.ts never reach stdout, stderr,
// a log line or a Slack message.
import { applyRules, OUTPUT_MASK, OUTPUT_RULES } from './redaction.js';

const MASK = '****';
const known = new Set<string>();

/** Remember a secret value seen at run time (a token read from SSM, a password) so that
 *  every later write masks it even where no pattern would catch it. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 6) known.add(value);
}

export function forgetSecrets(): void {
  known.clear();
}

export function redact(text: string): string {
  let out = text;
  for (const value of known) {
    if (out.includes(value)) out = out.split(value).join(MASK);
  }
  return applyRules(out, OUTPUT_RULES, OUTPUT_MASK);
}

/** A URL fit to print: query values, credentials and key-like path segments masked, keeping `app=` readable. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    // Third-party drains carry their key in the path (…/bulk/<token>/tag/heroku/): a long
    // segment mixing letters and digits is taken for one.
    u.pathname = u.pathname
      .split('/')
      .map((seg) => (/^[A-Za-z0-9_-]{16,}$/.test(seg) && /\d/.test(seg) && /[A-Za-z]/.test(seg) ? MASK : seg))
      .join('/');
    for (const key of [...u.searchParams.keys()]) {
      if (key !== 'app') u.searchParams.set(key, MASK);
    }
    return decodeURIComponent(u.toString());
  } catch {
    return redact(url);
  }
}

/**
 * A JSON-able value as redacted JSON text. Each string is redacted on its own first (a log
 * line holding `{"DRAIN_TOKEN":"…"}` is escaped once serialised, where no pattern sees its
 * shape), then the whole document (a key such as "password" with its value).
 */
export function redactJson(value: unknown, space?: number): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? redact(v) : v), space);
  return text === undefined ? 'null' : redact(text);
}

/** Deep-redact a JSON-able value (for --json output). */
export function redactValue<T>(value: T): T {
  return JSON.parse(redactJson(value)) as T;
}
