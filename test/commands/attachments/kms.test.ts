// kms-status, lockdown / unlock and kms-retire against moto's KMS and a versioned bucket.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { ALIAS, attachmentKey, BUCKET, createAttachmentsBucket, remove, upload } from './fixtures.js';

interface StatusJson {
  alias: string;
  keyId: string;
  arn: string;
  enabled: boolean;
  state: string;
  deletionDate?: string;
  rotation: { enabled: boolean | null };
  ok: boolean;
  problems: string[];
}
interface StepsJson {
  dryRun: boolean;
  steps: { step: number; name: string; status: string; detail?: string }[];
  unreadable?: { perCustomer: Record<string, number>; total: number } | null;
}

describe.skipIf(!motoAvailable)('attachments KMS commands', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  let keyId: string;
  beforeEach(async () => {
    keyId = await createAttachmentsBucket(aws);
  });

  const cli = (argv: string[], opts: { prompt?: (q: string) => boolean | Promise<boolean> } = {}) => runCli(['attachments', ...argv], { env: moto.env, ...opts });
  async function kms() {
    return { client: await aws.kms(), ...(await import('@aws-sdk/client-kms')) };
  }
  async function state(): Promise<string> {
    const { client, DescribeKeyCommand } = await kms();
    return (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState!;
  }

  describe('kms-status', () => {
    it('an enabled, rotating key: exit 0 with alias, id, ARN and rotation', async () => {
      const r = await cli(['kms-status', '--json']);
      expect(r.code).toBe(0);
      const doc = r.json<StatusJson>();
      expect(doc).toMatchObject({ alias: ALIAS, keyId, enabled: true, state: 'Enabled', ok: true, problems: [] });
      expect(doc.arn).toMatch(new RegExp(`^arn:aws:kms:us-east-1:\\d{12}:key/${keyId}$`));
      expect(doc.rotation.enabled).toBe(true);
      const human = await cli(['kms-status']);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/^rotation\s+enabled/m);
      expect(human.stdout).toContain(keyId);
    });

    it('a disabled key: exit 1, says how to re-enable', async () => {
      const { client, DisableKeyCommand } = await kms();
      await client.send(new DisableKeyCommand({ KeyId: keyId }));
      const r = await cli(['kms-status', '--json']);
      expect(r.code).toBe(1);
      expect(r.json<StatusJson>()).toMatchObject({ enabled: false, state: 'Disabled', ok: false });
      expect(r.stderr).toMatch(/disabled/);
      expect(r.stderr).toMatch(/hint: .*attachments unlock/);
    });

    it('rotation off: exit 1', async () => {
      const { client, DisableKeyRotationCommand } = await kms();
      await client.send(new DisableKeyRotationCommand({ KeyId: keyId }));
      const r = await cli(['kms-status']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^rotation\s+off/m);
      expect(r.stderr).toMatch(/automatic rotation is off/);
      expect(r.stderr).toMatch(/hint: .*enable-key-rotation/);
    });

    it('pending deletion: exit 1 with the deletion date', async () => {
      const { client, ScheduleKeyDeletionCommand } = await kms();
      await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
      const r = await cli(['kms-status', '--json']);
      expect(r.code).toBe(1);
      const doc = r.json<StatusJson>();
      expect(doc.state).toBe('PendingDeletion');
      expect(Date.parse(doc.deletionDate!)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
      expect(r.stderr).toMatch(/pending deletion/);
      expect(r.stderr).toMatch(/kms-retire --cancel/);
    });

    it('an alias that does not exist: exit 3 with a hint', async () => {
      const { client, DeleteAliasCommand } = await kms();
      await client.send(new DeleteAliasCommand({ AliasName: ALIAS }));
      const missing = await cli(['kms-status']);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/KMS key alias\/raxx-support-attachments not found/);
      expect(missing.stderr).toMatch(/hint:/);
    });
  });

  describe('lockdown and unlock', () => {
    it('lockdown disables the key once the alias is typed; unlock enables it; reruns do nothing', async () => {
      const questions: string[] = [];
      const plan = await cli(['lockdown', '--dry-run', '--json']);
      expect(plan.code).toBe(0);
      expect(plan.json<StepsJson>().steps).toMatchObject([{ step: 1, status: 'planned' }]);
      expect(await state()).toBe('Enabled');

      const refused = await cli(['lockdown'], { prompt: (q) => (questions.push(q), false) });
      expect(refused.code).toBe(5);
      expect(questions[0]).toContain(`type ${ALIAS} to confirm`);
      expect(await state()).toBe('Enabled');

      const r = await cli(['lockdown', '--json'], { prompt: () => true });
      expect(r.code).toBe(0);
      expect(r.json<StepsJson>().steps).toMatchObject([{ step: 1, name: 'disable the key', status: 'done', detail: 'key state: Disabled' }]);
      expect(await state()).toBe('Disabled');

      const again = await cli(['lockdown', '--yes']);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/already done/);
      expect((await cli(['kms-status'])).code).toBe(1);

      const unlocked = await cli(['unlock', '--yes']);
      expect(unlocked.code).toBe(0);
      expect(unlocked.stdout).toMatch(/step 1\/1 {2}enable the key: done/);
      expect(await state()).toBe('Enabled');
      expect((await cli(['kms-status'])).code).toBe(0);
    });

    it('needs --yes when nobody can type the alias (exit 5)', async () => {
      const r = await cli(['lockdown']);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/hint: .*--yes/);
      expect(await state()).toBe('Enabled');
    });

    it('unlock refuses a key pending deletion and points at kms-retire --cancel', async () => {
      const { client, ScheduleKeyDeletionCommand } = await kms();
      await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
      const r = await cli(['unlock', '--yes']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/kms-retire --cancel/);
    });
  });

  describe('kms-retire', () => {
    it('shows the objects per customer that become unreadable, schedules deletion, and --cancel undoes it', async () => {
      const a = randomUUID();
      const b = randomUUID();
      for (let i = 0; i < 3; i++) await upload(aws, attachmentKey({ customer: a }), `a${i}`);
      await upload(aws, attachmentKey({ customer: b }), 'b');
      const gone = attachmentKey({ customer: b });
      await upload(aws, gone, 'deleted');
      await remove(aws, gone);
      // An object under another key does not become unreadable.
      const { client, CreateKeyCommand } = await kms();
      const other = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const s3 = await aws.s3();
      const { PutObjectCommand } = await import('@aws-sdk/client-s3');
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: attachmentKey({ customer: b }), Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: other }));

      const plan = await cli(['kms-retire', '--dry-run', '--json', '--page-size', '2']);
      expect(plan.code).toBe(0);
      const doc = plan.json<StepsJson>();
      expect(doc.unreadable).toMatchObject({ total: 4, perCustomer: { [a]: 3, [b]: 1 } });
      expect(await state()).toBe('Enabled');

      const human = await cli(['kms-retire', '--pending-days', '30', '--dry-run']);
      expect(human.stdout).toMatch(new RegExp(`^ {2}${a}/ {2}3$`, 'm'));
      expect(human.stdout).toMatch(/in 30 days/);

      const r = await cli(['kms-retire', '--yes']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/pending deletion on 20\d\d-/);
      expect(await state()).toBe('PendingDeletion');

      const again = await cli(['kms-retire', '--yes']);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/already done/);

      const cancel = await cli(['kms-retire', '--cancel', '--yes', '--json']);
      expect(cancel.code).toBe(0);
      expect(cancel.json<StepsJson>().steps[0]).toMatchObject({ status: 'done' });
      expect(await state()).toBe('Disabled');
      expect((await cli(['unlock', '--yes'])).code).toBe(0);
      expect(await state()).toBe('Enabled');
    });

    it('refuses a pending window KMS does not allow (exit 2)', async () => {
      const r = await cli(['kms-retire', '--pending-days', '3']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--pending-days: KMS allows 7 to 30 days/);
      expect(await state()).toBe('Enabled');
    });
  });
});
