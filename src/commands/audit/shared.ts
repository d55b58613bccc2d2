// What the audit commands share: which app is the env's API app, and the owner's and the
// app role's database URLs (flag, else environment, else the API app's config var).
import { z } from 'zod';
import { appName } from '../../lib/core/config.js';
import type { Context } from '../../lib/run/context.js';
import { resolveDatabaseUrl, type ResolvedUrl } from '../../lib/postgres/connect.js';
import { option } from '../define.js';

export const auditOptions = {
  app: option(appName.optional(), "the API app whose drain and config vars are used (default: the env's API app)", { value: '<app>' }),
  databaseUrl: option(z.string().optional(), "the owner's URL (default: DATABASE_URL, else the API app's DATABASE_URL config var)", { value: '<url>' }),
};

/** The env's API app: the first app named like one (raxx-api-prod, raxx-api-staging), else the first app. */
export function apiApp(ctx: Context, flag: string | undefined): string {
  if (flag) return flag;
  const apps = ctx.config.apps;
  return apps.find((a) => /(^|-)api(-|$)/.test(a)) ?? apps[0]!;
}

/** Reads the app's config vars at most once, and only when a URL has to come from there. */
export function configVarsOnce(ctx: Context, app: string): () => Promise<Record<string, string>> {
  let vars: Promise<Record<string, string>> | undefined;
  return () => (vars ??= ctx.heroku().then((h) => h.configVars(app)));
}

export function ownerUrl(ctx: Context, app: string, flag: string | undefined, vars: () => Promise<Record<string, string>>): Promise<ResolvedUrl> {
  return resolveDatabaseUrl(ctx, { flag, flagName: '--database-url', name: 'DATABASE_URL', app }, vars);
}

export function appRoleUrl(ctx: Context, app: string, flag: string | undefined, vars: () => Promise<Record<string, string>>): Promise<ResolvedUrl> {
  return resolveDatabaseUrl(ctx, { flag, flagName: '--app-database-url', name: 'RAPTOR_APP_DATABASE_URL', app }, vars);
}
