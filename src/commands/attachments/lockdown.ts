// `raxx-ops attachments lockdown`: exfiltration step 1, `aws kms disable-key` by hand.
import { createCommand } from '../define.js';
import * as opt from '../options.js';
import { switchKey } from './key-switch.js';

export default createCommand({
  description: 'disable the attachments KMS key (exfiltration step 1): nothing in the bucket can be decrypted until unlock; type the alias to confirm',
  examples: [
    ['raxx-ops attachments lockdown --dry-run', 'the key and what would change'],
    ['raxx-ops attachments lockdown', 'disable it (asks for the alias on a terminal)'],
  ],
  options: { dryRun: opt.dryRun },
  handler: (args, ctx) => switchKey(ctx, false, Boolean(args.dryRun)),
});
