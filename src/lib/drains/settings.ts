// The drain settings Terraform publishes in SSM under drain.ssmPrefix: `drain_url` (the
// receiver's Function URL with `?token=`) and `drain_token`, both SecureString. The drain
// commands read them decrypted and `drains rotate` writes them back.
import type { Context } from '../run/context.js';
import { awsError } from '../aws/clients.js';
import { ssmNames } from '../core/config.js';
import { awsSend } from '../aws/call.js';
import { ConfigError } from '../core/errors.js';
import { branch } from '../core/abort.js';
import { registerSecret } from '../core/secrets.js';
import { tokenOfUrl } from './plan.js';

export interface DrainSettings {
  /** The receiver endpoint with its token, as every app's drain uses it (before `app=`). */
  url: string;
  token: string;
}

type Ctx = Pick<Context, 'aws' | 'config' | 'signal'>;

/** Reads one or both parameters in one GetParameters call; a missing one is exit 3 naming it. */
async function readParameters(ctx: Ctx, names: string[]): Promise<Map<string, string>> {
  const ssm = await ctx.aws.ssm();
  const { GetParametersCommand } = await import('@aws-sdk/client-ssm');
  let res;
  try {
    res = await ssm.send(new GetParametersCommand({ Names: names, WithDecryption: true }), { abortSignal: branch(ctx.signal) });
  } catch (err) {
    throw awsError(err, 'SSM', `GetParameters ${names.join(' ')}`, ctx.aws.endpointOf('SSM'));
  }
  const values = new Map<string, string>();
  for (const p of res.Parameters ?? []) {
    if (p.Name && typeof p.Value === 'string') {
      registerSecret(p.Value);
      values.set(p.Name, p.Value);
    }
  }
  const missing = names.filter((n) => !values.get(n));
  if (missing.length > 0) {
    throw new ConfigError(`SSM parameter ${missing.join(' and ')} not found in ${ctx.config.region}`, {
      hint: `the drain's Terraform creates it; check --region, --profile and drain.ssmPrefix (\`raxx-ops config show\`), or create it with \`aws ssm put-parameter --type SecureString --name ${missing[0]} …\``,
    });
  }
  return values;
}

/** The drain URL (decrypted); what list, wire, remove and test need. */
export async function readDrainUrl(ctx: Ctx): Promise<string> {
  return (await read(ctx, false)).url;
}

/** The drain URL and drain_token, in one call: what rotate reads and writes back. */
export async function readDrainSettings(ctx: Ctx): Promise<DrainSettings> {
  const { url, token } = await read(ctx, true);
  return { url, token: token! };
}

/**
 * The URL's token is registered as a secret on its own: the whole value already is, but the
 * drains carry it with `app=` added, which the whole value no longer matches.
 */
async function read(ctx: Ctx, withToken: boolean): Promise<{ url: string; token: string | undefined }> {
  const names = ssmNames(ctx.config);
  const values = await readParameters(ctx, withToken ? [names.drainUrl, names.drainToken] : [names.drainUrl]);
  const url = values.get(names.drainUrl)!;
  checkDrainUrl(url, names.drainUrl);
  registerSecret(tokenOfUrl(url));
  return { url, token: values.get(names.drainToken) };
}

/**
 * Writes drain_url first, then drain_token: the URL is what `drains wire` registers, so it is
 * the one that matters; the token parameter mirrors it for whoever reads it separately.
 */
export async function writeDrainSettings(ctx: Ctx, settings: DrainSettings): Promise<void> {
  registerSecret(settings.token);
  const names = ssmNames(ctx.config);
  const ssm = await ctx.aws.ssm();
  const { DescribeParametersCommand, PutParameterCommand } = await import('@aws-sdk/client-ssm');
  // An overwrite without KeyId re-encrypts under aws/ssm: keep the key Terraform chose.
  let keyIds: Map<string, string | undefined>;
  try {
    const res = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [names.drainUrl, names.drainToken] }] }), { abortSignal: branch(ctx.signal) });
    keyIds = new Map((res.Parameters ?? []).map((p) => [p.Name ?? '', p.KeyId]));
  } catch (err) {
    throw awsError(err, 'SSM', `DescribeParameters ${names.drainUrl}`, ctx.aws.endpointOf('SSM'));
  }
  for (const [name, value] of [
    [names.drainUrl, settings.url],
    [names.drainToken, settings.token],
  ] as const) {
    const keyId = keyIds.get(name);
    // With the run's signal: stopped midway, the value may have been written (an unknown outcome).
    await awsSend(ssm, new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true, ...(keyId ? { KeyId: keyId } : {}) }), { signal: ctx.signal, endpoint: ctx.aws.endpointOf('SSM') });
  }
}

function checkDrainUrl(url: string, name: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`SSM parameter ${name} is not a URL`, { hint: 'it should hold the receiver Function URL with ?token=…' });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new ConfigError(`SSM parameter ${name} is not an http(s) URL`, { hint: 'it should hold the receiver Function URL with ?token=…' });
  }
}
