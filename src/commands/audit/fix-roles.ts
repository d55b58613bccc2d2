// `raxx-ops audit fix-roles`: the runbook's "Re-applying role log_statement". Plan, confirm,
// `ALTER ROLE … SET log_statement TO 'mod'` per audited role, then re-read
// pg_db_role_setting to verify. A role setting applies at login only: the app's open sessions
// keep the old value until the dynos restart.
import { alterRoleSql, applyFixRole, planFixRoles, readRoleSettings } from '../../lib/audit/database.js';
import { CheckFailedError } from '../../lib/core/errors.js';
import { closePostgres, connectPostgres, parseDatabaseUrl } from '../../lib/postgres/connect.js';
import { createCommand } from '../define.js';
import * as opt from '../options.js';
import { apiApp, auditOptions, configVarsOnce, ownerUrl } from './shared.js';

export default createCommand({
  description: "re-apply log_statement='mod' to the audited roles (audit.roles), verified in pg_db_role_setting; the dynos must restart for it to take effect",
  examples: [
    ['raxx-ops audit fix-roles --dry-run', 'what would change'],
    ['raxx-ops --env staging audit fix-roles --yes', 'apply on staging without asking'],
  ],
  options: { ...auditOptions, dryRun: opt.dryRun },
  async handler(args, ctx) {
    const { out } = ctx;
    const app = apiApp(ctx, args.app);
    const owner = await ownerUrl(ctx, app, args.databaseUrl, configVarsOnce(ctx, app));
    parseDatabaseUrl(owner.url, owner);
    const roles = ctx.config.audit.roles;
    let client: Awaited<ReturnType<typeof connectPostgres>> | undefined;
    const onAbort = () => void closePostgres(client);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      client = await connectPostgres(owner.url, { source: owner.source, badUrl: owner.badUrl, applicationName: 'raxx-ops audit fix-roles', signal: ctx.signal });
      ctx.checkInterrupted();
      const plan = await planFixRoles(client, roles);
      const missing = plan.filter((p) => !p.exists);
      const changes = plan.filter((p) => p.change);
      if (!out.json) {
        out.line(args.dryRun ? 'plan (dry run, nothing will change):' : 'plan:');
        for (const p of plan) {
          const now = p.before ? `'${p.before}'` : 'not set';
          if (!p.exists) out.line(`  ${p.role}  ${out.color.bad('does not exist')} (migration 0051 is not applied)`);
          else if (p.change) out.line(`  ${p.role}  log_statement ${now} → 'mod'   ${out.color.dim(alterRoleSql(p.role))}`);
          else out.line(`  ${p.role}  log_statement 'mod', unchanged`);
        }
      }
      if (missing.length > 0) {
        if (out.json) out.data({ dryRun: args.dryRun, roles: plan.map((p) => ({ role: p.role, exists: p.exists, before: p.before ?? null, status: p.exists ? 'not applied' : 'missing' })) });
        throw new CheckFailedError(`role ${missing.map((p) => p.role).join(' and ')} does not exist; nothing was changed`, { hint: 'apply migration 0051 (it creates the audited roles), or correct audit.roles in the config' });
      }
      let after = plan.map((p) => ({ role: p.role, logStatement: p.before }));
      if (!args.dryRun && changes.length > 0) {
        await ctx.confirm(`set log_statement to 'mod' for ${changes.map((c) => c.role).join(' and ')}?`);
        for (const c of changes) {
          ctx.checkInterrupted();
          await applyFixRole(client, c.role);
        }
        after = await readRoleSettings(client, roles);
      }
      const unfixed = args.dryRun ? [] : after.filter((a) => a.logStatement !== 'mod');
      if (out.json) {
        out.data({
          dryRun: args.dryRun,
          roles: plan.map((p) => {
            const a = after.find((x) => x.role === p.role);
            const status = args.dryRun ? (p.change ? 'planned' : 'unchanged') : !p.change ? 'unchanged' : a?.logStatement === 'mod' ? 'changed' : 'failed';
            return { role: p.role, exists: p.exists, before: p.before ?? null, after: a?.logStatement ?? null, status };
          }),
          restartNeeded: !args.dryRun && changes.length > 0,
        });
      } else if (!args.dryRun) {
        if (changes.length === 0) out.line('nothing to change: every audited role already has log_statement=mod');
        else {
          out.line('verified in pg_db_role_setting:');
          for (const a of after) out.line(`  ${a.role}  log_statement=${a.logStatement ?? '(not set)'}`);
        }
      }
      if (unfixed.length > 0) {
        throw new CheckFailedError(`log_statement is still not 'mod' for ${unfixed.map((u) => u.role).join(', ')} after ALTER ROLE`, { hint: 'a per-database setting may override it: look at pg_db_role_setting for the role in this database' });
      }
      if (!args.dryRun && changes.length > 0) {
        out.info(`role settings apply at login only: restart the dynos so the app's sessions log in again (heroku ps:restart --app ${app}), then run \`raxx-ops audit smoke\``);
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      await closePostgres(client);
    }
  },
});
