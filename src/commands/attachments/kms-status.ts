// `raxx-ops attachments kms-status`: the runbook's `aws kms describe-key --key-id alias/…` query,
// plus what it cannot show: rotation comes from GetKeyRotationStatus (docs/facts.md).
import { describeKey, keyProblems } from '../../lib/attachments/attachments.js';
import { CheckFailedError } from '../../lib/core/errors.js';
import { padCell } from '../../lib/core/table.js';
import { createCommand } from '../define.js';

export default createCommand({
  description: 'the attachments KMS key: alias → key id, ARN, state, pending deletion, rotation; exit 1 when disabled, pending deletion or not rotating',
  examples: [
    ['raxx-ops attachments kms-status', 'the production key'],
    ['raxx-ops attachments kms-status --json', 'as JSON (problems listed)'],
  ],
  async handler(_args, ctx) {
    const { out } = ctx;
    const c = out.color;
    const k = await describeKey(ctx, ctx.config.attachments.kmsAlias);
    const problems = keyProblems(k);
    if (out.json) out.data({ ...k, ok: problems.length === 0, problems });
    else {
      const rotation =
        k.rotation.enabled === undefined
          ? 'unknown (KMS does not report it in this state)'
          : k.rotation.enabled
            ? `enabled${k.rotation.periodDays ? `, every ${k.rotation.periodDays} days` : ''}${k.rotation.nextDate ? `, next ${k.rotation.nextDate}` : ''}`
            : 'off';
      const rows: [string, string][] = [
        ['alias', k.alias],
        ['key id', k.keyId],
        ['arn', k.arn],
        ['enabled', k.enabled ? c.ok('yes') : c.bad('no')],
        ['state', k.state === 'Enabled' ? c.ok(k.state) : c.bad(k.state)],
        ...(k.deletionDate ? [['deletion date', c.bad(k.deletionDate)] as [string, string]] : []),
        ['rotation', k.rotation.enabled ? c.ok(rotation) : c.bad(rotation)],
      ];
      for (const [name, value] of rows) out.line(padCell(name, 14) + value);
    }
    if (problems.length > 0) {
      throw new CheckFailedError(`${k.alias}: ${problems.join('; ')}`, {
        hint:
          k.state === 'PendingDeletion'
            ? 'if the deletion is a mistake: raxx-ops attachments kms-retire --cancel, then attachments unlock'
            : !k.enabled
              ? 'if the incident is over: raxx-ops attachments unlock'
              : `enable rotation: aws kms enable-key-rotation --key-id ${k.keyId}`,
      });
    }
  },
});
