import type { Register } from '../registry.js';
import { examples } from '../registry.js';

export const register: Register = (program, action) => {
  const config = program.command('config').description('show the configuration raxx-ops resolves');
  config
    .command('show')
    .description('print the resolved configuration: which bucket, apps, function and SSM names this run would use')
    .addHelpText(
      'after',
      examples(
        ['raxx-ops config show', 'the built-in production values'],
        ['raxx-ops --env staging config show --json', 'staging, as JSON'],
        ['raxx-ops --config ./raxx-ops.json config show', 'with a file overriding the defaults'],
      ),
    )
    .action(action(() => import('./show.js')));
};
