// Options several commands share, declared once.
import { z } from 'zod';
import { appName } from '../lib/config.js';
import { flag, option } from './define.js';

/** `--app A` (repeatable); commands default to every app of --env. */
export const apps = option(z.array(appName).optional(), 'an app (repeatable; default: every app of --env)', { value: '<app>', repeatable: true });

export const dryRun = flag('print the plan and change nothing');

export const seconds = z.coerce.number({ error: 'must be a number of seconds' }).positive('must be a positive number of seconds').max(3600, 'at most 3600 seconds');

export function timeout(defaultSeconds: number, what: string) {
  return option(seconds.default(defaultSeconds), what, { value: '<seconds>' });
}
