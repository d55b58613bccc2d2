// The lifecycle judge on rule shapes the S3 stand-in cannot store (object-size filters, the
// legacy top-level Prefix): what each does to the objects under a prefix. doctor's table test
// (test/commands/doctor.test.ts) covers the shapes moto keeps, end to end.
import type { LifecycleRule } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { describeRule, earliestExpiry, judgeRules } from '../../src/lib/doctor/lifecycle.js';

const NOW = Date.parse('2025-06-02T12:00:00Z');
const FLOOR = { expireDays: 90, noncurrentDays: 90, objects: 'log object', terraform: 'Terraform' };
const TIERS: LifecycleRule = { ID: 'logs-tiers', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Transitions: [{ Days: 90, StorageClass: 'STANDARD_IA' }], Expiration: { Days: 365 } };
const judge = (...extra: LifecycleRule[]) => judgeRules([TIERS, ...extra], 'logs/', FLOOR, NOW).map((v) => v.what);

describe('lifecycle: every rule shape, by what it does to logs/', () => {
  const cases: { shape: string; rule: LifecycleRule; what: RegExp | null; earliest?: number }[] = [
    { shape: 'the healthy tiers alone', rule: { ...TIERS, ID: 'copy' }, what: null, earliest: 365 },
    { shape: 'Filter.ObjectSizeLessThan', rule: { ID: 'tiny', Status: 'Enabled', Filter: { ObjectSizeLessThan: 4096 }, Expiration: { Days: 3 } }, what: /^rule tiny \(whole bucket, objects under 4096 bytes\) deletes log objects at 3 days/, earliest: 3 },
    { shape: 'Filter.ObjectSizeGreaterThan', rule: { ID: 'big', Status: 'Enabled', Filter: { ObjectSizeGreaterThan: 1_000_000 }, Expiration: { Days: 30 } }, what: /^rule big \(whole bucket, objects over 1000000 bytes\) deletes log objects at 30 days/, earliest: 30 },
    { shape: 'Filter.And: prefix, tags and size', rule: { ID: 'and', Status: 'Enabled', Filter: { And: { Prefix: 'logs/raxx-api-prod/', Tags: [{ Key: 'a', Value: 'b' }], ObjectSizeLessThan: 131072 } }, Expiration: { Days: 10 } }, what: /^rule and \(prefix logs\/raxx-api-prod\/, objects tagged a=b, objects under 131072 bytes\) deletes log objects at 10 days/, earliest: 10 },
    { shape: 'the legacy top-level Prefix', rule: { ID: 'legacy', Status: 'Enabled', Prefix: 'logs/', Expiration: { Days: 30 } }, what: /^rule legacy \(prefix logs\/\) deletes log objects at 30 days/, earliest: 30 },
    { shape: 'a prefix above the log prefix', rule: { ID: 'l', Status: 'Enabled', Filter: { Prefix: 'lo' }, Expiration: { Days: 1 } }, what: /^rule l \(prefix lo\)/, earliest: 1 },
    { shape: 'a dated expiry already passed', rule: { ID: 'past', Status: 'Enabled', Filter: {}, Expiration: { Date: new Date('2025-01-01T00:00:00Z') } }, what: /^rule past \(whole bucket\) deletes every log object it matches on 2025-01-01 \(already passed: every matching object is due now\), however young$/, earliest: 0 },
    { shape: 'a dated transition to GLACIER', rule: { ID: 'cold', Status: 'Enabled', Filter: {}, Transitions: [{ Date: new Date('2025-06-10T00:00:00Z'), StorageClass: 'GLACIER' }] }, what: /^rule cold \(whole bucket\) moves log objects to GLACIER on 2025-06-10 \(in 8 days\): they cannot be read without a restore first/, earliest: 365 },
    { shape: 'noncurrent versions to DEEP_ARCHIVE', rule: { ID: 'nv', Status: 'Enabled', Filter: {}, NoncurrentVersionTransitions: [{ NoncurrentDays: 1, StorageClass: 'DEEP_ARCHIVE' }] }, what: /^rule nv \(whole bucket\) moves noncurrent versions of log objects to DEEP_ARCHIVE at 1 d/, earliest: 365 },
    { shape: 'a transition to STANDARD_IA at 30 days (the audit runbook)', rule: { ID: 'ia', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Transitions: [{ Days: 30, StorageClass: 'STANDARD_IA' }] }, what: null, earliest: 365 },
    { shape: 'another prefix', rule: { ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }, what: null, earliest: 365 },
    { shape: 'a disabled rule', rule: { ID: 'off', Status: 'Disabled', Filter: {}, Expiration: { Days: 1 } }, what: null, earliest: 365 },
    { shape: 'expired delete markers only', rule: { ID: 'markers', Status: 'Enabled', Filter: {}, Expiration: { ExpiredObjectDeleteMarker: true } }, what: null, earliest: 365 },
  ];
  for (const c of cases) {
    it(`${c.shape}: ${c.what ? 'fails, naming the rule' : 'passes'}`, () => {
      const found = judge(c.rule);
      if (c.what) {
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(c.what);
      } else expect(found).toEqual([]);
      expect(earliestExpiry([TIERS, c.rule], 'logs/', NOW)).toBe(c.earliest);
    });
  }

  it('describes every action of a rule, in order', () => {
    expect(describeRule({ ID: 'all', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Transitions: [{ Days: 30, StorageClass: 'STANDARD_IA' }], Expiration: { Days: 400, ExpiredObjectDeleteMarker: false }, NoncurrentVersionExpiration: { NoncurrentDays: 120 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }, NOW)).toBe(
      'all (prefix logs/): STANDARD_IA at 30 d, expire at 400 d, noncurrent versions expire at 120 d, incomplete uploads aborted at 7 d',
    );
    expect(describeRule({ Status: 'Enabled', Filter: {} }, NOW)).toBe('(rule without an ID) (whole bucket): no action');
  });
});
