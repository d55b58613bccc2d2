// Where a key rotation stands, judged from IAM and the holders: a rotation to finish (the
// newest key held somewhere while IAM still has an older one), a key nobody holds (a stopped
// run's, whose secret is lost), the other environments' apps that hold the same key, and the
// read-back after writing the new key. `attachments rotate-access-key` acts on these.
import { accessKeyLastUsed, type AccessKeyInfo } from './attachments.js';
import type { Context } from '../run/context.js';
import { ConfigError, ServiceError, UserError } from '../core/errors.js';
import type { HerokuApi } from '../heroku/client.js';
import { herokuHolder, ID_VAR, SECRET_VAR, type AccessKey, type Held, type KeyHolder } from './key-holders.js';
import { loadConfig } from '../core/config.js';
import { plural } from '../core/output.js';

/** Apps of the other environment (its `apps` in the config): those that could be read, and those holding a key of the user IAM has. */
export async function otherEnvApps(ctx: Context, heroku: HerokuApi, seen: string[], iamKeys: AccessKeyInfo[]): Promise<{ readable: string[]; holding: { holder: KeyHolder; held: Held; env: string }[] }> {
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

export function holds(held: Held, key: { id: string; secret: string }): boolean {
  return held.id === key.id && held.secret === key.secret;
}

export function holderLines(holders: { name: string; id: string | undefined }[], keys: AccessKeyInfo[]): string[] {
  return holders.map((h) => `${h.name}: ${h.id ?? 'no key'}${h.id ? (keys.some((k) => k.id === h.id) ? ' (IAM has it)' : ' (NOT in IAM: this holder has no working key)') : ''}`);
}

export interface Assessment {
  /** A rotation to finish: a key held somewhere, newer than another key IAM still has. */
  resume: (AccessKey & { from: string; created: string }) | undefined;
  /** A key no holder has, newer than what they hold and never used: the secret is lost. */
  leftover: AccessKeyInfo | undefined;
}

export async function assess(ctx: Context, user: string, holders: KeyHolder[], held: Map<string, Held>, iamKeys: AccessKeyInfo[]): Promise<Assessment> {
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

export async function verifyHolders(holders: KeyHolder[], key: AccessKey): Promise<string> {
  const wrong: string[] = [];
  for (const h of holders) if (!holds(await h.read(), key)) wrong.push(h.name);
  if (wrong.length > 0) throw new ServiceError('IAM', `${wrong.join(', ')} do not hold the new key after writing it`, { hint: 'check their config vars or vault secrets; the old key still works' });
  return `${plural(holders.length, 'holder')} hold ${key.id}`;
}
