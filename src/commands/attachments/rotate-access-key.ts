// `raxx-ops attachments rotate-access-key`: exfiltration steps 2 and 3 — a new IAM access key for
// the backend user, written into the apps' config vars, checked there, then the old key
// deleted. The secret exists in this process's memory and in Heroku's config vars only: never
// printed, never written anywhere else.
//
// Until the old key is deleted both keys work, so a failure or Ctrl-C before that leaves every
// app with a working key; the run rolls back (old values restored, new key deleted) when it can,
// and otherwise a rerun reads where things stand (IAM's keys and the apps' config vars) and
// finishes: an app already holding the new key lends its secret to the others.
import { z } from 'zod';
import { accessKeyLastUsed, createAccessKey, deleteAccessKey, listAccessKeys, type AccessKeyInfo } from '../../lib/attachments.js';
import type { Context } from '../../lib/context.js';
import { ConfigError, ServiceError } from '../../lib/errors.js';
import type { HerokuApi } from '../../lib/heroku.js';
import { registerSecret } from '../../lib/secrets.js';
import { runSteps, type Step } from '../../lib/step-runner.js';
import { createCommand, option } from '../define.js';
import * as opt from '../options.js';
import { resolveApps } from '../apps.js';
import { plural } from '../../lib/drain-ops.js';

export const ID_VAR = 'AWS_ACCESS_KEY_ID_SUPPORT';
export const SECRET_VAR = 'AWS_SECRET_ACCESS_KEY_SUPPORT';

interface Held {
  id: string | undefined;
  secret: string | undefined;
}

export default createCommand({
  description: "new IAM access key for the attachments backend: into the apps' config vars, verified there, then the old key deleted; resumable",
  notes: `Apps: --app (repeatable), else every app of --env that holds ${ID_VAR}.
The secret goes only to Heroku (${SECRET_VAR}); it is never printed.
IAM allows 2 keys per user: a key no app holds and nobody used (left by a run that stopped
right after creating it) is deleted first.`,
  examples: [
    ['raxx-ops attachments rotate-access-key --dry-run', 'which keys and apps, without changing anything'],
    ['raxx-ops attachments rotate-access-key --yes', 'rotate the backend key of every app holding it'],
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

    // Where things stand: every app's key, every key of the user.
    const candidates = resolveApps(args.app, ctx);
    const held = new Map<string, Held>();
    for (const app of candidates) {
      const vars = await heroku.configVars(app);
      registerSecret(vars[SECRET_VAR]);
      held.set(app, { id: vars[ID_VAR], secret: vars[SECRET_VAR] });
    }
    const apps = args.app?.length ? candidates : candidates.filter((a) => held.get(a)!.id);
    if (apps.length === 0) {
      throw new ConfigError(`no app of --env ${ctx.flags.env} holds ${ID_VAR}`, { hint: 'name the apps that use the attachments bucket with --app' });
    }
    const iamKeys = await listAccessKeys(ctx, user);
    const s = await assess(ctx, user, apps, held, iamKeys);
    const newKey: { id: string | undefined; secret: string | undefined } = { id: s.resume?.id, secret: s.resume?.secret };
    const oldIds = () => iamKeys.map((k) => k.id).filter((id) => id !== newKey.id && id !== s.leftover?.id);
    /** Apps whose vars this run changed, with what they held before (for rollback). */
    const changed: string[] = [];

    const steps: Step[] = [];
    if (s.leftover) {
      const leftover = s.leftover;
      steps.push({
        name: `delete the leftover key ${leftover.id}`,
        detail: `created ${leftover.created ?? '?'}, held by no app, never used: a stopped run's key whose secret is lost (IAM allows 2 keys)`,
        apply: () => deleteAccessKey(ctx, user, leftover.id),
        verify: async () => {
          if ((await listAccessKeys(ctx, user)).some((k) => k.id === leftover.id)) throw new ServiceError('IAM', `${leftover.id} is still there`);
        },
      });
    }
    steps.push(
      {
        name: `create a new access key for ${user}`,
        detail: s.resume ? `resuming with ${s.resume.id}, already held by ${s.resume.from}` : undefined,
        done: Boolean(s.resume),
        async apply() {
          const created = await createAccessKey(ctx, user);
          registerSecret(created.secret);
          Object.assign(newKey, created);
          return `new key ${created.id}`;
        },
        async rollback() {
          if (!newKey.id) return 'no key was created';
          // Never delete a key an app holds: that app would lose its working key.
          for (const app of apps) {
            if ((await heroku.configVars(app))[ID_VAR] === newKey.id) throw new ServiceError('IAM', `kept ${newKey.id}: ${app} holds it; run the command again to finish`);
          }
          await deleteAccessKey(ctx, user, newKey.id);
          return `deleted ${newKey.id}`;
        },
      },
      {
        name: `write it into ${ID_VAR} and ${SECRET_VAR} of ${apps.join(', ')}`,
        detail: 'each app restarts with the new key; the old one still works meanwhile',
        done: apps.every((a) => held.get(a)!.id === s.resume?.id) && Boolean(s.resume),
        async apply() {
          for (const app of apps) {
            if (held.get(app)!.id === newKey.id) continue;
            ctx.checkInterrupted();
            changed.push(app);
            await heroku.updateConfigVars(app, { [ID_VAR]: newKey.id!, [SECRET_VAR]: newKey.secret! });
          }
          return changed.length ? `written to ${plural(changed.length, 'app')}` : undefined;
        },
        verify: () => verifyApps(heroku, apps, newKey.id!, newKey.secret!),
        async rollback() {
          for (const app of changed) {
            const before = held.get(app)!;
            await heroku.updateConfigVars(app, { [ID_VAR]: before.id ?? null, [SECRET_VAR]: before.secret ?? null });
          }
          return changed.length ? `restored the previous key in ${changed.join(', ')}` : 'no app was changed';
        },
      },
      {
        name: 'delete the old key',
        detail: oldIds().length ? oldIds().join(', ') : undefined,
        done: oldIds().length === 0 && Boolean(s.resume),
        pointOfNoReturn: true,
        async apply() {
          // The apps were verified to hold the new key in the step before.
          const old = oldIds();
          for (const id of old) await deleteAccessKey(ctx, user, id);
          return old.length ? `deleted ${old.join(', ')}` : 'none to delete';
        },
        async verify() {
          const left = await listAccessKeys(ctx, user);
          if (left.length !== 1 || left[0]!.id !== newKey.id) throw new ServiceError('IAM', `${user} has keys ${left.map((k) => k.id).join(', ')}, expected only ${newKey.id}`);
          return `${user} has one key: ${newKey.id}`;
        },
      },
    );

    await runSteps(ctx, {
      title: `rotate the access key of ${user} used by ${apps.join(', ')} (keys now: ${iamKeys.map((k) => k.id).join(', ') || 'none'})`,
      dryRun: Boolean(args.dryRun),
      json: () => ({ user, apps, keysBefore: iamKeys.map((k) => k.id), resumedWith: s.resume?.id ?? null, newKeyId: newKey.id ?? null }),
      steps,
      confirm: () => ctx.confirm(`rotate the IAM access key of ${user} for ${plural(apps.length, 'app')}?`),
      resumeHint: 'every app still has a working key; run raxx-ops attachments rotate-access-key again to finish (it resumes)',
    });
    if (!out.json && newKey.id && !args.dryRun) out.line(out.color.ok(`rotated: ${apps.join(', ')} use ${newKey.id}; the old key is deleted`));
  },
});

