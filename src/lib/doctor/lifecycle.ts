// Lifecycle rules judged by what they do to the objects under a prefix: S3 applies every
// enabled rule whose filter matches an object, and the earliest action wins. So every shape S3
// allows counts: Expiration.Days and Expiration.Date, transitions by days or date, noncurrent
// version expiry, filters by prefix (Filter.Prefix, Filter.And, the legacy top-level Prefix),
// by tag and by object size. A tag or size filter narrows which objects a rule reaches; it never
// proves that none of ours match, so such a rule is judged as reaching them. Disabled rules do
// nothing and are ignored.
import type { LifecycleRule } from '@aws-sdk/client-s3';
import { DAY_MS } from '../core/time-window.js';

/**
 * Classes whose objects cannot be read by a plain GET (GLACIER, DEEP_ARCHIVE: a restore first),
 * or only at a retrieval charge per GB with a 90-day minimum (GLACIER_IR). The runbooks chose
 * Standard-IA, "never Glacier", so that logs and attachments stay directly readable.
 */
export const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR']);

type Tag = { Key?: string | undefined; Value?: string | undefined };
interface Filterish {
  Prefix?: string | undefined;
  Tag?: Tag | undefined;
  ObjectSizeGreaterThan?: number | undefined;
  ObjectSizeLessThan?: number | undefined;
  And?: { Prefix?: string | undefined; Tags?: Tag[] | undefined; ObjectSizeGreaterThan?: number | undefined; ObjectSizeLessThan?: number | undefined } | undefined;
}

const filterOf = (r: LifecycleRule) => (r.Filter ?? {}) as Filterish;

/** The rule's prefix, from whichever place S3 allows it: Filter.Prefix, Filter.And.Prefix or the legacy top-level Prefix. */
export function rulePrefix(r: LifecycleRule): string {
  const f = filterOf(r);
  return f.Prefix ?? f.And?.Prefix ?? r.Prefix ?? '';
}

export function ruleTags(r: LifecycleRule): Tag[] {
  const f = filterOf(r);
  return [...(f.Tag ? [f.Tag] : []), ...(f.And?.Tags ?? [])];
}

function ruleSizes(r: LifecycleRule): { over?: number; under?: number } {
  const f = filterOf(r);
  const over = f.ObjectSizeGreaterThan ?? f.And?.ObjectSizeGreaterThan;
  const under = f.ObjectSizeLessThan ?? f.And?.ObjectSizeLessThan;
  return { ...(over !== undefined ? { over } : {}), ...(under !== undefined ? { under } : {}) };
}

/** "prefix logs/, tag a=b, objects under 131072 bytes" or "whole bucket". */
export function ruleScope(r: LifecycleRule): string {
  const prefix = rulePrefix(r);
  const tags = ruleTags(r).map((t) => `${t.Key}=${t.Value}`);
  const { over, under } = ruleSizes(r);
  return [
    prefix ? `prefix ${prefix}` : 'whole bucket',
    ...(tags.length ? [`objects tagged ${tags.join(' and ')}`] : []),
    ...(over !== undefined ? [`objects over ${over} bytes`] : []),
    ...(under !== undefined ? [`objects under ${under} bytes`] : []),
  ].join(', ');
}

/** Whether the rule's filter can match an object under `prefix` (prefixes overlap). */
export function reaches(r: LifecycleRule, prefix: string): boolean {
  const p = rulePrefix(r);
  return prefix.startsWith(p) || p.startsWith(prefix);
}

export const ruleName = (r: LifecycleRule) => r.ID || '(rule without an ID)';

export type ActionKind = 'expire' | 'transition' | 'noncurrent-expire' | 'noncurrent-transition';

/** One thing a rule does, and how soon: `days` of age, or a fixed `date` (which reaches every matching object on that day, however young). */
export interface RuleAction {
  rule: string;
  scope: string;
  kind: ActionKind;
  days?: number;
  date?: string;
  storageClass?: string;
}

export function actionsOf(r: LifecycleRule): RuleAction[] {
  const base = { rule: ruleName(r), scope: ruleScope(r) };
  const when = (days: number | undefined, date: Date | string | undefined) => ({
    ...(days !== undefined ? { days } : {}),
    ...(date !== undefined ? { date: new Date(date).toISOString().slice(0, 10) } : {}),
  });
  const out: RuleAction[] = [];
  for (const t of r.Transitions ?? []) out.push({ ...base, kind: 'transition', storageClass: t.StorageClass ?? '?', ...when(t.Days, t.Date) });
  const e = r.Expiration;
  if (e && (e.Days !== undefined || e.Date !== undefined)) out.push({ ...base, kind: 'expire', ...when(e.Days, e.Date) });
  const nve = r.NoncurrentVersionExpiration;
  if (nve?.NoncurrentDays !== undefined) out.push({ ...base, kind: 'noncurrent-expire', days: nve.NoncurrentDays });
  for (const t of r.NoncurrentVersionTransitions ?? []) if (t.NoncurrentDays !== undefined) out.push({ ...base, kind: 'noncurrent-transition', storageClass: t.StorageClass ?? '?', days: t.NoncurrentDays });
  return out;
}

