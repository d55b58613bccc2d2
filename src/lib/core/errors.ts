// Typed errors and the one table that maps them to exit codes (the README lists them).
// Commands throw; only src/cli.ts turns an error into output and an exit code.

export const ExitCode = {
  Ok: 0,
  CheckFailed: 1,
  Usage: 2,
  Config: 3,
  Service: 4,
  ConfirmationNeeded: 5,
  /** A defect in raxx-ops (sysexits' EX_SOFTWARE): a cron tells it apart from a finding (1). */
  Bug: 70,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorDetails {
  /** What the operator should do next: a command, a runbook failure mode. */
  hint?: string;
  cause?: unknown;
}

/** An error the operator can act on; printed without a stack trace. */
export abstract class UserError extends Error {
  abstract readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.hint = details.hint;
  }
}

/** Bad flags, arguments or input values (exit 2). */
export class UsageError extends UserError {
  readonly exitCode = ExitCode.Usage;
}

/** Configuration or credentials missing or invalid (exit 3). */
export class ConfigError extends UserError {
  readonly exitCode = ExitCode.Config;
}

/** AWS, Heroku or Postgres failed or refused (exit 4). */
export class ServiceError extends UserError {
  readonly exitCode = ExitCode.Service;
  readonly service: string;
  readonly code: string | undefined;
  constructor(service: string, message: string, details: ErrorDetails & { code?: string } = {}) {
    super(message, details);
    this.service = service;
    this.code = details.code;
  }
}

/**
 * A write whose answer never came (a time-out, a broken connection): it may have been made, now
 * or later. Never treated as "not done": whoever rolls back or cleans up must assume it may land.
 */
export class UnknownOutcomeError extends ServiceError {
  readonly unknownOutcome = true;
  constructor(service: string, message: string, code: string, cause: unknown, hint = 'run the command again: it looks before it changes, so it adds or removes only what is still needed') {
    super(service, message, { code, cause, hint });
  }
}

/** The error, or one in its cause chain, is a write with an unknown outcome. */
export function isUnknownOutcome(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof UnknownOutcomeError) return true;
  return false;
}

/** A change needs confirmation and there is no TTY to ask on and no --yes (exit 5). */
export class ConfirmationError extends UserError {
  readonly exitCode = ExitCode.ConfirmationNeeded;
}

/** Ctrl-C, or Ctrl-D at a confirmation (exit 130). */
export class InterruptedError extends UserError {
  readonly exitCode = ExitCode.Interrupted;
  constructor(message = 'interrupted') {
    super(message);
  }
}

/** Why an aborted run stopped: the reason given to ctx.abort() (a lost lease), else Ctrl-C. */
export function stopError(signal: AbortSignal): UserError {
  const reason: unknown = signal.reason;
  return reason instanceof UserError && !(reason instanceof InterruptedError) ? reason : new InterruptedError();
}

/**
 * A check found a problem (exit 1). The command has already printed what it found;
 * the message is a one-line summary.
 */
export class CheckFailedError extends UserError {
  readonly exitCode = ExitCode.CheckFailed;
}

/**
 * Several independent units of work (apps, say) where some failed: the exit code is the
 * most severe of theirs, and every failure is listed.
 */
export class PartialFailureError extends UserError {
  readonly exitCode: ExitCode;
  readonly failures: { subject: string; error: UserError }[];
  constructor(message: string, failures: { subject: string; error: UserError }[], details: ErrorDetails = {}) {
    super(message, details);
    this.failures = failures;
    this.exitCode = failures.reduce<ExitCode>((code, f) => (severity(f.error.exitCode) > severity(code) ? f.error.exitCode : code), ExitCode.CheckFailed);
  }
}

/**
 * What a run over `total` subjects throws when some failed. When every one of them failed with
 * the same error (a rejected token, an unreachable service: nothing about the subject itself),
 * that error is the report, once and with its own exit code, not one copy per app.
 */
export function combinedFailure(message: string, failures: { subject: string; error: UserError }[], total: number, details: ErrorDetails = {}): UserError {
  const first = failures[0]?.error;
  if (first && failures.length === total && failures.every((f) => sameError(f.error, first))) return first;
  return new PartialFailureError(message, failures, details);
}

/** Any failure as an error the operator can read (one of ours passes through as it is). */
export function asUserError(err: unknown): UserError {
  if (err instanceof UserError) return err;
  return new ServiceError('raxx-ops', (err as Error)?.message ?? String(err), { cause: err });
}

function sameError(a: UserError, b: UserError): boolean {
  return a === b || (a.constructor === b.constructor && a.message === b.message && a.hint === b.hint);
}

function severity(code: ExitCode): number {
  // Service failures outrank check results; usage and config outrank both.
  const order: ExitCode[] = [ExitCode.Ok, ExitCode.CheckFailed, ExitCode.Service, ExitCode.ConfirmationNeeded, ExitCode.Config, ExitCode.Usage, ExitCode.Bug, ExitCode.Interrupted];
  return order.indexOf(code);
}

/** The exit code's name in a `--json` error document. */
export function errorCodeName(code: ExitCode): string {
  switch (code) {
    case ExitCode.Ok:
      return 'ok';
    case ExitCode.CheckFailed:
      return 'check_failed';
    case ExitCode.Usage:
      return 'usage';
    case ExitCode.Config:
      return 'config';
    case ExitCode.Service:
      return 'service';
    case ExitCode.ConfirmationNeeded:
      return 'confirmation_needed';
    case ExitCode.Bug:
      return 'bug';
    case ExitCode.Interrupted:
      return 'interrupted';
  }
}
