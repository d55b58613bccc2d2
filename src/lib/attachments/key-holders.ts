// The places that keep the attachments backend's IAM access key (id and secret): each Heroku
// app's config vars and, when configured, the Infisical folder of the runbook. One shape for
// both, so a rotation reads, writes and checks every holder the same way.
//
// A write that got no answer may land at any later time. The ledger remembers every key id such
// a write carried: a key in it is never deleted by this run, whatever a read shows now.
import { isUnknownOutcome, ServiceError, UnknownOutcomeError } from '../core/errors.js';
import type { HerokuApi } from '../heroku/client.js';
import type { InfisicalApi } from '../infisical/client.js';
import { registerSecret } from '../core/secrets.js';

export const ID_VAR = 'AWS_ACCESS_KEY_ID_SUPPORT';
export const SECRET_VAR = 'AWS_SECRET_ACCESS_KEY_SUPPORT';

export interface Held {
  id: string | undefined;
  secret: string | undefined;
}

export interface AccessKey {
  id: string;
  secret: string;
}

export interface KeyHolder {
  /** The app's name, or "Infisical <env>:<folder>". */
  name: string;
  kind: 'app' | 'vault';
  read(): Promise<Held>;
  write(key: AccessKey): Promise<void>;
  /** Puts back what it held before (a holder that held nothing is left as it is: see restore). */
  restore(before: Held): Promise<void>;
}

export function herokuHolder(heroku: HerokuApi, app: string): KeyHolder {
  return {
    name: app,
    kind: 'app',
    async read() {
      const vars = await heroku.configVars(app);
      registerSecret(vars[SECRET_VAR]);
      return { id: vars[ID_VAR], secret: vars[SECRET_VAR] };
    },
    // One PATCH sets both vars at once: an app never holds an id with another key's secret.
    async write(key) {
      await heroku.updateConfigVars(app, { [ID_VAR]: key.id, [SECRET_VAR]: key.secret });
    },
    async restore(before) {
      await heroku.updateConfigVars(app, { [ID_VAR]: before.id ?? null, [SECRET_VAR]: before.secret ?? null });
    },
  };
}

export function infisicalHolder(vault: InfisicalApi): KeyHolder {
  const holder: KeyHolder = {
    name: vault.where,
    kind: 'vault',
    async read() {
      const secret = await vault.getSecret(SECRET_VAR);
      registerSecret(secret);
      return { id: await vault.getSecret(ID_VAR), secret };
    },
    // One batch request sets both: the vault never holds an id with another key's secret.
    async write(key) {
      await vault.setSecrets({ [ID_VAR]: key.id, [SECRET_VAR]: key.secret });
    },
    async restore(before) {
      // A vault that had no key keeps the new one: deleting secrets there is left to a person.
      if (before.id && before.secret) await holder.write({ id: before.id, secret: before.secret });
    },
  };
  return holder;
}

/** Key ids that a write without an answer may still install, per holder. */
export class WriteLedger {
  private readonly unanswered = new Map<string, Set<string>>();

  note(holder: KeyHolder, id: string | undefined): void {
    if (!id) return;
    let set = this.unanswered.get(holder.name);
    if (!set) this.unanswered.set(holder.name, (set = new Set()));
    set.add(id);
  }

  /** Holders a write of `id` went to without an answer. */
  mayInstall(id: string): string[] {
    return [...this.unanswered].filter(([, ids]) => ids.has(id)).map(([name]) => name);
  }

  get any(): boolean {
    return this.unanswered.size > 0;
  }

  describe(): string {
    return [...this.unanswered].map(([name, ids]) => `${name} (${[...ids].join(', ')})`).join('; ');
  }
}

/** How many times a write without an answer is sent again (same values, so sending it again is harmless). */
const RESENDS = 2;

/**
 * Writes the key and settles an unknown outcome: the same write again (it sets the same values,
 * so a late landing of the first one changes nothing), or a read that shows it landed. When no
 * answer ever comes, it throws the unknown outcome: the key stays in the ledger.
 */
export async function writeSettled(holder: KeyHolder, key: AccessKey, ledger: WriteLedger, checkInterrupted: () => void): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt <= RESENDS; attempt++) {
    if (attempt > 0) checkInterrupted();
    try {
      await holder.write(key);
      return;
    } catch (err) {
      if (!isUnknownOutcome(err)) throw err;
      ledger.note(holder, key.id);
      last = err;
    }
    try {
      const now = await holder.read();
      if (now.id === key.id && now.secret === key.secret) return;
    } catch {
      // Unreadable now: the write is sent again, which settles it as well.
    }
  }
  const cause = last as UnknownOutcomeError;
  throw new UnknownOutcomeError(cause.service, `${holder.name}: ${RESENDS + 1} writes of ${key.id} got no answer (${cause.message}); it may still land`, cause.code ?? 'ETIMEDOUT', cause, cause.hint);
}

/** A ServiceError saying which key was kept and why. */
export function keptError(id: string, why: string, hint?: string): ServiceError {
  return new ServiceError('IAM', `kept ${id}: ${why}`, hint ? { hint } : {});
}
