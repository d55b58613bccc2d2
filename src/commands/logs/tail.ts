// `raxx-ops logs tail`: `heroku logs --tail` over the drain bucket — every app of the
// environment (or --app), the last lines, then each object as the receiver writes it. Unlike
// Heroku's tail it is not limited to Logplex's 1,500-line buffer or to one app, and it still
// works when the drain is the only copy.
import { z } from 'zod';
import { appName } from '../../lib/core/config.js';
import { UsageError } from '../../lib/core/errors.js';
import { formatDuration } from '../../lib/core/duration.js';
import { tail } from '../../lib/logs/tail.js';
import { compilePattern, PATTERN_SYNTAX } from '../../lib/core/pattern.js';
import { sleep } from '../../lib/core/sleep.js';
import { iso } from '../../lib/core/time-window.js';
import { createCommand, flag, option, positional } from '../define.js';
import * as opt from '../options.js';
import { resolveApps } from '../apps.js';
import { displayLine, printLines, printOptions } from './shared.js';
import { openStore } from '../../lib/logs/scan.js';

export default createCommand({
  description: 'the last lines of the apps’ logs, then every new line as the receiver writes it (Ctrl-C stops)',
  notes: `${PATTERN_SYNTAX}
With a PATTERN only the matching lines are printed (-F, -i, -v as in grep). Each app-day
prefix is polled every --interval (slower when nothing has come for a while); a batch that
lands late under an earlier time is still printed, once. Lines of several apps carry an
"app:" prefix. An app with no new object for health.warnSilentMinutes is reported once on
stderr, and again when its objects resume.`,
  examples: [
    ['raxx-ops logs tail --app raxx-api-prod', 'the last 100 lines, then follow'],
    ["raxx-ops logs tail 'status=5\\d\\d'", 'every app of --env: 5xx router lines as they come'],
    ['raxx-ops logs tail -n 0 --app raxx-api-prod --json | jq .message', 'only new lines, as NDJSON'],
  ],
  positionals: {
    pattern: positional(z.string().optional(), 'print only lines matching this RE2 pattern (or fixed string with -F)', { optional: true }),
  },
  options: {
    app: option(z.array(appName).optional(), 'an app (repeatable; default: every app of --env)', { value: '<app>', repeatable: true }),
    lines: option(z.coerce.number().int('must be a whole number').min(0, 'must be 0 or more').max(10_000, 'at most 10000').default(100), 'lines printed before following', { short: 'n', value: '<n>' }),
    interval: opt.durationOption('s', { minMs: 500, maxMs: 60_000 }, 2, 'how often each app is polled (500ms to 60s)'),
    ...printOptions,
    fixedStrings: flag('PATTERN is a plain string, not a regular expression', { short: 'F' }),
    ignoreCase: flag('ignore case', { short: 'i' }),
    invertMatch: flag('print the lines that do not match', { short: 'v' }),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const apps = resolveApps(args.app, ctx);
    const intervalMs = args.interval * 1000;
    const test = args.pattern === undefined ? undefined : compilePattern(args.pattern, { fixed: args.fixedStrings, ignoreCase: args.ignoreCase });
    const silentAfterMs = ctx.config.health.warnSilentMinutes * 60_000;
    const store = openStore(ctx);
    // As grep: an app that never had an object is a typo or an app without a drain, not a
    // quiet one to watch forever.
    const unknown: string[] = [];
    for (const app of apps) if (!(await store.hasAny(app, ctx.signal))) unknown.push(app);
    if (unknown.length > 0) {
      throw new UsageError(`no log objects at all for ${unknown.join(', ')} in bucket ${ctx.config.drain.bucket}: not an app whose drain writes here`, {
        hint: `check the name (apps of --env ${ctx.config.env}: ${ctx.config.apps.join(', ')}); \`raxx-ops drains wire --app <app>\` wires a new app`,
      });
    }
    out.info(`tailing ${apps.join(', ')} in s3://${ctx.config.drain.bucket}/${ctx.config.drain.keyPrefix}, every ${formatDuration(intervalMs)} (Ctrl-C stops)`);
    try {
      await tail(store, {
        apps,
        backlog: args.lines,
        intervalMs,
        silentAfterMs,
        select(stored) {
          const text = displayLine(stored, args);
          return test && test(text) === args.invertMatch ? undefined : text;
        },
        now: () => ctx.now().getTime(),
        sleep,
        signal: ctx.signal,
        async print(obj, lines) {
          printLines(out, obj, lines, apps.length > 1, args);
          await out.drained(ctx.signal);
        },
        silent(app, last) {
          out.warn(`${app}: no new log object for ${formatDuration(silentAfterMs)} or more${last === undefined ? ' (none in the last day)' : ` (last: ${iso(last)})`}; \`raxx-ops doctor --app ${app}\` walks the diagnosis`);
        },
        resumed(app) {
          out.info(`${app}: log objects are arriving again`);
        },
        problem(obj, problem) {
          out.warn(`${obj.key}: ${problem}`);
        },
      });
    } catch (err) {
      ctx.checkInterrupted();
      throw err;
    }
    // Only Ctrl-C ends a tail.
    ctx.checkInterrupted();
    return 0;
  },
});
