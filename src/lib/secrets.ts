// Redaction: drain tokens, URL credentials and query strings, database passwords and
// pre-signed URL signatures never reach stdout, stderr or a log line.

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

const PATTERNS: [RegExp, string | ((...m: string[]) => string)][] = [
  // Heroku drain tokens: d.<uuid>
  [/\bd\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, `d.${MASK}`],
  // token=… in any query string or form
  [/([?&;](?:token|drain_token|access_token|api_key|key|password|secret)=)[^&\s"'#]+/gi, `$1${MASK}`],
  // pre-signed URL parts
  [/([?&]X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"'#]+/gi, `$1${MASK}`],
  // userinfo in a URL: scheme://user:password@host (the password may itself hold an @)
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^/\s]*@(?=[^@/\s]*(?:[/\s?#]|$))/gi, `$1${MASK}@`],
  // Authorization headers
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${MASK}`],
];

/**
 * A name whose value is a secret, in any spelling a log or a dump uses: DRAIN_TOKEN,
 * drain_token, drainToken, "SecretAccessKey", PGPASSWORD, X-Amz-Security-Token, Authorization.
 * Bounded (40 characters of prefix) so that long words cost little; `token_present` (the
 * receiver's log line) and names with more after the keyword do not match.
 */
const KEY = String.raw`(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]{0,40}?(?:password|passwd|secret[_-]?access[_-]?key|secret|token|api[_-]?key|private[_-]?key|authorization)(?:[_-]previous)?)(?![A-Za-z0-9_])`;
/** Cheap pre-check: most lines (log lines) hold none of these words and skip the key patterns. */
const KEYWORD = /password|passwd|secret|token|api[_-]?key|private[_-]?key|authorization/i;
/** Values left as they are: already masked, or an SSM parameter path (the name, not the value). */
const KEEP = /\*\*\*\*|^\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;

/** A value: quoted, or bare with an optional auth scheme kept readable (Authorization: Bearer ****). */
const VALUE = String.raw`(?:(["'])((?:\\.|(?!\4)[^\\\n])*)\4|((?:Bearer|Basic|token)[ \t]+)?([^\s"',;&}#)\]]+))`;

function maskValue(m: string, lead: string, key: string, sep: string, q?: string, quoted?: string, scheme?: string, bare?: string): string {
  const value = quoted ?? bare ?? '';
  if (KEEP.test(value)) return m;
  return q ? `${lead}${key}${sep}${q}${MASK}${q}` : `${lead}${key}${sep}${scheme ?? ''}${MASK}`;
}

const KEY_PATTERNS: [RegExp, (m: string, ...groups: string[]) => string][] = [
  // "key": "value" (JSON) and 'key': 'value' (a Python or JS dump)
  [
    new RegExp(String.raw`(["'])${KEY}\1(\s*:\s*)(["'])((?:\\.|(?!\4)[^\\\n])*)\4`, 'gi'),
    (m, q, key, sep, vq, value) => (KEEP.test(value!) ? m : `${q}${key}${q}${sep}${vq}${MASK}${vq}`),
  ],
  // key=value, key = "value" (environment, libpq), anywhere in a line
  [new RegExp(String.raw`()${KEY}([ \t]*=[ \t]*)${VALUE}`, 'gi'), maskValue],
  // key: value (YAML, headers, a JS dump) only where a key starts: at the start of a line or
  // after { , ( [ — so prose such as "generate a new token: planned" stays as it is
  [new RegExp(String.raw`(^[ \t]*(?:-[ \t]+)?|[{,(\[][ \t]*)${KEY}([ \t]*:[ \t]*)${VALUE}`, 'gim'), maskValue],
];

export function redact(text: string): string {
  let out = text;
  for (const value of known) {
    if (out.includes(value)) out = out.split(value).join(MASK);
  }
  for (const [re, rep] of PATTERNS) {
    out = out.replace(re, rep as string);
  }
  if (KEYWORD.test(out)) {
    for (const [re, rep] of KEY_PATTERNS) out = out.replace(re, rep);
  }
  return out;
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