interface Assessment {
  /** A key of the user already held by some app and newer than the rest: the rotation to finish. */
  resume: { id: string; secret: string; from: string } | undefined;
  /** A key no app holds, newer than what they hold and never used: the secret is lost. */
  leftover: AccessKeyInfo | undefined;
}

async function assess(ctx: Context, user: string, apps: string[], held: Map<string, Held>, iamKeys: AccessKeyInfo[]): Promise<Assessment> {
  const byId = new Map(iamKeys.map((k) => [k.id, k]));
  const created = (id: string) => byId.get(id)?.created ?? '';
  const heldIds = [...new Set(apps.map((a) => held.get(a)!.id).filter((id): id is string => id !== undefined && byId.has(id)))].sort((a, b) => created(b).localeCompare(created(a)));
  const stray = iamKeys.filter((k) => !heldIds.includes(k.id));
  const newestHeld = heldIds[0];
  const secretOf = (id: string) => {
    const app = apps.find((a) => held.get(a)!.id === id && held.get(a)!.secret);
    return app ? { id, secret: held.get(app)!.secret!, from: app } : undefined;
  };

  if (!newestHeld) {
    if (iamKeys.length >= 2) {
      throw new ConfigError(`no app holds a key of ${user}, and it has 2 already (${iamKeys.map((k) => k.id).join(', ')})`, { hint: `find which key is in use; delete the other with aws iam delete-access-key --user-name ${user} --access-key-id <id>, then run again` });
    }
    ctx.out.warn(`no app holds a working key of ${user}: attachments are failing now`);
    return { resume: undefined, leftover: undefined };
  }
  // Apps disagree (a run stopped while writing): the newest key is the one being rolled out.
  const everyAppHolds = apps.every((a) => held.get(a)!.id === newestHeld);
  // IAM's CreateDate tells the old key (older than what the apps hold) from a stopped run's new
  // one (newer); a rotation's two keys are minutes or days apart.
  const olderStray = stray.filter((k) => (k.created ?? '') < created(newestHeld));
  if (heldIds.length > 1 || !everyAppHolds || olderStray.length > 0) {
    const resume = secretOf(newestHeld);
    if (!resume) throw new ConfigError(`${newestHeld} is held without ${SECRET_VAR}`, { hint: `set ${SECRET_VAR} by hand or remove ${ID_VAR} from the apps that lack it` });
    // Every app holding it, and an older key left: only the deletion is left to do.
    return { resume, leftover: undefined };
  }
  // Every app holds the same key: a fresh rotation. A newer key nobody holds is a stopped run's.
  const newer = stray.find((k) => (k.created ?? '') >= created(newestHeld));
  if (newer) {
    const used = await accessKeyLastUsed(ctx, user, newer.id);
    if (used) {
      throw new ConfigError(`${user} has a second key ${newer.id} that no app holds but that was used on ${used}`, {
        hint: `find who uses it; if nobody should: aws iam delete-access-key --user-name ${user} --access-key-id ${newer.id}, then run again`,
      });
    }
    return { resume: undefined, leftover: newer };
  }
  return { resume: undefined, leftover: undefined };
}

async function verifyApps(heroku: HerokuApi, apps: string[], id: string, secret: string): Promise<string> {
  const wrong: string[] = [];
  for (const app of apps) {
    const vars = await heroku.configVars(app);
    if (vars[ID_VAR] !== id || vars[SECRET_VAR] !== secret) wrong.push(app);
  }
  if (wrong.length > 0) throw new ServiceError('Heroku', `${wrong.join(', ')} do not hold the new key after writing it`, { hint: 'check the apps’ config vars; the old key still works' });
  return `${plural(apps.length, 'app')} hold ${id}`;
}