/** "at 30 d" or "on 2025-06-08 (in 6 days)". */
export function whenText(a: RuleAction, now: number): string {
  if (a.date === undefined) return `at ${a.days} d`;
  const inDays = Math.ceil((Date.parse(a.date) - now) / DAY_MS);
  return `on ${a.date} (${inDays > 0 ? `in ${inDays} day${inDays === 1 ? '' : 's'}` : 'already passed: every matching object is due now'})`;
}

/** Human tiers of one rule: "logs-tiers (prefix logs/): STANDARD_IA at 30 d, expire at 365 d". */
export function describeRule(r: LifecycleRule, now: number): string {
  const parts = actionsOf(r).map((a) =>
    a.kind === 'expire' ? `expire ${whenText(a, now)}` : a.kind === 'transition' ? `${a.storageClass} ${whenText(a, now)}` : a.kind === 'noncurrent-expire' ? `noncurrent versions expire at ${a.days} d` : `noncurrent versions to ${a.storageClass} at ${a.days} d`,
  );
  if (r.AbortIncompleteMultipartUpload?.DaysAfterInitiation !== undefined) parts.push(`incomplete uploads aborted at ${r.AbortIncompleteMultipartUpload.DaysAfterInitiation} d`);
  if (r.Expiration?.ExpiredObjectDeleteMarker) parts.push('expired delete markers removed');
  return `${ruleName(r)} (${ruleScope(r)}): ${parts.join(', ') || 'no action'}`;
}

export interface Violation {
  action: RuleAction;
  /** What happens to the objects, for the finding. */
  what: string;
  fix: string;
}

/**
 * Everything the enabled `rules` do to objects under `prefix` sooner than `floor` allows:
 * deletion before `floor.expireDays` (or on a fixed date), a move to an archive class, and
 * noncurrent versions deleted before `floor.noncurrentDays`.
 */
export function judgeRules(
  rules: LifecycleRule[],
  prefix: string,
  floor: { expireDays: number; noncurrentDays: number; objects: string; terraform: string },
  now: number,
): Violation[] {
  const out: Violation[] = [];
  for (const r of rules.filter((x) => x.Status === 'Enabled' && reaches(x, prefix))) {
    for (const a of actionsOf(r)) {
      const where = `rule ${a.rule} (${a.scope})`;
      if (a.kind === 'expire' && a.date !== undefined) {
        out.push({ action: a, what: `${where} deletes every ${floor.objects} it matches ${whenText(a, now)}, however young`, fix: `replace the dated Expiration of rule ${a.rule} with Expiration.Days of at least ${floor.expireDays} in ${floor.terraform}, then apply` });
      } else if (a.kind === 'expire' && a.days! < floor.expireDays) {
        out.push({ action: a, what: `${where} deletes ${floor.objects}s at ${a.days} days, under the ${floor.expireDays}-day floor`, fix: `set rule ${a.rule}'s expiration to at least ${floor.expireDays} days in ${floor.terraform} (or remove the rule), then apply` });
      } else if ((a.kind === 'transition' || a.kind === 'noncurrent-transition') && ARCHIVE_CLASSES.has(a.storageClass!)) {
        const versions = a.kind === 'noncurrent-transition' ? `noncurrent versions of ${floor.objects}s` : `${floor.objects}s`;
        const cost = a.storageClass === 'GLACIER_IR' ? 'reads then cost a retrieval fee per GB and a 90-day minimum' : 'they cannot be read without a restore first';
        out.push({ action: a, what: `${where} moves ${versions} to ${a.storageClass} ${whenText(a, now)}: ${cost} (the runbooks chose Standard-IA, never Glacier)`, fix: `use STANDARD_IA in rule ${a.rule} (${floor.terraform}), then apply` });
      } else if (a.kind === 'noncurrent-expire' && a.days! < floor.noncurrentDays) {
        out.push({ action: a, what: `${where} deletes noncurrent versions at ${a.days} days: a deleted or overwritten ${floor.objects} is gone for good after ${a.days} days, under the ${floor.noncurrentDays}-day floor`, fix: `set rule ${a.rule}'s NoncurrentDays to at least ${floor.noncurrentDays} in ${floor.terraform} (or remove it), then apply` });
      }
    }
  }
  return out;
}

/** The earliest deletion of a current object under `prefix` in days of age (a dated rule counts from now), or undefined when nothing deletes it. */
export function earliestExpiry(rules: LifecycleRule[], prefix: string, now: number): number | undefined {
  const days = rules
    .filter((r) => r.Status === 'Enabled' && reaches(r, prefix))
    .flatMap(actionsOf)
    .filter((a) => a.kind === 'expire')
    .map((a) => (a.date !== undefined ? Math.max(0, Math.ceil((Date.parse(a.date) - now) / DAY_MS)) : a.days!));
  return days.length ? Math.min(...days) : undefined;
}
