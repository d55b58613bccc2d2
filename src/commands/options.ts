// Options several commands share, declared once.
import { z } from 'zod';
import { appName } from '../lib/core/config.js';
import { checkDuration, UNIT_MS, type DurationRule, type DurationUnit } from '../lib/core/duration.js';
import { flag, option } from './define.js';

/** `--app A` (repeatable); commands default to every app of --env. */
export const apps = option(z.array(appName).optional(), 'an app (repeatable; default: every app of --env)', { value: '<app>', repeatable: true });

export const dryRun = flag('print the plan and change nothing');

/**
 * A duration flag's value: `500ms`, `90s`, `5m`, `1h`, or a bare number of `unit`; the command
 * reads it as a number of that unit, as when the flag took bare numbers only.
 */
export function duration(unit: DurationUnit, rule: Omit<DurationRule, 'flag' | 'unit'> = {}) {
  return z.string().transform((text, zctx) => {
    const r = checkDuration(text, { ...rule, unit });
    if ('ms' in r) return r.ms / UNIT_MS[unit];
    zctx.addIssue({ code: 'custom', message: r.problem, params: { hint: r.hint } });
    return z.NEVER;
  });
}

/** A duration option with its default in `unit`, shown in help with the unit (`30s`). */
export function durationOption(unit: DurationUnit, rule: Omit<DurationRule, 'flag' | 'unit'>, defaultValue: number, description: string) {
  return option(duration(unit, rule).default(defaultValue), description, { value: '<duration>', defaultText: `${defaultValue}${unit}` });
}

export function timeout(defaultSeconds: number, what: string) {
  return durationOption('s', { minMs: 1, maxMs: 3_600_000 }, defaultSeconds, what);
}

/** The lease options of every command that changes drains or keys (src/lib/run/lease.ts). */
export const leaseOptions = {
  force: flag('take over the lease whoever holds it, after showing the holder (type the lease name; --yes without a terminal)'),
  wait: durationOption('s', { maxMs: 3_600_000 }, 0, 'wait this long for another run holding the lease to finish'),
};
