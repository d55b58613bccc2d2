// When each app's newest drain (not an add-on's) was created: `logs status` does not count the
// silence before an app's drain existed.
import type { Context } from '../run/context.js';

export async function drainsCreated(ctx: Context, apps: string[]): Promise<Map<string, number>> {
  const created = new Map<string, number>();
  if (apps.length === 0) return created;
  try {
    const heroku = await ctx.heroku();
    await Promise.all(
      apps.map(async (app) => {
        const times = (await heroku.listDrains(app)).filter((d) => !d.addon).map((d) => Date.parse(d.created_at)).filter((t) => !Number.isNaN(t));
        if (times.length > 0) created.set(app, Math.max(...times));
      }),
    );
  } catch (err) {
    ctx.out.debug(`going on without drain creation times: ${(err as Error).message}`);
  }
  return created;
}
