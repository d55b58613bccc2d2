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
import { accessKeyLastUsed, createAccessKey, deleteAccessKey, listAccessKeys, type AccessKeyInfo } from '../../lib/attachments/attachments.js';
import type { Context } from '../../lib/run/context.js';
import { ConfigError, ExitCode, ServiceError, UserError } from '../../lib/core/errors.js';
import type { HerokuApi } from '../../lib/heroku/client.js';
import { herokuHolder, ID_VAR, infisicalHolder, keptError, SECRET_VAR, WriteLedger, writeSettled, type AccessKey, type Held, type KeyHolder } from '../../lib/attachments/key-holders.js';
import { INFISICAL_PATH, loadConfig } from '../../lib/core/config.js';
import { registerSecret } from '../../lib/core/secrets.js';
import { runSteps, type Step } from '../../lib/run/step-runner.js';
import { scopeOf } from '../../lib/run/scope.js';
import { createCommand, option } from '../define.js';
import * as opt from '../options.js';
import { resolveApps } from '../apps.js';
import { plural } from '../../lib/drains/ops.js';

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
        async rollback() {
          if (!newKey.id) return 'no key was created';
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

/** Apps of the other environment (its `apps` in the config): those that could be read, and those holding a key of the user IAM has. */
async function otherEnvApps(ctx: Context, heroku: HerokuApi, seen: string[], iamKeys: AccessKeyInfo[]): Promise<{ readable: string[]; holding: { holder: KeyHolder; held: Held; env: string }[] }> {
  const env = ctx.flags.env === 'prod' ? 'staging' : 'prod';
  const other = await loadConfig({ env, configPath: ctx.flags.config, region: ctx.flags.region, processEnv: ctx.env });
  const found: { holder: KeyHolder; held: Held; env: string }[] = [];
  const readable: string[] = [];
  for (const app of other.apps.filter((a) => !seen.includes(a))) {
    const holder = herokuHolder(heroku, app);
    let held: Held;
    try {
      held = await holder.read();
    } catch (err) {
      if (!(err instanceof UserError) || err instanceof ServiceError) throw err;
      // Not there or not visible to this token: it cannot be rotated here, and it is said.
      ctx.out.warn(`${app} (--env ${env}) could not be read (${err.message}); if it holds the key, rotate it with --env ${env}`);
      continue;
    }
    readable.push(app);
    if (held.id && iamKeys.some((k) => k.id === held.id)) found.push({ holder, held, env });
  }
  return { readable, holding: found };
}

function holds(held: Held, key: { id: string; secret: string }): boolean {
  return held.id === key.id && held.secret === key.secret;
}

function holderLines(holders: { name: string; id: string | undefined }[], keys: AccessKeyInfo[]): string[] {
  return holders.map((h) => `${h.name}: ${h.id ?? 'no key'}${h.id ? (keys.some((k) => k.id === h.id) ? ' (IAM has it)' : ' (NOT in IAM: this holder has no working key)') : ''}`);
}

interface Assessment {
  /** A rotation to finish: a key held somewhere, newer than another key IAM still has. */
  resume: (AccessKey & { from: string; created: string }) | undefined;
  /** A key no holder has, newer than what they hold and never used: the secret is lost. */
  leftover: AccessKeyInfo | undefined;
}

async function assess(ctx: Context, user: string, holders: KeyHolder[], held: Map<string, Held>, iamKeys: AccessKeyInfo[]): Promise<Assessment> {
  const byId = new Map(iamKeys.map((k) => [k.id, k]));
  const created = (id: string) => byId.get(id)?.created ?? '';
  const heldOf = (h: KeyHolder) => held.get(h.name)!;
  // Only keys IAM has count: an id it does not know is no key at all.
  const heldIds = [...new Set(holders.map((h) => heldOf(h).id).filter((id): id is string => id !== undefined && byId.has(id)))].sort((a, b) => created(b).localeCompare(created(a)));
  const newestHeld = heldIds[0];

  if (!newestHeld) {
    if (iamKeys.length >= 2) {
      throw new ConfigError(`no app or vault holds a key of ${user}, and it has 2 already (${iamKeys.map((k) => k.id).join(', ')})`, { hint: `find which key is in use; delete the other with aws iam delete-access-key --user-name ${user} --access-key-id <id>, then run again` });
    }
    ctx.out.warn(`no holder has a key of ${user} that IAM has: attachments are failing now`);
    return { resume: undefined, leftover: undefined };
  }
  // A rotation under way: the newest key held somewhere, and an older key IAM still has (the one
  // being replaced). Without an older key there is nothing to finish: a new rotation starts.
  const older = iamKeys.filter((k) => k.id !== newestHeld && (k.created ?? '') < created(newestHeld));
  if (older.length > 0) {
    // Apps set id and secret in one write; the vault writes the secret first. A holder whose
    // pair differs from an app's is not trusted for the secret.
    const sources = [...holders.filter((h) => h.kind === 'app'), ...holders.filter((h) => h.kind === 'vault')].filter((h) => heldOf(h).id === newestHeld && heldOf(h).secret);
    const secrets = new Set(sources.filter((h) => h.kind === 'app').map((h) => heldOf(h).secret));
    if (secrets.size > 1) {
      throw new ConfigError(`the apps hold ${newestHeld} with different secrets`, { hint: `set ${SECRET_VAR} of the apps to the right secret by hand (heroku config:set), or remove ${ID_VAR} from the wrong ones, then run again` });
    }
    const from = sources[0];
    if (!from) throw new ConfigError(`${newestHeld} is held without ${SECRET_VAR}`, { hint: `set ${SECRET_VAR} by hand or remove ${ID_VAR} from the holders that lack it` });
    return { resume: { id: newestHeld, secret: heldOf(from).secret!, from: from.name, created: created(newestHeld) || '?' }, leftover: undefined };
  }
  // Every holder holds the newest key or none IAM has: a fresh rotation. A newer key nobody
  // holds is a stopped run's, whose secret is lost.
  const newer = iamKeys.find((k) => !heldIds.includes(k.id) && (k.created ?? '') >= created(newestHeld));
  if (newer) {
    const used = await accessKeyLastUsed(ctx, user, newer.id);
    if (used) {
      throw new ConfigError(`${user} has a second key ${newer.id} that no app or vault holds but that was used on ${used}`, {
        hint: `find who uses it; if nobody should: aws iam delete-access-key --user-name ${user} --access-key-id ${newer.id}, then run again`,
      });
    }
    return { resume: undefined, leftover: newer };
  }
  return { resume: undefined, leftover: undefined };
}

async function verifyHolders(holders: KeyHolder[], key: AccessKey): Promise<string> {
  const wrong: string[] = [];
  for (const h of holders) if (!holds(await h.read(), key)) wrong.push(h.name);
  if (wrong.length > 0) throw new ServiceError('IAM', `${wrong.join(', ')} do not hold the new key after writing it`, { hint: 'check their config vars or vault secrets; the old key still works' });
  return `${plural(holders.length, 'holder')} hold ${key.id}`;
}
