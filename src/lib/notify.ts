// A short message to a Slack incoming webhook (the runbooks alert on Slack). Plain fetch; the
// webhook URL is a secret (its path is the credential), so it is never printed.
import { ServiceError } from './errors.js';
import { registerSecret } from './secrets.js';

export async function postSlack(webhookUrl: string, text: string, signal?: AbortSignal): Promise<void> {
  registerSecret(webhookUrl);
  let res: Response;
  try {
    res = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.any([AbortSignal.timeout(10_000), ...(signal ? [signal] : [])]),
    });
    await res.arrayBuffer().catch(() => undefined);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new ServiceError('Slack', `cannot post to SLACK_WEBHOOK_URL: ${cause}`, { hint: 'check SLACK_WEBHOOK_URL and the network', cause: err });
  }
  if (!res.ok) throw new ServiceError('Slack', `Slack answered ${res.status} to the notification`, { code: String(res.status), hint: 'the webhook may be revoked: create a new one and update SLACK_WEBHOOK_URL' });
}
