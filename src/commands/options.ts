// Options several commands share, declared once.
import { z } from 'zod';
import { appName } from '../lib/core/config.js';
import { flag, option } from './define.js';

/** `--app A` (repeatable); commands default to every app of --env. */
export const apps = option(z.array(appName).optional(), 'an app (repeatable; default: every app of --env)', { value: '<app>', repeatable: true });

export const dryRun = flag('print the plan and change nothing');

export const seconds = z.coerce.number({ error: 'must be a number of seconds' }).positive('must be a positive number of seconds').max(3600, 'at most 3600 seconds');

export function timeout(defaultSeconds: number, what: string) {
  return option(seconds.default(defaultSeconds), what, { value: '<seconds>' });
}

/** The lease options of every command that changes drains or keys (src/lib/run/lease.ts). */
export const leaseOptions = {
  force: flag('take over the lease whoever holds it, after showing the holder (type the lease name; --yes without a terminal)'),
  wait: option(
    z.coerce.number({ error: 'must be a number of seconds' }).int('must be whole seconds').min(0).max(3600, 'at most 3600 seconds').default(0),
    'wait this long for another run holding the lease to finish',
    { value: '<seconds>' },
  ),
};
