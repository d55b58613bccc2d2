// The deployed receiver Lambda's configuration: its environment holds the drain tokens, so
// token rotation and `receiver serve --from-lambda` both go through here.
import type { Context } from './context.js';
import { awsError } from './aws.js';
import { ConfigError } from './errors.js';
import { registerSecret } from './secrets.js';

export interface ReceiverFunctionState {
  variables: Record<string, string>;
  /** Changes whenever the configuration changes; cheap to compare. */
  revisionId: string | undefined;
  lastUpdateStatus: string | undefined;
}

export async function getReceiverFunction(ctx: Pick<Context, 'aws' | 'config'>, functionName = ctx.config.drain.functionName): Promise<ReceiverFunctionState> {
  const lambda = await ctx.aws.lambda();
  const { GetFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
  try {
    const res = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    const variables = res.Environment?.Variables ?? {};
    registerSecret(variables.DRAIN_TOKEN);
    registerSecret(variables.DRAIN_TOKEN_PREVIOUS);
    return { variables, revisionId: res.RevisionId, lastUpdateStatus: res.LastUpdateStatus };
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
 * Merge `patch` into the function's environment (null removes a variable) and wait until the
 * update is live, so that callers can rely on the new tokens being accepted.
 */
export async function updateReceiverEnvironment(
  ctx: Pick<Context, 'aws' | 'config'>,
  patch: Record<string, string | null>,
  opts: { functionName?: string; maxWaitSeconds?: number } = {},
): Promise<ReceiverFunctionState> {
  const functionName = opts.functionName ?? ctx.config.drain.functionName;
  const current = await getReceiverFunction(ctx, functionName);
  const variables: Record<string, string> = { ...current.variables };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete variables[k];
    else {
      variables[k] = v;
      if (/TOKEN/.test(k)) registerSecret(v);
    }
  }
  const lambda = await ctx.aws.lambda();
  const { UpdateFunctionConfigurationCommand, waitUntilFunctionUpdatedV2 } = await import('@aws-sdk/client-lambda');
  try {
    await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: functionName,
        Environment: { Variables: variables },
        // Refuse to overwrite a change someone made since we read it.
        ...(current.revisionId ? { RevisionId: current.revisionId } : {}),
      }),
    );
    await waitUntilFunctionUpdatedV2({ client: lambda, maxWaitTime: opts.maxWaitSeconds ?? 120, minDelay: 1, maxDelay: 5 }, { FunctionName: functionName });
  } catch (err) {
    throw awsError(err, 'Lambda', `UpdateFunctionConfiguration ${functionName}`, ctx.aws.endpointOf('LAMBDA'));
  }
  return getReceiverFunction(ctx, functionName);
}
