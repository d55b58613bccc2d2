// What an audit check is: the runbook's failure modes, a check's outcome and result, and the
// one way checks query Postgres (errors mapped to typed ones).
import type { Client } from 'pg';
import { postgresError } from '../postgres/connect.js';

/** The runbook's failure modes, and the links it leaves unlettered. */
export const AUDIT_FAILURES = {
  A: 'drain missing: the API app has no drain to the receiver, so no Postgres line reaches S3',
  B: "role setting missing: the role's sessions do not log their DML (log_statement is not 'mod')",
  C: 'history trigger missing or disabled: changes are not captured in the *_history tables',
  'append-only': 'append-only broken: raptor_app may rewrite or erase history',
  tracer: 'raptor_app cannot write customer_audit_events, or its credential is not raptor_app',
  delivery: "the tracer's statement line did not reach the drain bucket",
  capture: 'a users change was not captured in users_history as INSERT',
  migration: 'migration 0051 is not applied',
} as const;
export type AuditFailure = keyof typeof AUDIT_FAILURES;

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export interface CheckResult {
  id: number;
  name: string;
  status: CheckStatus;
  ms: number;
  detail: string;
  mode?: AuditFailure;
  failure?: string;
  fix?: string;
}

/** What a check body returns; the runner adds id, name and timing. */
export type Outcome = { status: CheckStatus; detail: string; mode?: AuditFailure; fix?: string };

export const pass = (detail: string): Outcome => ({ status: 'pass', detail });
export const fail = (mode: AuditFailure, detail: string, fix: string): Outcome => ({ status: 'fail', mode, detail, fix });
export const skipped = (detail: string): Outcome => ({ status: 'skipped', detail });

export async function query<R extends object>(client: Client, sql: string, params: unknown[] = [], action = 'run the audit query'): Promise<R[]> {
  try {
    return (await client.query<R>(sql, params)).rows;
  } catch (err) {
    throw postgresError(err, action);
  }
}
