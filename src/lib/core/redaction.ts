// The secret shapes raxx-ops masks, in one place. Two consumers apply them: output masking
// (secrets.ts: every line printed, --json and --debug output, Slack messages) with `****`, and
// log shipping (shipping/prepare.ts) with `[REDACTED]`, before a line leaves the machine. A rule
// scoped `shipping` also masks personal data and identifiers a shipped log must not hold but an
// operator's own output needs (e-mail addresses, access key ids, S3-version-like strings).

/** Turns a rule's kind into the text that replaces a secret. */
export type Masker = (kind?: string) => string;

export const OUTPUT_MASK: Masker = () => '****';
export const SHIPPING_MASK: Masker = (kind) => (kind ? `[REDACTED:${kind}]` : '[REDACTED]');

export interface SecretRule {
  name: string;
  /** Global. */
  re: RegExp;
  /** The replacement of one match (`m` is the match, then its groups). */
  replace: (mask: Masker, m: string, ...groups: (string | undefined)[]) => string;
  /** Lines that do not match this are skipped cheaply. */
  needs?: RegExp;
  /** `all` (default): output and shipping; `shipping`: shipped logs only. */
  scope?: 'all' | 'shipping';
}

/** Values left as they are: already masked, or an SSM parameter path (the name, not the value). */
const KEEP = /\*\*\*\*|\[REDACTED|^\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;

/**
 * A name whose value is a secret, in any spelling a log or a dump uses: DRAIN_TOKEN,
 * drain_token, drainToken, "SecretAccessKey", PGPASSWORD, X-Amz-Security-Token, Authorization,
 * SUPABASE_SERVICE_ROLE_KEY. Bounded (40 characters of prefix) so that long words cost little;
 * names with more after the keyword (`token_present`, `max_tokens`, `password_changed_at`) do
 * not match — the upper-case environment names below do.
 */
const WORDS = String.raw`password|passwd|pwd|secret[_-]?access[_-]?key|secret[_-]?key|secret|token|api[_-]?key|private[_-]?key|service[_-]?role[_-]?key|authorization|cookie|dsn`;
const KEY = String.raw`(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]{0,40}?(?:${WORDS})(?:[_-]previous)?)(?![A-Za-z0-9_])`;
/** Environment names with a suffix after the secret word: AWS_SECRET_ACCESS_KEY_SUPPORT, SLACK_TOKEN_PROD. Case-sensitive. */
const ENV_KEY = String.raw`(?<![A-Za-z0-9_])([A-Z][A-Z0-9_]{0,40}?(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|SERVICE_ROLE_KEY|SECRET_ACCESS_KEY)_[A-Z0-9_]+)(?![A-Za-z0-9_])`;
/** Cheap pre-checks for the key rules. */
const KEYWORD = new RegExp(WORDS, 'i');
const ENV_WORD = /PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|SERVICE_ROLE_KEY/;

/**
 * A value after `key=` or `key:`: quoted (also with the quotes escaped, inside a JSON string),
 * or bare with an optional auth scheme kept readable (`Authorization: Bearer ****`).
 * Groups: quote, quoted value, escaped-quoted value, scheme, bare value.
 */
const VALUE = String.raw`(?:(["'])((?:\\.|(?!\1)[^\\\n])*)\1|\\"((?:[^"\\\n]|\\[^"\n])*)\\"|((?:Bearer|Basic|Token|Digest)[ \t]+)?([^\s"',;&}#)\]\\]+))`;

/** Renumbers VALUE's back-reference for where it sits in a pattern (`\1` → `\n`). */
const value = (quoteGroup: number) => VALUE.replace(/\\1/g, `\\${quoteGroup}`);

function maskValue(mask: Masker, m: string, lead?: string, key?: string, sep?: string, q?: string, quoted?: string, escaped?: string, scheme?: string, bare?: string): string {
  const v = quoted ?? escaped ?? bare ?? '';
  if (KEEP.test(v) || v === '') return m;
  lead ??= '';
  if (q) return `${lead}${key}${sep}${q}${mask()}${q}`;
  if (escaped !== undefined) return `${lead}${key}${sep}\\"${mask()}\\"`;
  return `${lead}${key}${sep}${scheme ?? ''}${mask()}`;
}

/** A JSON (or Python/JS dump) key and its string or number value. */
function jsonRule(name: string, key: string, flags: string): SecretRule {
  return {
    name,
    re: new RegExp(String.raw`(["'])${key}\1(\s*:\s*)(?:(["'])((?:\\.|(?!\4)[^\\\n])*)\4|(-?\d[\d.eE+-]*))`, flags),
    replace: (mask, m, q, k, sep, vq, v, num) => {
      if (num !== undefined) return `${q}${k}${q}${sep}${q}${mask()}${q}`;
      return KEEP.test(v ?? '') ? m : `${q}${k}${q}${sep}${vq}${mask()}${vq}`;
    },
    needs: KEYWORD,
  };
}

/** The same inside a JSON string, where the quotes are escaped: {"msg":"{\"password\":\"x\"}"}. */
function escapedJsonRule(name: string, key: string, flags: string): SecretRule {
  return {
    name,
    re: new RegExp(String.raw`(\\")${key}\\"(\s*:\s*)(?:\\"((?:[^"\\\n]|\\[^"\n])*?)\\"|(-?\d[\d.eE+-]*))`, flags),
    replace: (mask, m, q, k, sep, v) => (KEEP.test(v ?? '') ? m : `${q}${k}${q}${sep}\\"${mask()}\\"`),
    needs: /\\"/,
  };
}

/**
 * Whether `Basic <x>` carries credentials: base64 of `user:password`. Prose such as "Basic
 * authentication failed" decodes to bytes without a colon.
 */
function isBasicCredential(b64: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length < 4) return false;
  return Buffer.from(b64, 'base64').toString('latin1').includes(':');
}

