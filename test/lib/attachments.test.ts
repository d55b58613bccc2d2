// Unit edges of the attachments module: key parsing, TTLs, the audit line, restore planning on
// S3's listing, and what KMS reports that moto does not (rotation period and next date).
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { attachmentKeyParts, auditLine, byKey, describeKey, keyProblems, markersAbove, restoreState, type VersionEntry } from '../../src/lib/attachments/attachments.js';
import { createContext } from '../../src/lib/run/context.js';

const C = '3f1c2b4a-1111-4c2d-8e9f-0a1b2c3d4e5f';
const T = '9a2b3c4d-2222-4e5f-8a9b-1c2d3e4f5a6b';
const F = '7d4e5f6a-3333-4b7c-9d8e-2f3a4b5c6d7e';

describe('attachment keys', () => {
  it('takes <customer>/<ticket>/<file>.<ext> and nothing else', () => {
    expect(attachmentKeyParts(`${C}/${T}/${F}.pdf`)).toEqual({ key: `${C}/${T}/${F}.pdf`, customer: C, ticket: T, file: F, ext: 'pdf' });
    expect(attachmentKeyParts(`${C}/${T}/${F}.tar.gz`)).toBeUndefined();
    expect(attachmentKeyParts(`${C}/${T}/${F}.`)).toBeUndefined();
    expect(attachmentKeyParts(`/${C}/${T}/${F}.pdf`)).toBeUndefined();
    expect(attachmentKeyParts(`${C}/${T}/${F}.verylongextension`)).toBeUndefined();
  });
});

describe('auditLine', () => {
  it('is a Python-style dict, quotes escaped', () => {
    expect(auditLine({ event: 'support.attachment.accessed', operator: "o'neil", ttl_seconds: 300 })).toBe(
      "AUDIT {'event': 'support.attachment.accessed', 'operator': 'o\\'neil', 'ttl_seconds': 300}",
    );
  });
});

describe('restore planning', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const v = (versionId: string, s: number, opts: { marker?: boolean; latest?: boolean } = {}): VersionEntry => ({
    key: 'k',
    versionId,
    isLatest: Boolean(opts.latest),
    deleteMarker: Boolean(opts.marker),
    lastModified: at(s),
    size: opts.marker ? undefined : 1,
  });

  it('the markers above the newest data version, not the older history', () => {
    const [k] = byKey([v('d1', 1), v('m1', 2, { marker: true }), v('d2', 3), v('m2', 4, { marker: true }), v('m3', 5, { marker: true, latest: true })]);
    expect(restoreState(k!)).toBe('deleted');
    expect(k!.data.map((d) => d.versionId)).toEqual(['d2', 'd1']);
    expect(markersAbove(k!).map((m) => m.versionId).sort()).toEqual(['m2', 'm3']);
  });

  it('present when the latest entry is data, even in the same second as a marker', () => {
    const [k] = byKey([v('m1', 5, { marker: true }), v('d1', 5, { latest: true })]);
    expect(restoreState(k!)).toBe('present');
    expect(k!.data[0]!.versionId).toBe('d1');
  });

  it('no data version when only markers are left', () => {
    const [k] = byKey([v('m1', 5, { marker: true, latest: true })]);
    expect(restoreState(k!)).toBe('no data version');
  });
});

describe('describeKey', () => {
  const kms = mockClient(KMSClient);
  afterEach(() => kms.reset());

  it('reports the rotation period and next date when KMS gives them', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-1', Arn: 'arn:aws:kms:us-east-1:1:key/k-1', Enabled: true, KeyState: 'Enabled' } });
    kms.on(GetKeyRotationStatusCommand, { KeyId: 'k-1' }).resolves({ KeyRotationEnabled: true, RotationPeriodInDays: 180, NextRotationDate: new Date('2026-06-01T00:00:00Z') });
    const ctx = await createContext({ env: 'prod', json: false, color: false, debug: false, yes: false }, { stdout: { write: () => true }, stderr: { write: () => true }, env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' } });
    const k = await describeKey(ctx, 'alias/raxx-support-attachments');
    expect(k.rotation).toEqual({ enabled: true, periodDays: 180, nextDate: '2026-06-01T00:00:00.000Z' });
    expect(keyProblems(k)).toEqual([]);
    await ctx.close();
  });

  it('a key pending deletion whose rotation KMS will not report: flagged for the deletion, rotation unknown', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k-1', Arn: 'arn:aws:kms:us-east-1:1:key/k-1', Enabled: false, KeyState: 'PendingDeletion', DeletionDate: new Date('2026-02-01T00:00:00Z') } });
    kms.on(GetKeyRotationStatusCommand).rejects(Object.assign(new Error('pending deletion'), { name: 'KMSInvalidStateException' }));
    const ctx = await createContext({ env: 'prod', json: false, color: false, debug: false, yes: false }, { stdout: { write: () => true }, stderr: { write: () => true }, env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' } });
    const k = await describeKey(ctx, 'alias/raxx-support-attachments');
    expect(k.rotation.enabled).toBeUndefined();
    expect(keyProblems(k)).toEqual(['pending deletion on 2026-02-01T00:00:00.000Z: attachments become unreadable for good then']);
    await ctx.close();
  });
});
