// Durations typed on the command line: `500ms`, `2s`, `5m`, `1h`, or a bare number of the
// flag's own unit. One parser, so every flag that takes a duration reads the same forms.
import { UsageError } from './errors.js';

export const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;
const UNIT_NAME: Record<DurationUnit, string> = { ms: 'milliseconds', s: 'seconds', m: 'minutes', h: 'hours' };

export interface DurationRule {
  /** The flag, for messages: `--interval`. */
  flag: string;
  /** What a bare number means (default seconds). */
  unit?: DurationUnit;
  minMs?: number;
  maxMs?: number;
  /** Only whole units of `unit` (a value passed on in that unit, e.g. a pre-signed URL's seconds). */
  whole?: boolean;
  /** Said after the limit when the value is too long: why the limit is there. */
  maxWhy?: string;
}

/** Milliseconds, or what is wrong with the text (message without the flag) and a hint. */
export function checkDuration(text: string, rule: Omit<DurationRule, 'flag'>): { ms: number } | { problem: string; hint: string } {
  const unit = rule.unit ?? 's';
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!m) return { problem: `"${text}" is not a duration`, hint: `use a number and a unit (a bare number is ${UNIT_NAME[unit]}): e.g. 500ms, 2s, 5m, 1h` };
  const ms = Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? unit).toLowerCase() as DurationUnit]);
  if (rule.whole && ms % UNIT_MS[unit] !== 0) return { problem: `${text} is not a whole number of ${UNIT_NAME[unit]}`, hint: `round it to whole ${UNIT_NAME[unit]}` };
  if (rule.minMs !== undefined && ms < rule.minMs) return { problem: `${text} is less than ${formatDuration(rule.minMs)}`, hint: `at least ${formatDuration(rule.minMs)}` };
  if (rule.maxMs !== undefined && ms > rule.maxMs) return { problem: `${text} is more than ${formatDuration(rule.maxMs)}`, hint: `${rule.maxWhy ? `${rule.maxWhy}; ` : ''}at most ${formatDuration(rule.maxMs)}` };
  return { ms };
}

/** Milliseconds, or a UsageError (exit 2) naming the flag and the accepted forms. */
export function parseDuration(text: string, rule: DurationRule): number {
  const r = checkDuration(text, rule);
  if ('problem' in r) throw new UsageError(`${rule.flag}: ${r.problem}`, { hint: r.hint });
  return r.ms;
}

/** `1.5 s`, `2 min`, `1 h`: for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}
