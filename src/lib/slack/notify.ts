// Slack notifications through an incoming webhook (SLACK_WEBHOOK_URL): the log-shipping
// runbook's "notify when shipping fails" and the status summary. The webhook URL is a secret
// (its path is the credential), so it is registered for redaction and never printed.
import { ConfigError, ServiceError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { redact, registerSecret } from '../core/secrets.js';

export const WEBHOOK_ENV = 'SLACK_WEBHOOK_URL';

export function webhookUrl(env: NodeJS.ProcessEnv): string | undefined {
  const url = env[WEBHOOK_ENV]?.trim();
  if (!url) return undefined;
  registerSecret(url);
  return url;
}

/** For --notify: the webhook must be there before any work is done. */
export function requireWebhook(env: NodeJS.ProcessEnv): string {
  const url = webhookUrl(env);
  if (!url) throw new ConfigError(`--notify needs ${WEBHOOK_ENV}`, { hint: `export ${WEBHOOK_ENV}=<the Slack incoming webhook URL>, or leave out --notify` });
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${WEBHOOK_ENV} is not a URL`, { hint: 'set it to the incoming webhook URL Slack gave (https://hooks.slack.com/services/…)' });
  }
  return url;
}

/**
 * Posts one message. A notification that cannot be delivered is a warning, never the
 * command's failure: the exit code still says what the command found.
 */
export async function notify(url: string, text: string, out: Output, signal?: AbortSignal, env: Record<string, string | undefined> = process.env): Promise<boolean> {
  try {
    await postSlack(url, text, signal, env);
    out.debug('Slack notification sent');
    return true;
  } catch (err) {
    out.warn((err as Error).message);
    return false;
  }
}

/** Posts one message; a ServiceError when Slack does not take it. */
export async function postSlack(webhookUrl: string, text: string, signal?: AbortSignal, env: Record<string, string | undefined> = process.env): Promise<void> {
  registerSecret(webhookUrl);
  let res: Response;
  try {
    // HTTPS_PROXY / NO_PROXY as for every outside call (proxy.ts).
    const { proxiedFetch } = await import('../core/proxy.js');
    res = await (await proxiedFetch(env))(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Whatever a caller put in the message, no secret leaves in it.
      body: JSON.stringify({ text: redact(text) }),
      signal: AbortSignal.any([AbortSignal.timeout(10_000), ...(signal ? [signal] : [])]),
    });
    await res.arrayBuffer().catch(() => undefined);
  } catch (err) {
    const name = (err as Error).name;
    const cause = name === 'TimeoutError' ? 'timed out after 10 s' : ((err as { cause?: { code?: string } }).cause?.code ?? name);
    throw new ServiceError('Slack', `cannot post to ${WEBHOOK_ENV}: ${cause}`, { hint: `check ${WEBHOOK_ENV} and the network`, cause: err });
  }
  if (!res.ok) throw new ServiceError('Slack', `Slack answered ${res.status} to the notification`, { code: String(res.status), hint: `the webhook may be revoked: create a new one and update ${WEBHOOK_ENV}` });
}
