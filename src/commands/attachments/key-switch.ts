// `attachments lockdown` and `unlock` are one change in two directions: the attachments key
// disabled (exfiltration step 1: nothing can be decrypted, so nothing can be downloaded) or
// enabled again (step 4). The operator types the alias to confirm on a terminal.
import type { Context } from '../../lib/run/context.js';
import { describeKey, setKeyEnabled, type KeyInfo } from '../../lib/attachments/attachments.js';
import { ServiceError, UsageError } from '../../lib/core/errors.js';
import { runSteps } from '../../lib/run/step-runner.js';
import { scopeOf } from '../../lib/run/scope.js';

export async function switchKey(ctx: Context, enable: boolean, dryRun: boolean): Promise<void> {
  const scope = scopeOf(ctx, ['attachments.kmsAlias', 'attachments.bucket']);
  const alias = ctx.config.attachments.kmsAlias;
  const k = await describeKey(ctx, alias);
  if (enable && k.state === 'PendingDeletion') {
    throw new UsageError(`${alias} is pending deletion${k.deletionDate ? ` (${k.deletionDate})` : ''}; it cannot be enabled`, { hint: 'cancel the deletion first: raxx-ops attachments kms-retire --cancel' });
  }
  const verb = enable ? 'enable' : 'disable';
  const wanted = (s: KeyInfo) => (enable ? s.state === 'Enabled' : s.state === 'Disabled' || s.state === 'PendingDeletion');
  await runSteps(ctx, {
    title: `${verb} the attachments key ${alias} (${k.arn}); state now: ${k.state}`,
    scope,
    dryRun,
    json: { alias, keyId: k.keyId, arn: k.arn, stateBefore: k.state },
    steps: [
      {
        name: `${verb} the key`,
        detail: enable ? 'attachments can be read and uploaded again' : 'every download and upload of an attachment fails until unlock',
        done: wanted(k),
        apply: () => setKeyEnabled(ctx, k, enable),
        async verify() {
          const now = await describeKey(ctx, alias);
          if (!wanted(now)) throw new ServiceError('KMS', `${alias} is ${now.state} after ${verb === 'enable' ? 'EnableKey' : 'DisableKey'}`, { hint: 'check the key in the console; run the command again' });
          return `key state: ${now.state}`;
        },
      },
    ],
    confirm: () => ctx.confirmTyped(`${verb} the KMS key ${alias}?${enable ? '' : ' Support downloads and customer uploads stop.'}`, alias),
    resumeHint: `run raxx-ops attachments ${enable ? 'unlock' : 'lockdown'} again`,
  });
}
