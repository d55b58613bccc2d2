// `raxx-ops attachments rotate-access-key`: exfiltration steps 2 and 3 — a new IAM access key for
// the backend user, written into every holder (the apps' config vars and the Infisical folder of
// the runbook), read back there, then the old key deleted. The secret exists in this process's
// memory and in the holders only: never printed, never written anywhere else.
//
// Until the old key is deleted both keys work, so a failure or Ctrl-C before that leaves every
// holder with a working key. A write without an answer may land later: the key it carried is
// never deleted by this run, and the run stops saying where each holder stands. A rerun judges
// from IAM and the holders alone: it finishes a rotation only when a holder has a key newer than
// another key IAM still has (the old one); otherwise it starts a new one. A key id that IAM does
// not have is never "current".
import { z } from 'zod';
import { createAccessKey, deleteAccessKey, listAccessKeys } from '../../lib/attachments/attachments.js';
import { ConfigError, ExitCode, ServiceError } from '../../lib/core/errors.js';
import { herokuHolder, ID_VAR, infisicalHolder, keptError, SECRET_VAR, WriteLedger, writeSettled, type AccessKey, type Held, type KeyHolder } from '../../lib/attachments/key-holders.js';
import { INFISICAL_PATH } from '../../lib/core/config.js';
import { registerSecret } from '../../lib/core/secrets.js';
import { runSteps, type Step } from '../../lib/run/step-runner.js';
import { scopeOf } from '../../lib/run/scope.js';
import { createCommand, option } from '../define.js';
import * as opt from '../options.js';
import { resolveApps } from '../apps.js';
import { plural } from '../../lib/core/output.js';
import { assess, holderLines, holds, otherEnvApps, verifyHolders } from '../../lib/attachments/key-rotation.js';

export { ID_VAR, SECRET_VAR };

/** Said in the plan and in the report, word for word, when no vault is configured for --env. */
export function vaultByHand(env: string, app: string | undefined): string {
  return `the vault is not updated: Infisical is not configured for --env ${env} (attachments.infisical in the config); update ${ID_VAR} and ${SECRET_VAR} in Infisical at ${INFISICAL_PATH} by hand, from \`heroku config:get ${SECRET_VAR} -a ${app ?? '<app>'}\``;
}

