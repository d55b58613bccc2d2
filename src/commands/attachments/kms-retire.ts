// `raxx-ops attachments kms-retire`: the "KMS key compromised" section — schedule the key's
// deletion (or cancel it), after showing which attachments become unreadable for good.
import { z } from 'zod';
import { cancelKeyDeletion, describeKey, objectsUnderKey, scheduleKeyDeletion } from '../../lib/attachments/attachments.js';
import { ServiceError } from '../../lib/core/errors.js';
import { runSteps } from '../../lib/run/step-runner.js';
import { scopeOf } from '../../lib/run/scope.js';
import { createCommand, flag, option } from '../define.js';
import * as opt from '../options.js';
import { plural } from '../../lib/core/output.js';
import { pageSize } from './shared.js';

export default createCommand({
  description: 'schedule deletion of a compromised attachments key (or --cancel it), showing how many current objects per customer become unreadable',
  notes: `After the pending window the key and every object encrypted under it are gone for good.
Re-encrypt what must survive under a new key first. A cancelled deletion leaves the key
disabled: raxx-ops attachments unlock enables it.`,
  examples: [
    ['raxx-ops attachments kms-retire --dry-run', 'the objects per customer that would become unreadable'],
    ['raxx-ops attachments kms-retire --pending-days 30', 'schedule deletion in 30 days (type the alias)'],
    ['raxx-ops attachments kms-retire --cancel', 'cancel a scheduled deletion'],
  ],
  options: {
    pendingDays: option(
      z.coerce.number({ error: 'must be a number of days' }).int('must be a whole number of days').min(7, 'KMS allows 7 to 30 days').max(30, 'KMS allows 7 to 30 days').default(14),
      'days before KMS deletes the key (7-30)',
      { value: '<days>' },
    ),
    cancel: flag('cancel a scheduled deletion instead (the key stays disabled)'),
    dryRun: opt.dryRun,
    pageSize,
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const scope = scopeOf(ctx, ['attachments.kmsAlias', 'attachments.bucket']);
    const alias = ctx.config.attachments.kmsAlias;
    const bucket = ctx.config.attachments.bucket;
    const k = await describeKey(ctx, alias);
    const pending = (s: { state: string }) => s.state === 'PendingDeletion';

    if (args.cancel) {
      await runSteps(ctx, {
        title: `cancel the deletion of ${alias} (${k.arn}); state now: ${k.state}${k.deletionDate ? `, deletion on ${k.deletionDate}` : ''}`,
        scope,
        dryRun: Boolean(args.dryRun),
        json: { alias, keyId: k.keyId, arn: k.arn, stateBefore: k.state, deletionDate: k.deletionDate ?? null },
        steps: [
          {
            name: 'cancel the scheduled deletion',
            detail: 'the key comes back disabled',
            done: !pending(k),
            apply: () => cancelKeyDeletion(ctx, k),
            async verify() {
              const now = await describeKey(ctx, alias);
              if (pending(now)) throw new ServiceError('KMS', `${alias} is still pending deletion`);
              return `key state: ${now.state}${now.enabled ? '' : ' (raxx-ops attachments unlock enables it)'}`;
            },
          },
        ],
        confirm: () => ctx.confirmTyped(`cancel the deletion of ${alias}?`, alias),
        resumeHint: 'run raxx-ops attachments kms-retire --cancel again',
      });
      return;
    }

    if (!pending(k) && !out.json) out.info(`counting the objects of ${bucket} encrypted under ${alias}…`);
    const usage = pending(k) ? undefined : await objectsUnderKey(ctx, bucket, k, args.pageSize);
    if (usage && !out.json) {
      out.line(`${plural(usage.total, 'current object')} of ${usage.checked} in ${bucket} are encrypted under ${alias} and become unreadable:`);
      for (const [customer, n] of Object.entries(usage.perCustomer).sort((a, b) => b[1] - a[1])) out.line(`  ${customer}/  ${n}`);
    }
    await runSteps(ctx, {
      title: `schedule deletion of ${alias} (${k.arn}) in ${args.pendingDays} days; state now: ${k.state}`,
      scope,
      dryRun: Boolean(args.dryRun),
      json: { alias, keyId: k.keyId, arn: k.arn, stateBefore: k.state, pendingDays: args.pendingDays, unreadable: usage ?? null },
      steps: [
        {
          name: `schedule the key's deletion in ${args.pendingDays} days`,
          detail: usage ? `${plural(usage.total, 'object')} of ${plural(Object.keys(usage.perCustomer).length, 'customer')} become unreadable` : undefined,
          done: pending(k),
          apply: async () => `deletion on ${await scheduleKeyDeletion(ctx, k, args.pendingDays)}`,
          async verify() {
            const now = await describeKey(ctx, alias);
            if (!pending(now)) throw new ServiceError('KMS', `${alias} is ${now.state}, not pending deletion`);
            return `pending deletion on ${now.deletionDate ?? 'a date KMS did not give'}; cancel with raxx-ops attachments kms-retire --cancel`;
          },
          rollback: async () => {
            await cancelKeyDeletion(ctx, k);
            return 'deletion cancelled';
          },
        },
      ],
      confirm: () => ctx.confirmTyped(`schedule deletion of the KMS key ${alias}? ${usage ? `${plural(usage.total, 'object')} become unreadable for good after ${args.pendingDays} days.` : ''}`, alias),
      resumeHint: 'run raxx-ops attachments kms-retire again',
    });
  },
});
