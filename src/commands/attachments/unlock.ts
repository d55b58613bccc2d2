// `raxx-ops attachments unlock`: exfiltration step 4, `aws kms enable-key` by hand.
import { createCommand } from '../define.js';
import * as opt from '../options.js';
import { switchKey } from './key-switch.js';

export default createCommand({
  description: 'enable the attachments KMS key again (exfiltration step 4); type the alias to confirm',
  examples: [
    ['raxx-ops attachments unlock --dry-run', 'the key and what would change'],
    ['raxx-ops attachments unlock --yes', 'enable it without asking'],
  ],
  options: { dryRun: opt.dryRun },
  handler: (args, ctx) => switchKey(ctx, true, Boolean(args.dryRun)),
});
