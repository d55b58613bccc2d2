// The deployed receiver Lambda's configuration: its environment holds the drain tokens, so
// token rotation and `receiver serve --from-lambda` both go through here.
import type { Context } from '../run/context.js';
import { awsError } from '../aws/clients.js';
import { awsSend, sdkCause } from '../aws/call.js';
import { ConfigError, InterruptedError, ServiceError } from '../core/errors.js';
import { branch } from '../core/abort.js';
import { registerSecret } from '../core/secrets.js';

export interface ReceiverFunctionState {
  variables: Record<string, string>;
  /** Changes whenever the configuration changes; cheap to compare. */
  revisionId: string | undefined;
}

type Ctx = Pick<Context, 'aws' | 'config' | 'signal'>;

/**
 * The receiver's Function URL, from Lambda itself: what recognises receiver drains when SSM
 * cannot be read (the emergency stop). Undefined when the function has no URL or Lambda
 * cannot say.
 */
export async function receiverFunctionUrl(ctx: Ctx, functionName = ctx.config.drain.functionName): Promise<string | undefined> {
  const lambda = await ctx.aws.lambda();
  const { GetFunctionUrlConfigCommand } = await import('@aws-sdk/client-lambda');
  try {
    return (await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName }), { abortSignal: branch(ctx.signal) })).FunctionUrl;
  } catch {
    return undefined;
  }
}

/** How long an environment update may take to become live. */
const MAX_WAIT_SECONDS = 120;

export async function getReceiverFunction(ctx: Ctx, functionName = ctx.config.drain.functionName): Promise<ReceiverFunctionState> {
  const lambda = await ctx.aws.lambda();
  const { GetFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
  try {
    const res = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }), { abortSignal: branch(ctx.signal) });
    const variables = res.Environment?.Variables ?? {};
    registerSecret(variables.DRAIN_TOKEN);
    registerSecret(variables.DRAIN_TOKEN_PREVIOUS);
    return { variables, revisionId: res.RevisionId };
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') {
      throw new ConfigError(`the receiver function ${functionName} does not exist in ${ctx.config.region}`, {
        hint: 'check --region and the drain.functionName setting (`raxx-ops config show`)',
        cause: err,
      });
    }
    throw awsError(err, 'Lambda', `GetFunctionConfiguration ${functionName}`, ctx.aws.endpointOf('LAMBDA'));
  }
}

/**
 * Merges `patch` into the receiver function's environment (null removes a variable) and
 * waits until the update is live, so that callers can rely on the new tokens being accepted.
 * Resolves to false, having written nothing, when the environment already is what the patch
 * asks for. `base` is a state the caller read and decided on: the update is refused (its
 * RevisionId) if the function changed since, instead of merging over that change.
 */
export async function updateReceiverEnvironment(ctx: Ctx, patch: Record<string, string | null>, base?: ReceiverFunctionState): Promise<boolean> {
  const functionName = ctx.config.drain.functionName;
  const current = base ?? (await getReceiverFunction(ctx, functionName));
  const variables: Record<string, string> = { ...current.variables };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete variables[k];
    else {
      variables[k] = v;
      if (/TOKEN/.test(k)) registerSecret(v);
    }
  }
  if (Object.entries(patch).every(([k, v]) => current.variables[k] === (v ?? undefined))) return false;

  const lambda = await ctx.aws.lambda();
  const { UpdateFunctionConfigurationCommand, waitUntilFunctionUpdatedV2 } = await import('@aws-sdk/client-lambda');
  try {
    // With the run's signal: stopped midway, the update may have landed (an unknown outcome).
    await awsSend(
      lambda,
      new UpdateFunctionConfigurationCommand({
        FunctionName: functionName,
        Environment: { Variables: variables },
        // Refuse to overwrite a change someone made since we read it.
        ...(current.revisionId ? { RevisionId: current.revisionId } : {}),
      }),
      { signal: ctx.signal, endpoint: ctx.aws.endpointOf('LAMBDA'), resource: { kind: 'function', name: functionName, setting: 'drain.functionName' } },
    );
  } catch (err) {
    const name = sdkCause(err).name;
    // The SDK retries an update whose answer was lost; when the first attempt landed, the retry
    // meets its new RevisionId (412). Ours if the function holds exactly what we sent.
    if (name === 'PreconditionFailedException' && current.revisionId && (await holdsExactly(ctx, functionName, variables))) {
      // fall through to the wait: the update is ours
    } else if (name === 'PreconditionFailedException' || name === 'ResourceConflictException') {
      throw new ServiceError('Lambda', `${functionName} was changed by someone else while this run updated it (${name}); nothing was written`, {
        code: name,
        hint: 'wait until the other change (a deploy, another raxx-ops run) has finished, then run the command again',
        cause: err,
      });
    } else {
      throw err;
    }
  }
  try {
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: MAX_WAIT_SECONDS, minDelay: 1, maxDelay: 5, abortSignal: branch(ctx.signal) }, { FunctionName: functionName });
  } catch (err) {
    // The update itself was answered: Ctrl-C while it becomes live is a plain stop.
    if (ctx.signal.aborted) throw new InterruptedError();
    // The waiter's own message is the whole function configuration as JSON, environment
    // included: say what happened instead, and keep it only as the cause (--debug).
    const timedOut = (err as { name?: string }).name === 'TimeoutError';
    throw new ServiceError('Lambda', `the environment update of ${functionName} did not become live${timedOut ? ` within ${MAX_WAIT_SECONDS} s` : ': the function reports the update failed'}`, {
      code: timedOut ? 'TimeoutError' : 'UpdateFailed',
      hint: `see LastUpdateStatusReason in \`aws lambda get-function-configuration --function-name ${functionName}\`, then run the command again`,
      cause: err,
    });
  }
  return true;
}

/** The function's environment is exactly `variables` now (a read that fails says no). */
async function holdsExactly(ctx: Ctx, functionName: string, variables: Record<string, string>): Promise<boolean> {
  const now = await getReceiverFunction(ctx, functionName).catch(() => undefined);
  if (!now) return false;
  const keys = new Set([...Object.keys(now.variables), ...Object.keys(variables)]);
  return [...keys].every((k) => now.variables[k] === variables[k]);
}

/**
 * Whether the function is still in the state `expected` (what this run read or left): the same
 * RevisionId where Lambda gives one, and the same tokens either way (an emulator may not track
 * revisions, and the tokens are what matter to the drains).
 */
export function unchangedSince(expected: ReceiverFunctionState, now: ReceiverFunctionState): boolean {
  if (expected.revisionId && now.revisionId && expected.revisionId !== now.revisionId) return false;
  return expected.variables.DRAIN_TOKEN === now.variables.DRAIN_TOKEN && expected.variables.DRAIN_TOKEN_PREVIOUS === now.variables.DRAIN_TOKEN_PREVIOUS;
}

/** The function changed under this run: stop, write nothing, say so (exit 4). */
export function changedBySomeoneElse(ctx: Pick<Context, 'config'>, what: string): ServiceError {
  const functionName = ctx.config.drain.functionName;
  return new ServiceError('Lambda', `${functionName} was changed by someone else since this run ${what}; nothing was written, so that change stays`, {
    code: 'PreconditionFailedException',
    hint: `another operator or a deploy changed the function: see \`raxx-ops drains list\` and \`raxx-ops drains test\`, wait for the other run to finish, then run the command again`,
  });
}
