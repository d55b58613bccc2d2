import type { Register } from '../registry.js';
import { collect, examples } from '../registry.js';

export const register: Register = (program, action) => {
  const drains = program.command('drains').description("the apps' Heroku log drains to the receiver: list, wire, remove, test, rotate the token");

  drains
    .command('list')
    .description('each app\'s drains with their class (current / stale / foreign / addon), id and creation time; tokens masked')
    .option('--app <app>', 'an app (repeatable; default: every app of --env)', collect)
    .addHelpText(
      'after',
      examples(
        ['raxx-ops drains list', 'every production app'],
        ['raxx-ops drains list --app raxx-api-prod --json', 'one app, as JSON'],
      ),
    )
    .action(action(() => import('./list.js')));

  drains
    .command('wire')
    .description('give every app exactly its current drain (SSM drain_url + app=<app>); adds only what is missing, never touches foreign or add-on drains')
    .option('--app <app>', 'an app (repeatable; default: every app of --env)', collect)
    .option('--prune', 'also remove stale drains (the receiver with another token or app)')
    .option('--dry-run', 'print the plan and change nothing')
    .addHelpText(
      'after',
      examples(
        ['raxx-ops drains wire --dry-run', 'what would change on every production app'],
        ['raxx-ops drains wire --prune', 'wire every app and drop stale drains'],
        ['raxx-ops --env staging drains wire', 'the staging app'],
      ),
    )
    .action(action(() => import('./wire.js')));

  drains
    .command('remove')
    .description('remove drains: stale ones, every drain to the receiver (emergency stop), or one by id; asks first')
    .option('--stale', 'drains to the receiver with another token or app')
    .option('--all', 'emergency stop: every drain pointing at the receiver endpoint')
    .option('--include-foreign', 'with --all: every drain of the app, third-party ones too (add-on drains excepted)')
    .option('--id <id>', 'one drain, by id (or its d.<uuid> token)')
    .option('--app <app>', 'an app (repeatable; default: every app of --env)', collect)
    .option('--dry-run', 'print what would be removed and change nothing')
    .addHelpText(
      'after',
      examples(
        ['raxx-ops drains remove --stale --dry-run', 'what a clean-up would remove'],
        ['raxx-ops drains remove --all --yes', 'emergency stop: no app sends to the receiver any more'],
        ['raxx-ops drains remove --id 5a6f… --app raxx-api-prod', 'one drain'],
      ),
    )
    .action(action(() => import('./remove.js')));

  drains
    .command('test')
    .description("send a synthetic Logplex batch to each app's drain URL, expect 200 and wait for its object in S3; names the failure mode (A-D)")
    .option('--app <app>', 'an app (repeatable; default: every app of --env)', collect)
    .option('--timeout <seconds>', 'how long to wait for the answer and the S3 object', '30')
    .addHelpText(
      'after',
      examples(
        ['raxx-ops drains test --app raxx-api-prod', 'one app, end to end'],
        ['raxx-ops --env staging drains test --json', 'the staging app, as JSON'],
      ),
    )
    .action(action(() => import('./test.js')));

  drains
    .command('rotate')
    .description('new drain token with no window of rejected batches: function accepts both, SSM, wire, test, remove old drains, drop the old token')
    .option('--dry-run', 'print the steps and change nothing')
    .option('--timeout <seconds>', "per test batch: how long to wait for the receiver's 200 (403s retried while the new token propagates) and its S3 object", '30')
    .option('--grace <seconds>', 'how long the old token stays accepted after the old drains are removed, for batches in flight', '15')
    .addHelpText(
      'after',
      examples(
        ['raxx-ops drains rotate --dry-run', 'the steps, without changing anything'],
        ['raxx-ops drains rotate --yes', 'rotate the production drain token'],
      ),
    )
    .action(action(() => import('./rotate.js')));
};
