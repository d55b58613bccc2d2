import type { Command } from 'commander';
import type { Register } from '../registry.js';
import { collect, examples } from '../registry.js';

const WINDOW_HELP = `
Time window (UTC): --date picks a whole day (default today); --since/--until take a relative
time (30m, 2h, 3d), a clock time on --date (14:30) or an ISO time (2025-06-01T14:30:00Z).
Objects are chosen by the time in their key (the batch's first message), before any download.`;

function windowFlags(cmd: Command): Command {
  return cmd
    .option('--app <app>', 'an app (repeatable)', collect)
    .option('--date <YYYY-MM-DD>', 'the UTC day to read (default: today)')
    .option('--since <time>', 'start of the window: 30m, 2h, 14:30 or an ISO time')
    .option('--until <time>', 'end of the window (exclusive), same forms as --since')
    .option('--concurrency <n>', 'objects downloaded at once (1-256; default: chosen as it goes, from 64 up while throughput grows)');
}

export const register: Register = (program, action) => {
  const logs = program.command('logs').description('the drain bucket: search, fetch and check the log objects the receiver wrote');

  windowFlags(
    logs
      .command('grep')
      .description('search the window\'s log objects concurrently; matching lines in time order (by object, then line); exit 1 when nothing matched')
      .argument('<pattern>', 'a JavaScript regular expression (or a fixed string with -F), matched against each raw line'),
  )
    .option('-F, --fixed-strings', 'PATTERN is a plain string, not a regular expression')
    .option('-i, --ignore-case', 'ignore case')
    .option('-v, --invert-match', 'select the lines that do not match')
    .option('-c, --count', 'print only the number of selected lines (per app when there are several)')
    .option('-m, --max-count <n>', 'stop after N selected lines (in time order)')
    .addHelpText(
      'after',
      WINDOW_HELP +
        '\n' +
        examples(
          ["raxx-ops logs grep 'status=5\\d\\d' --app raxx-api-prod --since 2h", '5xx router lines of the last two hours'],
          ['raxx-ops logs grep -F "drain auth failed" --app raxx-api-prod --date 2025-06-01', 'a fixed string over one day'],
          ['raxx-ops logs grep -c -i timeout --app raxx-api-prod --app raxx-console-prod', 'counts per app, today'],
          ['raxx-ops logs grep tracer --app raxx-api-prod --json | jq .message', 'NDJSON with the parsed syslog fields'],
        ),
    )
    .action(action(() => import('./grep.js'), ['pattern']));

  windowFlags(logs.command('fetch').description('the decompressed lines of the window, in time order, on stdout, or one file per object under -o DIR'))
    .option('-o, --output <dir>', 'write one file per object under DIR (<app>/<YYYY>/<MM>/<DD>/<epoch_ms>-<id>.log)')
    .addHelpText(
      'after',
      WINDOW_HELP +
        '\n' +
        examples(
          ['raxx-ops logs fetch --app raxx-api-prod --since 30m | less', 'the last half hour'],
          ['raxx-ops logs fetch --app raxx-api-prod --date 2025-06-01 -o ./logs', 'one file per object'],
          ['raxx-ops logs fetch --app raxx-api-prod --since 10m --json', 'NDJSON with the parsed syslog fields'],
        ),
    )
    .action(action(() => import('./fetch.js')));

  logs
    .command('status')
    .description('per app and UTC day, from the listing alone: objects, bytes, first and last object, longest silence, minutes since the newest object, health; exit 1 when anything is critical')
    .option('--app <app>', 'an app (repeatable; default: every app of --env)', collect)
    .option('--days <n>', 'how many UTC days, ending today', '2')
    .option('--warn-silent-minutes <n>', 'a silence longer than this is a warning (default: health.warnSilentMinutes, 15)')
    .option('--critical-silent-minutes <n>', 'a silence longer than this is critical (default: health.criticalSilentMinutes, 120)')
    .option('--concurrency <n>', 'listings run at once (1-64)', '16')
    .addHelpText(
      'after',
      `
Health: healthy; warning when the drain was silent longer than the warning threshold;
critical when silent longer than the critical threshold, or when a past day has no object.
Today is judged up to now: its silence includes the time since the newest object.
` +
        examples(
          ['raxx-ops logs status', 'every production app, yesterday and today'],
          ['raxx-ops logs status --app raxx-api-prod --days 7', 'a week, with missing days'],
          ['raxx-ops logs status --warn-silent-minutes 5 --json', 'a tighter threshold, as JSON'],
        ),
    )
    .action(action(() => import('./status.js')));
};
