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
  // userinfo in a URL: scheme://user:password@host
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@/\s]+@/gi, `$1${MASK}@`],
  // Authorization headers
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${MASK}`],
  // PGPASSWORD=…, password: "…"
  [/\b(PGPASSWORD|DRAIN_TOKEN(?:_PREVIOUS)?|HEROKU_API_KEY|AWS_SECRET_ACCESS_KEY)(\s*[=:]\s*)("?)[^\s"',}]+/g, `$1$2$3${MASK}`],
];

export function redact(text: string): string {
  let out = text;
  for (const value of known) {
    if (out.includes(value)) out = out.split(value).join(MASK);
  }
  for (const [re, rep] of PATTERNS) {
    out = out.replace(re, rep as string);
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

/** Deep-redact a JSON-able value (for --json output). */
export function redactValue<T>(value: T): T {
  return JSON.parse(redact(JSON.stringify(value))) as T;
}
