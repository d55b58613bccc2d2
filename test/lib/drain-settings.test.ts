// The SSM drain settings in moto: a rotation's write keeps the KMS key the parameters were
// created with (an overwrite without KeyId would move them to aws/ssm).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/core/config.js';
import { readDrainSettings, writeDrainSettings } from '../../src/lib/drains/settings.js';
import { motoAvailable } from '../support/moto.js';
import { useMoto } from '../support/fixtures.js';

describe.runIf(motoAvailable)('drain settings in SSM', () => {
  const moto = useMoto();
  const { aws } = moto;

  it('writes the new values under the same KMS key', async () => {
    const { KMSClient, CreateKeyCommand } = await import('@aws-sdk/client-kms');
    const kms = new KMSClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const keyId = (await kms.send(new CreateKeyCommand({ Description: 'drain parameters' }))).KeyMetadata!.KeyId!;
    kms.destroy();
    const ssm = await aws.ssm();
    const { PutParameterCommand, DescribeParametersCommand } = await import('@aws-sdk/client-ssm');
    await ssm.send(new PutParameterCommand({ Name: '/raxx/log-drain/drain_url', Value: 'https://r.test/?token=old-token-123456', Type: 'SecureString', KeyId: keyId }));
    await ssm.send(new PutParameterCommand({ Name: '/raxx/log-drain/drain_token', Value: 'old-token-123456', Type: 'SecureString', KeyId: keyId }));

    // moto keeps the key on an overwrite without KeyId; AWS moves the parameter to aws/ssm.
    // So the request itself must name the key.
    const puts: { Name?: string; KeyId?: string }[] = [];
    ssm.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutParameterCommand') puts.push(args.input as { Name?: string; KeyId?: string });
        return next(args);
      },
      { step: 'initialize', name: 'recordPuts' },
    );
    const config = await loadConfig({ env: 'prod', processEnv: {} });
    const ctx = { aws, config, signal: new AbortController().signal };
    await writeDrainSettings(ctx, { url: 'https://r.test/?token=new-token-654321', token: 'new-token-654321' });

    expect(puts.map((p) => [p.Name, p.KeyId])).toEqual([
      ['/raxx/log-drain/drain_url', keyId],
      ['/raxx/log-drain/drain_token', keyId],
    ]);
    expect(await readDrainSettings(ctx)).toEqual({ url: 'https://r.test/?token=new-token-654321', token: 'new-token-654321' });
    const described = await ssm.send(new DescribeParametersCommand({}));
    expect(described.Parameters?.map((p) => [p.Name, p.KeyId]).sort()).toEqual([
      ['/raxx/log-drain/drain_token', keyId],
      ['/raxx/log-drain/drain_url', keyId],
    ]);
  });
});
