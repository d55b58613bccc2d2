// Output masking: drain tokens, URL credentials and query strings, database passwords,
// pre-signed URL signatures and every other shape of redaction.ts never reach stdout, stderr,
// a log line or a Slack message.
import { applyRules, OUTPUT_MASK, OUTPUT_RULES, SECRET_RULES } from './redaction.js';

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

/** Why a text may not be masked in two pieces at a point (see maskHazard). */
export type MaskHazard = 'key-block' | 'key-value' | 'known-secret';

/**
 * Why masking `lines` (each ended by a newline) and then the text from `next` on, apart,
 * might not give what redact() of them joined gives; undefined when it does, so a long text
 * may be masked and written a piece at a time. Only two shapes of rule reach over a newline:
 * a private key block (masked up to its END line, or to the end of the text when there is
 * none) and a JSON key with its value, the newline inside the `\s*:\s*` between them. So no
 * cut after a colon, or after a quote when `next` starts (past blanks) with a colon or is
 * blank ('key-value'); none while a block is open in `lines` ('key-block': it can only close
 * on a line naming PRIVATE KEY); none at all when a known secret holds a newline.
 */
export function maskHazard(lines: readonly string[], next: string): MaskHazard | undefined {
  for (const value of known) if (value.includes('\n')) return 'known-secret';
  const last = lastNonBlank(lines);
  if (last === ':') return 'key-value';
  if (last === '"' || last === "'") {
    const first = /\S/.exec(next)?.[0];
    if (first === undefined || first === ':') return 'key-value';
  }
  return openKeyBlock(lines) ? 'key-block' : undefined;
}

function lastNonBlank(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    for (let j = line.length - 1; j >= 0; j--) if (!/\s/.test(line[j]!)) return line[j];
  }
  return undefined;
}

const KEY_BLOCK = SECRET_RULES.find((r) => r.name === 'private-key')!.re;

/** Whether the private-key rule, run over the lines, masks a block up to their end (one not closed in them). */
function openKeyBlock(lines: readonly string[]): boolean {
  // A block starts on a line naming it: the rule finds none before the first such line.
  const from = lines.findIndex((l) => l.includes('PRIVATE KEY'));
  if (from === -1) return false;
  const text = `${lines.slice(from).join('\n')}\n`;
  const re = new RegExp(KEY_BLOCK.source, KEY_BLOCK.flags);
  for (let m = re.exec(text); m; m = re.exec(text)) {
    // Ended by the end of the text: every block closed in it ends on its END line, before a newline.
    if (m.index + m[0].length === text.length) return true;
    if (m[0].length === 0) re.lastIndex += 1;
  }
  return false;
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