const AWS_SECRET = String.raw`(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[0-9])(?!/)(?![A-Za-z0-9/+]{0,38}//)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])`;

export const SECRET_RULES: readonly SecretRule[] = [
  {
    // Whole blocks, also with their newlines escaped inside a JSON string; a block cut off
    // by the end of the text is masked to its end (the shipping Redactor carries it over lines).
    name: 'private-key',
    re: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|$(?![\s\S]))/g,
    replace: (mask, _m, kind, block) => `-----BEGIN ${kind ?? ''}PRIVATE KEY${block ?? ''}-----${mask('private-key')}-----END ${kind ?? ''}PRIVATE KEY${block ?? ''}-----`,
    needs: /PRIVATE KEY/,
  },
  // Heroku drain tokens: d.<uuid>
  { name: 'drain-token', re: /\bd\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g, replace: (mask) => `d.${mask()}`, needs: /d\./ },
  // userinfo in a URL of any scheme: scheme://user:password@host (the password may itself hold an @)
  {
    name: 'url-credentials',
    re: /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@"']*:)[^/\s"']*@(?=[^@/\s]*(?:[/\s?#"']|$))/gi,
    replace: (mask, _m, lead) => `${lead}${mask()}@`,
    needs: /:\/\//,
  },
  // Slack incoming webhooks: the path is the credential.
  { name: 'slack-webhook', re: /(hooks\.slack(?:-gov)?\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9/_-]+/gi, replace: (mask, _m, lead) => `${lead}${mask()}`, needs: /hooks\.slack/i },
  // Query-string and form credentials, pre-signed URL signatures (S3, Google Cloud, Azure SAS).
  {
    name: 'query-secret',
    re: /([?&;](?:token|drain_token|access_token|refresh_token|id_token|api_key|apikey|key|password|passwd|pwd|pass|secret|client_secret|sig|signature|code_verifier|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential|AWSAccessKeyId)=)[^&\s"'#]+/gi,
    replace: (mask, m, lead) => (m.slice(lead!.length).includes('****') ? m : `${lead}${mask()}`),
    needs: /=/,
  },
  // JSON Web Tokens (Supabase keys, OAuth id tokens), wherever they stand.
  { name: 'jwt', re: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, replace: (mask) => mask('jwt'), needs: /eyJ/ },
  // Vendor tokens with a recognisable prefix: GitHub, Slack, Stripe, Google, npm, Heroku, Supabase.
  {
    name: 'vendor-token',
    re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{16,}|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|HRKU-[A-Za-z0-9_-]{20,}|sb_secret_[A-Za-z0-9_-]{16,})/g,
    replace: (mask) => mask('token'),
    needs: /gh[pousr]_|github_pat_|xox|xapp-|_live_|_test_|whsec_|AIza|npm_|HRKU-|sb_secret_/,
  },
  // Authorization schemes in free text: a Bearer token has a digit or a symbol (not "Bearer
  // authentication"); Basic credentials decode to user:password.
  {
    name: 'bearer',
    re: /\b(Bearer)([ \t]+)(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{6,}/gi,
    replace: (mask, m, scheme, space) => (m.includes('****') ? m : `${scheme}${space}${mask()}`),
    needs: /bearer/i,
  },
  {
    name: 'basic-auth',
    re: /\b(Basic)([ \t]+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/gi,
    replace: (mask, m, scheme, space, b64) => (isBasicCredential(b64!) ? `${scheme}${space}${mask()}` : m),
    needs: /basic/i,
  },
  // Cookie headers: every pair up to the end of the line is a session.
  {
    name: 'cookie',
    re: /(^|[\s{,(["'])((?:set-)?cookie)([ \t]*:[ \t]*)(?!["'\\])([^\r\n"'\\]+)/gim,
    replace: (mask, m, lead, key, sep, v) => (KEEP.test(v!) ? m : `${lead}${key}${sep}${mask()}`),
    needs: /cookie/i,
  },
  // --password secret on a logged command line
  {
    name: 'cli-flag',
    re: /(--(?:password|passwd|token|secret|api-key|access-token|client-secret)[ \t]+)(?!-)([^\s"']+)/gi,
    replace: (mask, m, lead, v) => (KEEP.test(v!) ? m : `${lead}${mask()}`),
    needs: /--/,
  },
  // "key": "value" (JSON, escaped JSON inside a string) and 'key': 'value' (a Python or JS dump); numbers too (PINs, one-time codes)
  jsonRule('json-secret', KEY, 'gi'),
  { ...jsonRule('json-env-secret', ENV_KEY, 'g'), needs: ENV_WORD },
  { ...escapedJsonRule('json-secret', KEY, 'gi'), needs: /\\"[^"]*(?:password|passwd|pwd|secret|token|key|authorization|cookie|dsn)/i },
  { ...escapedJsonRule('json-env-secret', ENV_KEY, 'g'), needs: ENV_WORD },
  // key=value, key = "value" (environment, libpq, logfmt), anywhere in a line
  { name: 'key-value', re: new RegExp(String.raw`()${KEY}([ \t]*=[ \t]*)${value(4)}`, 'gi'), replace: maskValue, needs: KEYWORD },
  { name: 'env-secret', re: new RegExp(String.raw`()${ENV_KEY}([ \t]*=[ \t]*)${value(4)}`, 'g'), replace: maskValue, needs: ENV_WORD },
  // key: value (YAML, headers, a JS dump) where a key starts — at the start of a line or after
  // { , ( [ — and mid-line when the key is an identifier (db_password, apiKey) or the value
  // has a digit or a symbol, so prose such as "generate a new token: planned" stays.
  { name: 'key-colon', re: new RegExp(String.raw`(^[ \t]*(?:-[ \t]+)?|[{,(\[][ \t]*)${KEY}([ \t]*:[ \t]*)${value(4)}`, 'gim'), replace: maskValue, needs: KEYWORD },
  {
    name: 'key-colon',
    re: new RegExp(String.raw`([ \t"'])${KEY}([ \t]*:[ \t]*)${value(4)}`, 'gi'),
    replace: (mask, m, lead, key, sep, q, quoted, escaped, scheme, bare) => {
      const v = quoted ?? escaped ?? bare ?? '';
      const identifier = /[_-]|[a-z][A-Z]/.test(key!);
      // A bracket after the colon starts a label or a list ("token: [B] the function's …"), not a secret.
      if (bare !== undefined && /^[[(]/.test(bare)) return m;
      return identifier || /[\d\W]/.test(v.replace(/\s/g, '')) ? maskValue(mask, m, lead, key, sep, q, quoted, escaped, scheme, bare) : m;
    },
    needs: KEYWORD,
  },
  {
    name: 'header',
    re: new RegExp(String.raw`((?:^|[\s"']))((?:proxy-)?authorization|x-[a-z0-9-]*(?:token|api-key|secret|signature)|api-key)([ \t]*:[ \t]*)${value(4)}`, 'gim'),
    replace: maskValue,
    needs: /authorization|x-|api-key/i,
  },
  // An AWS secret access key after any `name=` (aws=…, --secret=…): 40 base64 characters mixing
  // upper case, lower case and digits, so 40-digit hex (commit SHAs) stays.
  { name: 'aws-secret-key', re: new RegExp(String.raw`=${AWS_SECRET}`, 'g'), replace: (mask) => `=${mask('aws-secret-key')}`, needs: /=/ },
  // Shipped logs only: the same shape anywhere (output keeps S3 version ids of that shape
  // readable), access key ids, and e-mail addresses (the runbook's PII redaction).
  { name: 'aws-secret-key', re: new RegExp(String.raw`(?<![A-Za-z0-9/+=])${AWS_SECRET}`, 'g'), replace: (mask) => mask('aws-secret-key'), scope: 'shipping' },
  { name: 'aws-access-key-id', re: /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g, replace: (mask) => mask('aws-access-key-id'), needs: /A[KSBC][IC]A/, scope: 'shipping' },
  {
    // The lookbehind starts a match only where a run of address characters starts: without
    // it, every position of a long token would rescan the token (quadratic time).
    name: 'email',
    re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
    replace: (mask) => mask('email'),
    needs: /@/,
    scope: 'shipping',
  },
];

export const OUTPUT_RULES: readonly SecretRule[] = SECRET_RULES.filter((r) => (r.scope ?? 'all') === 'all');

/** Applies rules to a text; `onMatch` counts replacements by rule name. */
export function applyRules(text: string, rules: readonly SecretRule[], mask: Masker, onMatch?: (rule: string) => void): string {
  let out = text;
  for (const rule of rules) {
    if (rule.needs && !rule.needs.test(out)) continue;
    rule.re.lastIndex = 0;
    out = out.replace(rule.re, (...args: unknown[]) => {
      // replace() passes the match, the groups, the offset and the input (then named groups, if any).
      const groups = args.slice(0, typeof args.at(-1) === 'object' ? -3 : -2) as (string | undefined)[];
      const m = groups[0]!;
      const replaced = rule.replace(mask, m, ...groups.slice(1));
      if (replaced !== m) onMatch?.(rule.name);
      return replaced;
    });
  }
  return out;
}

/** Where a private key block opens on a line without closing on it (a multi-line block in a line-by-line stream). */
export const OPEN_KEY_BLOCK = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----(?![\s\S]*-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)/;
export const CLOSE_KEY_BLOCK = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/;

// ---------------------------------------------------------------------------------------------
// Shipping: line by line, counted per rule, plus a source's own patterns

/** A source's own pattern (config `logSources[].redact`): `replacement` may use `$1`. */
export interface RedactionRule {
  name: string;
  re: RegExp;
  replacement: string;
}

/** Every rule, shipping's masks: what `logs ship` applies by default. */
export const DEFAULT_REDACTIONS: readonly SecretRule[] = SECRET_RULES;

function ownRule(r: RedactionRule): SecretRule {
  return { name: r.name, re: r.re, replace: (_mask, _m, ...groups) => r.replacement.replace(/\$(\d)/g, (_, d: string) => (Number(d) === 0 ? _m : (groups[Number(d) - 1] ?? ''))) };
}

export function redactionRules(source: { redact: { name: string; pattern: string; flags?: string | undefined; replacement: string }[]; defaultRedaction: boolean }): SecretRule[] {
  const own = source.redact.map((r) => ownRule({ name: r.name, re: new RegExp(r.pattern, `g${(r.flags ?? '').replace(/g/g, '')}`), replacement: r.replacement }));
  return [...(source.defaultRedaction ? DEFAULT_REDACTIONS : []), ...own];
}

/**
 * Applies the rules to lines and counts what each replaced. A private key block that opens on
 * one line and closes on a later one is masked whole: the lines in between become the mask.
 */
export class Redactor {
  readonly counts: Record<string, number> = {};
  private inKeyBlock = false;
  private readonly keyBlocks: boolean;
  constructor(private readonly rules: readonly SecretRule[]) {
    for (const r of rules) this.counts[r.name] = 0;
    this.keyBlocks = rules.some((r) => r.name === 'private-key');
  }

  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  private count = (name: string) => {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
  };

  line(text: string): string {
    if (this.keyBlocks) {
      if (this.inKeyBlock) {
        const end = CLOSE_KEY_BLOCK.exec(text);
        if (!end) return SHIPPING_MASK('private-key');
        this.inKeyBlock = false;
        text = SHIPPING_MASK('private-key') + text.slice(end.index);
      } else if (OPEN_KEY_BLOCK.test(text)) {
        this.inKeyBlock = true;
      }
    }
    return applyRules(text, this.rules, SHIPPING_MASK, this.count);
  }
}
