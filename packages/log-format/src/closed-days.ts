// Closed days: when a compacted day's manifest is the whole day, so that readers use it without
// listing the day's raw objects (~2,000 keys an app-day), and how a write into a closed day
// takes that trust away first.
//
// A day is closed once the receiver cannot key anything more into it (acceptanceHorizon, 01:15
// UTC the next day). A manifest made from a listing taken after that, by S3's clock, holds
// every object the receiver will ever write there. Anything else that writes into the day (a
// shipped file, the CLI's own audit lines, a manual upload found by `logs compact`) leaves a
// stale mark under `<root>stale/app=<app>/day=<D>/` BEFORE its write; a manifest is trusted
// only if its listing was taken after every mark of its day is closed:
//   <uuid>.open      written before the write: closed WRITE_BUDGET_MS after it (the writer
//                    gives its write no longer), or at its `.settled` twin, whichever is known;
//   <uuid>.settled   written once the write's outcome is known: closed at its own time;
//   <time>-<uuid>.seen  written by compaction on finding the day changed since its manifest:
//                    closed at <time>, the S3 time of the listing that saw the change.
// Times are S3's LastModified plus SLACK_MS (listings and Date headers have 1 s resolution).
// A name of no known form never closes: a day with one is always verified by listing.
import type { CompactS3 } from './compact-day.js';
import type { ListedObject, Manifest } from './compacted.js';
import { acceptanceHorizon, tryParseDay, utcDate } from './object-key.js';

/** The longest a marked write may take; the writer aborts it past this (by its monotonic clock). */
export const WRITE_BUDGET_MS = 60 * 60_000;
/** What one-second timestamps and a listing's moment inside its request may be off by. */
export const SLACK_MS = 5_000;

const OPEN = /^([0-9a-f-]{36})\.open$/;
const SETTLED = /^([0-9a-f-]{36})\.settled$/;
const SEEN = /^(\d{13})-([0-9a-f-]{36})\.seen$/;

/** Where the stale marks of one app-day live. */
export function staleMarkPrefix(app: string, day: number | string, root: string): string {
  return `${root}stale/app=${app}/day=${typeof day === 'string' ? day : utcDate(day)}/`;
}

/** The two marks of one write into a day: before it, and once its outcome is known. */
export function writeMarks(app: string, day: number | string, root: string, id: string): { open: string; settled: string } {
  const p = staleMarkPrefix(app, day, root);
  return { open: `${p}${id}.open`, settled: `${p}${id}.settled` };
}

/** The mark compaction leaves on finding a day changed since its manifest, closed at `at` (S3's clock). */
export function seenMark(app: string, day: number | string, root: string, at: number, id: string): string {
  return `${staleMarkPrefix(app, day, root)}${String(Math.max(0, Math.floor(at))).padStart(13, '0')}-${id}.seen`;
}

/** A mark as listed: its key and LastModified (epoch ms, S3's clock). */
export interface ListedMark {
  key: string;
  modified?: number | undefined;
}

/** When each listed mark is closed (epoch ms; Infinity: never), by key. */
export function markClosings(marks: readonly ListedMark[]): Map<string, number> {
  const settledAt = new Map<string, number>();
  for (const m of marks) {
    const id = SETTLED.exec(m.key.slice(m.key.lastIndexOf('/') + 1))?.[1];
    if (id && m.modified !== undefined) settledAt.set(id, m.modified);
  }
  const out = new Map<string, number>();
  for (const m of marks) {
    const name = m.key.slice(m.key.lastIndexOf('/') + 1);
    const open = OPEN.exec(name);
    const settled = SETTLED.exec(name);
    const seen = SEEN.exec(name);
    let at = Infinity;
    if (seen) at = Number(seen[1]);
    else if (m.modified === undefined) at = Infinity;
    else if (settled) at = m.modified + SLACK_MS;
    else if (open) at = (settledAt.get(open[1]!) ?? m.modified + WRITE_BUDGET_MS) + SLACK_MS;
    out.set(m.key, at);
  }
  return out;
}

/** Why a manifest must be verified by listing, or undefined when it is the whole day as it stands. */
export function untrustedBecause(manifest: Manifest, marks: readonly ListedMark[]): string | undefined {
  const day = tryParseDay(manifest.day);
  const listedAt = manifest.listedAt === undefined ? NaN : Date.parse(manifest.listedAt);
  if (day === undefined) return 'its day is not a date';
  if (Number.isNaN(listedAt) || !Array.isArray(manifest.sizes) || manifest.sizes.length !== manifest.keys.length) return 'written before closed days were trusted (no listing time)';
  if (listedAt < acceptanceHorizon(day)) return `listed at ${new Date(listedAt).toISOString()}, before the day closed (${new Date(acceptanceHorizon(day)).toISOString()})`;
  for (const [key, at] of markClosings(marks)) {
    if (at > listedAt) return `a write into the day (${key.slice(key.lastIndexOf('/') + 1)}) is newer than its listing`;
  }
  return undefined;
}

/** Whether a manifest holds its whole day: readers then use it without listing the raw objects. */
export function trustedManifest(manifest: Manifest, marks: readonly ListedMark[]): boolean {
  return untrustedBecause(manifest, marks) === undefined;
}

/** Objects new, gone, or with another ETag than the manifest says. */
export function differences(manifest: Manifest, listed: readonly ListedObject[]): number {
  const etagOf = new Map(manifest.keys.map((k, i) => [k, manifest.etags[i]]));
  const now = new Set(listed.map((o) => o.key));
  return listed.filter((o) => etagOf.get(o.key) !== o.etag).length + manifest.keys.filter((k) => !now.has(k)).length;
}

/** Removes the marks a manifest listed at `listedAt` covers (when the caller can delete); the rest stay. */
export async function clearCovered(s3: Pick<CompactS3, 'deleteObject'>, marks: readonly ListedMark[], listedAt: number): Promise<void> {
  if (!s3.deleteObject) return;
  // A mark left (no s3:DeleteObject, a failure) is harmless: the manifest is newer than it.
  for (const [key, at] of markClosings(marks)) if (at <= listedAt) await s3.deleteObject(key).catch(() => undefined);
}