export default createCommand({
  description: "new IAM access key for the attachments backend: into the apps' config vars and Infisical, verified there, then the old key deleted; resumable",
  notes: `Holders: --app (repeatable), else every app of --env that holds ${ID_VAR};
and the Infisical folder of attachments.infisical (${INFISICAL_PATH})
when the config names one for --env.
The secret goes only to the holders (${SECRET_VAR}); it is never printed.
IAM allows 2 keys per user: a key no holder has and nobody used (left by a run that stopped
right after creating it) is deleted first.`,
  examples: [
    ['raxx-ops attachments rotate-access-key --dry-run', 'which keys, apps and vault, without changing anything'],
    ['raxx-ops attachments rotate-access-key --yes', 'rotate the backend key of every holder'],
    ['raxx-ops attachments rotate-access-key --app raxx-api-prod', 'only this app holds the key'],
  ],
  // Two rotations at once would each take the other's fresh key for a stopped run's leftover and
  // delete it while it is being written into the apps. The lease lives in the drain bucket: an
  // operator in an incident who cannot reach it is warned, not stopped.
  lease: { name: 'attachments-access-key', when: (a) => !a.dryRun, bestEffort: true },
  options: {
    ...opt.leaseOptions,
    user: option(z.string().regex(/^[\w+=,.@-]{1,64}$/, 'not an IAM user name').default('raxx-support-backend-user'), 'the IAM user whose key the apps use', { value: '<name>' }),
    app: opt.apps,
    dryRun: opt.dryRun,
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const user = args.user;
    const heroku = await ctx.heroku();
    const vault = ctx.infisical();

    // Where things stand: every holder's key, every key of the user.
    const candidates = resolveApps(args.app, ctx);
    const before = new Map<string, Held>();
    const appHolders: KeyHolder[] = [];
    for (const app of candidates) {
      const h = herokuHolder(heroku, app);
      before.set(app, await h.read());
      appHolders.push(h);
    }
    const apps = args.app?.length ? appHolders : appHolders.filter((h) => before.get(h.name)!.id);
    if (apps.length === 0) {
      throw new ConfigError(`no app of --env ${ctx.flags.env} holds ${ID_VAR}`, { hint: 'name the apps that use the attachments bucket with --app' });
    }
    const iamKeys = await listAccessKeys(ctx, user);
    // The runbook gives prod's and staging's apps the same key: deleting the old one would cut
    // off the other environment's apps still holding it, so they are holders too.
    const other = await otherEnvApps(ctx, heroku, candidates, iamKeys);
    const shared = args.app?.length ? [] : other.holding;
    for (const h of shared) before.set(h.holder.name, h.held);
    const holders = [...apps, ...shared.map((h) => h.holder)];
    // Apps that are no holder of this run but could hold a key (the configured apps of both
    // environments): a key one of them holds is never deleted.
    const watched = [...new Set([...ctx.config.apps, ...other.readable])].filter((a) => !holders.some((h) => h.name === a)).map((a) => herokuHolder(heroku, a));
    if (vault) {
      const h = infisicalHolder(vault);
      before.set(h.name, await h.read());
      holders.push(h);
    }
    const byHand = vault ? undefined : vaultByHand(ctx.flags.env, apps[0]!.name);
    const s = await assess(ctx, user, holders, before, iamKeys);
    const ledger = new WriteLedger();
    const newKey: Partial<AccessKey> & { createdHere?: boolean } = s.resume ? { id: s.resume.id, secret: s.resume.secret } : {};
    const oldIds = () => iamKeys.map((k) => k.id).filter((id) => id !== newKey.id && id !== s.leftover?.id);
    /** Holders this run wrote to (answered or not), with what they held before (for rollback). */
    const changed: KeyHolder[] = [];

    /** Deletes a key unless a write may still install it or an app or vault has it now (read again). */
    const safeDelete = async (id: string, holdersToCheck: KeyHolder[]): Promise<void> => {
      const pending = ledger.mayInstall(id);
      if (pending.length) throw keptError(id, `a write of it to ${pending.join(', ')} got no answer and may still land`);
      for (const h of holdersToCheck) {
        if ((await h.read()).id === id) throw keptError(id, `${h.name} holds it`);
      }
      for (const h of watched) {
        const held = await h.read().catch(() => undefined);
        if (held?.id === id) throw keptError(id, `${h.name} holds it`, `rotate every app that holds the key: run again without --app, or name ${h.name} with --app too`);
      }
      await deleteAccessKey(ctx, user, id);
    };

    const steps: Step[] = [];
    if (s.leftover) {
      const leftover = s.leftover;
      steps.push({
        name: `delete the leftover key ${leftover.id}`,
        detail: `created ${leftover.created ?? '?'}, held by no app or vault, never used: a stopped run's key whose secret is lost (IAM allows 2 keys)`,
        apply: () => safeDelete(leftover.id, holders),
        verify: async () => {
          if ((await listAccessKeys(ctx, user)).some((k) => k.id === leftover.id)) throw new ServiceError('IAM', `${leftover.id} is still there`);
        },
      });
    }
    steps.push(
      {
        name: `create a new access key for ${user}`,
        detail: s.resume ? `resuming with ${s.resume.id} (created ${s.resume.created}), already held by ${s.resume.from}` : undefined,
        done: Boolean(s.resume),
        async apply() {
          const created = await createAccessKey(ctx, user);
          registerSecret(created.secret);
          Object.assign(newKey, created, { createdHere: true });
          return `new key ${created.id}`;
        },
        async rollback({ unknownOutcome }) {
          // Stopped while IAM was creating it: a key may exist that this run never saw. Not
          // "nothing created": the next run deletes a key that no holder has.
          if (!newKey.id) return unknownOutcome ? 'CreateAccessKey got no answer: a key may have been created; the next run deletes a key no holder has' : 'no key was created';
          // Never delete a key a holder has, or that a write without an answer may still put there.
          await safeDelete(newKey.id, holders);
          return `deleted ${newKey.id}`;
        },
      },
      {
        name: `write it into ${ID_VAR} and ${SECRET_VAR} of ${holders.map((h) => h.name).join(', ')}`,
        detail: `each app restarts with the new key; the old one still works meanwhile${byHand ? `; ${byHand}` : ''}`,
        done: Boolean(s.resume) && holders.every((h) => holds(before.get(h.name)!, s.resume!)),
        async apply() {
          const key = { id: newKey.id!, secret: newKey.secret! };
          for (const h of holders) {
            if (holds(before.get(h.name)!, key)) continue;
            ctx.checkInterrupted();
            changed.push(h);
            await writeSettled(h, key, ledger, () => ctx.checkInterrupted());
          }
          return changed.length ? `written to ${changed.map((h) => h.name).join(', ')}` : undefined;
        },
        verify: () => verifyHolders(holders, { id: newKey.id!, secret: newKey.secret! }),
        async rollback({ unknownOutcome }) {
          // A write without an answer may land after a restore: both keys stay, every holder keeps
          // a working one, and a rerun finishes the rotation from what it reads.
          if (unknownOutcome || ledger.any) return `left as they are (${ledger.describe() || 'a write got no answer'})`;
          for (const h of changed) {
            try {
              await h.restore(before.get(h.name)!);
            } catch (err) {
              ledger.note(h, before.get(h.name)!.id);
              throw err;
            }
          }
          return changed.length ? `restored the previous key in ${changed.map((h) => h.name).join(', ')}` : 'no holder was changed';
        },
      },
      {
        name: 'delete the old key',
        detail: oldIds().length ? oldIds().join(', ') : undefined,
        done: oldIds().length === 0 && Boolean(s.resume),
        pointOfNoReturn: true,
        async apply() {
          // The holders were verified to hold the new key in the step before; each is read again.
          const old = oldIds();
          for (const id of old) await safeDelete(id, holders);
          return old.length ? `deleted ${old.join(', ')}` : 'none to delete';
        },
        async verify() {
          const left = await listAccessKeys(ctx, user);
          if (left.length !== 1 || left[0]!.id !== newKey.id) throw new ServiceError('IAM', `${user} has keys ${left.map((k) => k.id).join(', ')}, expected only ${newKey.id}`);
          return `${user} has one key: ${newKey.id}`;
        },
      },
    );

    if (!out.json) {
      out.line(`holders now (${user} has ${iamKeys.map((k) => k.id).join(', ') || 'no key'}):`);
      for (const line of holderLines(holders.map((h) => ({ name: h.name, id: before.get(h.name)!.id })), iamKeys)) out.line(`  ${line}`);
      if (shared.length) out.line(`  ${shared.map((h) => h.holder.name).join(', ')}: ${shared[0]!.env} apps holding a key of ${user}, which both environments share: rotated with the others`);
      if (byHand) out.line(`  ${byHand}`);
    }
    /** Filled by finalState: every holder holds the new key, which IAM has, and no other key is left. */
    let rotated = false;
    await runSteps(ctx, {
      title: `rotate the access key of ${user} used by ${holders.map((h) => h.name).join(', ')}`,
      scope: scopeOf(ctx, [], { apps: apps.map((h) => h.name) }),
      dryRun: Boolean(args.dryRun),
      json: () => ({
        user,
        apps: apps.map((h) => h.name),
        vault: vault ? vault.where : null,
        ...(byHand ? { vaultByHand: byHand } : {}),
        keysBefore: iamKeys.map((k) => k.id),
        holdersBefore: holders.map((h) => ({ holder: h.name, keyId: before.get(h.name)!.id ?? null, inIam: iamKeys.some((k) => k.id === before.get(h.name)!.id) })),
        resumedWith: s.resume?.id ?? null,
        newKeyId: newKey.id ?? null,
      }),
      steps,
      confirm: () => ctx.confirm(`rotate the IAM access key of ${user} for ${plural(apps.length, 'app')}${vault ? ' and Infisical' : ''}?`),
      unknownOutcome: () => ledger.any,
      resumeHint: 'every holder still has a key IAM has; run raxx-ops attachments rotate-access-key again to finish (it reads where things stand and resumes)',
      finalState: async () => {
        const keys = await listAccessKeys(ctx, user);
        const now = await Promise.all(holders.map(async (h) => ({ name: h.name, id: (await h.read()).id })));
        rotated = Boolean(newKey.id) && now.every((h) => h.id === newKey.id) && keys.length === 1 && keys[0]!.id === newKey.id;
        const lines = ['holders now:', ...holderLines(now, keys).map((l) => `  ${l}`)];
        if (byHand) lines.push(`  ${byHand}`);
        if (ledger.any) lines.push(`  writes without an answer, which may still land: ${ledger.describe()}`);
        return {
          lines,
          json: {
            keysAfter: keys.map((k) => k.id),
            holdersAfter: now.map((h) => ({ holder: h.name, keyId: h.id ?? null, inIam: keys.some((k) => k.id === h.id) })),
            ...(ledger.any ? { unanswered: ledger.describe() } : {}),
            rotated,
          },
        };
      },
    });
    if (args.dryRun) return;
    // --json already printed the one document, `rotated` in it; the exit code says the rest.
    if (out.json) return rotated ? ExitCode.Ok : ExitCode.Service;
    if (!rotated) throw new ServiceError('IAM', 'the holders do not all hold the new key after the rotation', { hint: 'see "holders now" above; run raxx-ops attachments rotate-access-key again to finish' });
    const how = newKey.createdHere ? `the new key ${newKey.id}` : `${newKey.id} (the rotation resumed here)`;
    out.line(out.color.ok(`rotated: ${holders.map((h) => h.name).join(', ')} hold ${how}, which IAM has; the old key is deleted`));
  },
});

