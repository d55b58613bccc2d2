// The phrases the receiver's log lines start with (the `msg` field), one per reason a request
// was not simply stored. Operators and `raxx-ops doctor` search the function's log group for
// them, so they are exported from here and never spelled out anywhere else.

/** 403: no token, or not DRAIN_TOKEN / DRAIN_TOKEN_PREVIOUS. `drain auth failed: token_present=<bool>`. */
export const DRAIN_AUTH_FAILED = 'drain auth failed';
/** 500: S3 refused or did not answer; Logplex retries. `drain write failed: <code>`. */
export const DRAIN_WRITE_FAILED = 'drain write failed';
/** 500: the environment is broken. `drain misconfigured: <variable> <problem>`. */
export const DRAIN_MISCONFIGURED = 'drain misconfigured';
/** 200, stored on its receipt day and flagged: a frame time far from the time of receipt. */
export const DRAIN_CLOCK_SKEW = 'drain clock skew';
/** 413: over the Function URL's 6 MB event payload (logged by the local server only; in AWS the URL refuses it before the function runs). */
export const DRAIN_TOO_LARGE = 'drain batch too large';
/** 400 / 405: not a Function URL event, not a POST (never sent by Logplex). */
export const DRAIN_REJECTED = 'drain request rejected';
/** 200: `?app=` or the frames named the catch-all folder, or an invalid name; stored under it, flagged. */
export const DRAIN_APP_REFUSED = 'drain app refused';
/** A retry's earlier copy could not be looked for (HeadObject refused): stored, maybe twice. */
export const DRAIN_DEDUP_UNCHECKED = 'drain dedup unchecked';
/** 500 from the local server when the handler itself threw. */
export const DRAIN_INTERNAL_ERROR = 'drain internal error';

/** Every phrase, for searching a log group for any of them. */
export const DRAIN_LOG_PHRASES = [
  DRAIN_AUTH_FAILED,
  DRAIN_WRITE_FAILED,
  DRAIN_MISCONFIGURED,
  DRAIN_CLOCK_SKEW,
  DRAIN_TOO_LARGE,
  DRAIN_REJECTED,
  DRAIN_APP_REFUSED,
  DRAIN_DEDUP_UNCHECKED,
  DRAIN_INTERNAL_ERROR,
] as const;

/**
 * Not the receiver's: the Lambda runtime writes it when an invocation reaches the function's
 * timeout (`Task timed out after 15.02 seconds`). Kept here with the receiver's phrases because
 * the runbook greps for it alongside them.
 */
export const LAMBDA_TASK_TIMED_OUT = 'Task timed out after';
