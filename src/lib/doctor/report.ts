// What a doctor check reports: findings that pass, warn or fail, each failure naming the
// runbook's failure mode and the exact fix. Pure: the checks build these, the command prints.
import type { FailureMode } from '../drains/probe.js';

export type Status = 'pass' | 'warn' | 'fail';

/**
 * The log-drain runbook's modes A-D (not wired, token mismatch, S3 write failed, timeout),
 * and the audit runbook's: role setting missing ("audit B"), trigger missing or disabled
 * ("audit C"), retention ("audit D": objects expire before 90 days).
 */
export type Mode = FailureMode | 'audit B' | 'audit C' | 'audit D';

export interface Finding {
  status: Status;
  /** Evidence: what was seen, never a secret value. */
  message: string;
  mode?: Mode | undefined;
  /** The exact fix: a raxx-ops command where one exists, else the runbook step. */
  fix?: string | undefined;
}

export interface CheckResult {
  id: string;
  title: string;
  status: Status;
  findings: Finding[];
  /** Figures worth keeping in the JSON report (tiers, costs, counts). */
  data?: object | undefined;
  ms: number;
}

export const pass = (message: string): Finding => ({ status: 'pass', message });
export const warn = (message: string, fix?: string, mode?: Mode): Finding => ({ status: 'warn', message, ...(fix ? { fix } : {}), ...(mode ? { mode } : {}) });
export const fail = (message: string, fix: string, mode?: Mode): Finding => ({ status: 'fail', message, fix, ...(mode ? { mode } : {}) });

export function worst(statuses: Status[]): Status {
  return statuses.includes('fail') ? 'fail' : statuses.includes('warn') ? 'warn' : 'pass';
}

/** The failure modes the findings name, in A-D order. */
export function modesOf(checks: CheckResult[]): Mode[] {
  const modes = new Set(checks.flatMap((c) => c.findings.filter((f) => f.status !== 'pass' && f.mode).map((f) => f.mode!)));
  return [...modes].sort();
}

/** One line for people and for Slack: counts, modes, and the first problems. */
export function summaryLine(checks: CheckResult[]): string {
  const n = (s: Status) => checks.filter((c) => c.status === s).length;
  const modes = modesOf(checks);
  return `${n('pass')} pass, ${n('warn')} warn, ${n('fail')} fail${modes.length ? ` (failure mode ${modes.join(', ')})` : ''}`;
}
