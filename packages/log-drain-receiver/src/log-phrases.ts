// The phrases the receiver's failure lines start with: the runbooks grep for them, and
// `raxx-ops doctor` counts them in the function's log group, so both sides share one spelling.
export const AUTH_FAILED = 'drain auth failed';
export const WRITE_FAILED = 'drain write failed';
export const CLOCK_SKEW = 'drain clock skew';
/** Written by the Lambda runtime, not the receiver, when an invocation hits its timeout. */
export const TASK_TIMED_OUT = 'Task timed out after';
