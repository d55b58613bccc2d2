// `raxx-ops logs grep PATTERN`: the runbook's `for key in $(aws s3 ls …); do aws s3 cp … - |
// gunzip | grep …; done` as one concurrent, streaming search with output in time order.
import { z } from 'zod';
import { compilePattern, PATTERN_SYNTAX, requiredLiteral } from '../../lib/core/pattern.js';
import type { LineVisitor } from '../../lib/logs/store.js';
import { createCommand, flag, option, positional } from '../define.js';
import { resolveApps } from '../apps.js';
import { displayLine, printLines, printOptions, WINDOW_HELP, windowOptions, windowOf } from './shared.js';
import { scanWindow } from '../../lib/logs/scan.js';

interface Found {
  count: number;
  /** The selected lines (none kept with -c). */
  lines: string[];
}

export default createCommand({
  description: "search the window's log objects concurrently; matching lines in time order (by object, then line); exit 1 when nothing matched",
  notes: `${PATTERN_SYNTAX}
Lines are matched and printed as Heroku shows them
(\`<158>1 2025-06-01T… host heroku router - at=info …\`), without the stored octet count;
--raw matches and prints the stored frames. Secrets are masked unless --no-mask.

${WINDOW_HELP}`,
  examples: [
    ["raxx-ops logs grep 'status=5\\d\\d' --app raxx-api-prod --since 2h", '5xx router lines of the last two hours'],
    ['raxx-ops logs grep -F "drain auth failed" --app raxx-api-prod --date 2025-06-01', 'a fixed string over one day'],
    ['raxx-ops logs grep -c -i timeout --app raxx-api-prod --app raxx-console-prod', 'counts per app, today'],
    ['raxx-ops logs grep tracer --app raxx-api-prod --json | jq .message', 'NDJSON with the parsed syslog fields'],
  ],
  positionals: {
    pattern: positional(z.string({ error: 'a pattern is required' }), 'a regular expression in RE2 syntax (or a fixed string with -F), matched against each line'),
  },
  options: {
    ...windowOptions,
    ...printOptions,
    fixedStrings: flag('PATTERN is a plain string, not a regular expression', { short: 'F' }),
    ignoreCase: flag('ignore case', { short: 'i' }),
    invertMatch: flag('select the lines that do not match', { short: 'v' }),
    count: flag('print only the number of selected lines (per app when there are several)', { short: 'c' }),
    maxCount: option(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').optional(), 'stop after N selected lines (in time order)', { short: 'm', value: '<n>' }),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const apps = resolveApps(args.app, ctx);
    const window = windowOf(args, ctx);
    const test = compilePattern(args.pattern, { fixed: args.fixedStrings, ignoreCase: args.ignoreCase });
    const invert = args.invertMatch;
    // Lines without it cannot match: the scan hands over only the lines that hold it.
    const literal = invert ? undefined : requiredLiteral(args.pattern, { fixed: args.fixedStrings, ignoreCase: args.ignoreCase });
    const limit = args.maxCount ?? Infinity;
    const counting = args.count;

    const counts = new Map(apps.map((a) => [a, 0]));
    let total = 0;

    await scanWindow<Found>(
      ctx,
      {
        apps,
        window,
        concurrency: args.concurrency,
        verb: 'grep',
        compacted: args.compacted,
        engine: args.engine,
        // The same selection, for the embedded engine to run over compacted days.
        select: { pattern: args.pattern, fixed: args.fixedStrings, ignoreCase: args.ignoreCase, invert, raw: args.raw, literal, ...(args.maxCount ? { limit: args.maxCount } : {}), countOnly: counting },
      },
      (): LineVisitor<Found> => {
        const found: Found = { count: 0, lines: [] };
        return {
          literal,
          line(stored) {
            const text = displayLine(stored, args);
            if (test(text) === invert) return;
            found.count += 1;
            if (!counting) found.lines.push(text);
            // No object needs more than --max-count lines: the rest of its body is skipped.
            if (found.count >= limit) return false;
          },
          // -c on the embedded engine: how many lines an object selects, no text.
          count: counting
            ? (n) => {
                found.count = Math.min(found.count + n, limit);
              }
            : undefined,
          result: () => found,
        };
      },
      (obj, { value }) => {
        const take = Math.min(value.count, limit - total);
        total += take;
        counts.set(obj.app, (counts.get(obj.app) ?? 0) + take);
        if (!counting) printLines(out, obj, take < value.lines.length ? value.lines.slice(0, take) : value.lines, apps.length > 1, args);
        return total < limit;
      },
    );

    if (counting) {
      if (out.json) out.data({ count: total, apps: Object.fromEntries(counts) });
      else if (apps.length === 1) out.line(String(total));
      else for (const [app, n] of counts) out.line(`${app}:${n}`);
    }
    // Like grep: 0 when something was selected, 1 when nothing was.
    return total > 0 ? 0 : 1;
  },
});
