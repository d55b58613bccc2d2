// Durations typed on the command line: `500ms`, `2s`, `5m`, `1h`, or a bare number of the
// flag's own unit. One parser, so every flag that takes a duration reads the same forms.
import { UsageError } from './errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

export interface DurationRule {
  /** The flag, for messages: `--interval`. */
  flag: string;
  /** What a bare number means (default seconds). */
  unit?: Unit;
  minMs?: number;
  maxMs?: number;
}

/** Milliseconds, or a UsageError (exit 2) naming the flag and the accepted forms. */
export function parseDuration(text: string, rule: DurationRule): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  const forms = 'e.g. 500ms, 2s, 5m, 1h';
  if (!m) throw new UsageError(`${rule.flag}: "${text}" is not a duration`, { hint: `use a number and a unit: ${forms}` });
  const ms = Math.round(Number(m[1]) * UNIT_MS[((m[2] ?? rule.unit ?? 's').toLowerCase()) as Unit]);
  if (rule.minMs !== undefined && ms < rule.minMs) throw new UsageError(`${rule.flag}: ${text} is less than ${formatDuration(rule.minMs)}`, { hint: `at least ${formatDuration(rule.minMs)}` });
  if (rule.maxMs !== undefined && ms > rule.maxMs) throw new UsageError(`${rule.flag}: ${text} is more than ${formatDuration(rule.maxMs)}`, { hint: `at most ${formatDuration(rule.maxMs)}` });
  return ms;
}

/** `1.5 s`, `2 min`, `1 h`: for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}
