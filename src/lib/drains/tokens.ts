// Where a rotation starts from: the tokens the function accepts (DRAIN_TOKEN and
// DRAIN_TOKEN_PREVIOUS), the one in SSM and the ones the drains carry. Any mix of them can
// happen (a token changed by hand on the function or in SSM, a rotation killed half-way, a drain
// left behind); `drains rotate` decides here, without any network, which tokens the function
// keeps accepting while the drains move, so that no batch it takes now is refused during the run.
// Pure, so every mixed state is a table test. Tokens are never named in what this returns:
// they are described by the apps whose drains carry them.

export interface TokenState {
  /** The function's DRAIN_TOKEN. */
  current: string | undefined;
  /** The function's DRAIN_TOKEN_PREVIOUS. */
  previous: string | undefined;
  /** The token in SSM drain_url. */
  urlToken: string | undefined;
  /** SSM drain_token. */
  ssmToken: string | undefined;
  /** Every drain to the receiver that raxx-ops can move (add-on drains excepted), with its token. */
  drains: { app: string; token: string | undefined }[];
}

export type TokenPlan =
  | {
      /** Finish the rotation the function's two tokens show: every drain moves to DRAIN_TOKEN, then DRAIN_TOKEN_PREVIOUS is dropped. */
      kind: 'resume';
      newToken: string;
      oldToken: string;
      /** What was found out of line besides the open rotation (empty for a plain resume). */
      findings: string[];
      refused: TokenGroup[];
    }
  | {
      /**
       * A new token: the function accepts it and `keep` (the token the drains carry), every
       * drain moves to it, then `keep` is dropped. 'repair' when the state was mixed.
       */
      kind: 'rotate' | 'repair';
      keep: string | undefined;
      findings: string[];
      /** Drains on tokens the function refuses now and will not accept during the run. */
      refused: TokenGroup[];
    };

export interface TokenGroup {
  /** The apps whose drains carry the token, in order of first sight. */
  apps: string[];
  drains: number;
}

/**
 * The function has two slots. Whenever both hold tokens that drains carry, those two are kept
 * and the run moves every drain to DRAIN_TOKEN (a resume): a third token would leave no slot
 * for either. Otherwise a new token is made and the other slot keeps the drains' token — the
 * one the function accepts now, else the one on the most apps — so drains the function refuses
 * now (changed by hand) are accepted again from the first change on. Drains on any further
 * token were refused before the run and stay refused until their app's new drain is added.
 */
export function planTokens(s: TokenState): TokenPlan {
  const accepted = new Set([s.current, s.previous].filter((t): t is string => Boolean(t)));
  const groups = new Map<string, TokenGroup>();
  for (const d of s.drains) {
    if (!d.token) continue;
    const g = groups.get(d.token) ?? { apps: [], drains: 0 };
    if (!g.apps.includes(d.app)) g.apps.push(d.app);
    g.drains++;
    groups.set(d.token, g);
  }
  const inUse = [...groups.keys()];
  const live = inUse.filter((t) => accepted.has(t));
  if (s.current && s.previous && (live.length === 2 || (s.urlToken !== undefined && accepted.has(s.urlToken) && inUse.every((t) => accepted.has(t))))) {
    // A DRAIN_TOKEN_PREVIOUS no drain carries is how a rotation stopped in its grace wait looks.
    return { kind: 'resume', newToken: s.current, oldToken: s.previous, findings: describe(s, accepted, groups, false), refused: refusedBy(groups, accepted) };
  }
  const findings = describe(s, accepted, groups, true);
  const rank = (t: string) => {
    const g = groups.get(t)!;
    return [accepted.has(t) ? 1 : 0, g.apps.length, g.drains, t === s.urlToken ? 1 : 0, t === s.ssmToken ? 1 : 0];
  };
  const byRank = [...inUse].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return rb[i]! - ra[i]!;
    return 0;
  });
  // No drain carries a token: keep what SSM names if the function takes it, else what it takes.
  const keep = byRank[0] ?? (s.urlToken && accepted.has(s.urlToken) ? s.urlToken : (s.current ?? s.urlToken));
  const plain = Boolean(s.current) && !s.previous && s.urlToken === s.current && s.ssmToken === s.current && inUse.every((t) => t === s.current);
  return { kind: plain ? 'rotate' : 'repair', keep, findings, refused: refusedBy(groups, new Set(keep ? [keep] : [])) };
}

function refusedBy(groups: Map<string, TokenGroup>, accepted: Set<string>): TokenGroup[] {
  return [...groups].filter(([t]) => !accepted.has(t)).map(([, g]) => g);
}

/** What is out of line, in words that name apps and slots, never a token. */
function describe(s: TokenState, accepted: Set<string>, groups: Map<string, TokenGroup>, stalePrevious: boolean): string[] {
  const out: string[] = [];
  if (!s.current) out.push('the function has no DRAIN_TOKEN');
  if (s.urlToken === undefined) out.push('SSM drain_url carries no token');
  else if (!accepted.has(s.urlToken)) out.push('SSM drain_url carries a token the function refuses');
  if (s.ssmToken !== s.urlToken) out.push('SSM drain_token differs from the token in drain_url');
  for (const [t, g] of groups) {
    if (!accepted.has(t)) out.push(`the drains of ${g.apps.join(', ')} carry a token the function refuses (their batches are answered 403 now)`);
  }
  if (stalePrevious && s.previous && !groups.has(s.previous) && s.previous !== s.urlToken) out.push('the function\'s DRAIN_TOKEN_PREVIOUS is a token no drain carries');
  if (groups.size > 2) out.push(`the drains carry ${groups.size} different tokens; the function accepts two at a time`);
  return out;
}
