// The one way raxx-ops calls AWS: every request carries the run's abort signal (Ctrl-C never
// waits out three 30 s attempts), on a branch of it so hundreds in flight add no listener to
// the run's signal, and every failure goes through one table to a typed error with its exit
// code and a hint. The lean S3 path (s3-get.ts) has its own wire but maps errors here too.
import type { Command, MetadataBearer } from '@smithy/types';
import { branch } from '../core/abort.js';
import { ConfigError, InterruptedError, UnknownOutcomeError, UserError } from '../core/errors.js';
import { awsError } from './clients.js';

/** What a call is about, so a "does not exist" names it and the setting that chose it. */
export interface AwsResource {
  /** e.g. 'bucket', 'KMS key', 'function', 'SSM parameter'. */
  kind: string;
  name: string;
  /** The configuration value that named it (`drain.bucket`), for the hint. */
  setting?: string | undefined;
}

export interface AwsCallSite {
  signal: AbortSignal;
  /** Where the service is (ctx.aws.endpointOf), for "cannot reach … at …". */
  endpoint?: string | undefined;
  resource?: AwsResource | undefined;
  /** What the error names as the action, when more than the command's name helps (`PutObject s3://b/k`). */
  action?: string | undefined;
}

interface Rule {
  /** The service as the SDK names it (client.config.serviceId) or as the caller does; '*' for any. */
  service: string;
  /** The SDK error's name. */
  error: string;
  /** The resource kind the rule applies to; any when absent. */
  kind?: string;
  make(r: AwsResource, service: string, action: string): UserError;
}

/** "check drain.bucket (`raxx-ops config show`), --env and --region" */
function checkSetting(r: AwsResource, what: string): string {
  return `check ${r.setting ?? what} (\`raxx-ops config show\`), --env and --region`;
}

/**
 * A resource the configuration names and AWS does not have is a configuration problem (exit
 * 3, as a missing SSM parameter is): the fix is in the config, --env or --region, and retrying
 * does not help. Everything not in this table goes to awsError: credentials (3), throttling,
 * refusals, outages and the network (4), Ctrl-C (130).
 */
export const AWS_ERROR_TABLE: readonly Rule[] = [
  { service: 'S3', error: 'NoSuchBucket', make: (r) => new ConfigError(`bucket ${r.name} does not exist (or is in another region)`, { hint: checkSetting(r, 'the bucket name') }) },
  { service: 'KMS', error: 'NotFoundException', make: (r) => new ConfigError(`KMS key ${r.name} does not exist in this account and region`, { hint: checkSetting(r, 'the key alias') }) },
  { service: 'Lambda', error: 'ResourceNotFoundException', make: (r) => new ConfigError(`${r.kind} ${r.name} does not exist`, { hint: checkSetting(r, 'the function name') }) },
  { service: 'SSM', error: 'ParameterNotFound', make: (r) => new ConfigError(`SSM parameter ${r.name} does not exist`, { hint: checkSetting(r, 'the SSM prefix') }) },
];

/** The typed error for an AWS failure: the table when it names the error and a resource was given, else awsError. */
export function awsFailure(err: unknown, service: string, action: string, at: Omit<AwsCallSite, 'signal'> & { signal?: AbortSignal } = {}): Error {
  const name = (err as { name?: string } | undefined)?.name;
  if (at.resource && name) {
    const rule = AWS_ERROR_TABLE.find((r) => (r.service === service || r.service === '*') && r.error === name && (!r.kind || r.kind === at.resource!.kind));
    if (rule) {
      const e = rule.make(at.resource, service, action);
      return Object.assign(e, { cause: err });
    }
  }
  return awsError(err, service, action, at.endpoint);
}

/** SDK actions that change something (PutParameter, CreateAccessKey, UpdateFunctionConfiguration, …). */
export const WRITE_ACTION = /^(Put|Delete|Create|Update|Copy|Schedule|Cancel|Start|Stop|Enable|Disable|Tag|Untag|Restore|Complete|Abort|Upload|Attach|Detach|Send|Invoke)/;

/** The request handler's time-outs: the request was sent and its answer did not come. */
const TIMED_OUT = new Set(['TimeoutError', 'ETIMEDOUT', 'RequestTimeout']);

/**
 * A write that got no answer may still land: one stopped by Ctrl-C after it was sent, or one
 * that timed out. The caller (and the step runner's rollback) must then treat it as maybe
 * done. Ctrl-C stays the error (exit 130), with the unknown outcome as its cause. A connection
 * that failed (refused, reset after the SDK's retries) stays a plain failure, as before.
 */
function unanswered(err: unknown, mapped: Error, service: string, action: string): Error {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (e.$metadata?.httpStatusCode !== undefined) return mapped;
  if (mapped instanceof InterruptedError) {
    const maybe = new UnknownOutcomeError(service, `${service} ${action} was stopped before its answer came; it may have been made`, 'AbortError', err);
    return Object.assign(new InterruptedError(), { cause: maybe });
  }
  const code = e.code ?? e.name ?? '';
  if (TIMED_OUT.has(code)) return new UnknownOutcomeError(service, `${service} ${action} got no answer in time (${code}); it may have been made`, code, err);
  return mapped;
}

/** The SDK's own error behind an awsSend failure (its cause chain's first that is not ours). */
export function sdkCause(err: unknown): { name?: string; $metadata?: { httpStatusCode?: number } } & Error {
  let e = err;
  for (let depth = 0; e instanceof UserError && e.cause !== undefined && depth < 8; depth++) e = e.cause;
  return e as { name?: string } & Error;
}

type AnyClient = { config?: { serviceId?: string }; send(command: never, options?: { abortSignal?: AbortSignal }): Promise<unknown> };

/**
 * `client.send(command)` with the run's signal, its failure mapped through the table. The
 * action is the command's name (GetObjectCommand → GetObject); a write with no answer is an
 * unknown outcome (see `unanswered`).
 */
export async function awsSend<I extends object, O extends MetadataBearer>(client: AnyClient, command: Command<object, I, MetadataBearer, O, never>, at: AwsCallSite): Promise<O> {
  const service = client.config?.serviceId ?? 'AWS';
  const action = command.constructor.name.replace(/Command$/, '');
  try {
    return (await client.send(command as never, { abortSignal: branch(at.signal) })) as O;
  } catch (err) {
    const mapped = awsFailure(err, service, at.action ?? action, at);
    throw WRITE_ACTION.test(action) ? unanswered(err, mapped, service, at.action ?? action) : mapped;
  }
}
