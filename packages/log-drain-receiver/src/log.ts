// One JSON line per request, through console at the entry's level (CloudWatch Logs in Lambda,
// which tags each line with it). The `msg` of a failure holds the phrases the runbooks grep
// for: `drain auth failed`, `drain write failed`, `drain misconfigured`.
// Entries are built from chosen fields only: no token, query string or body ever gets here.
import type { ParseStatus } from './batch.js';

export type LogLevel = 'info' | 'warn' | 'error';

/** Where a log line goes; tests pass a collector. */
export type LogSink = (line: string, level: LogLevel) => void;

export const consoleSink: LogSink = (line, level) => {
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
};

export type Outcome = 'stored' | 'duplicate' | 'empty' | 'auth-failed' | 'write-failed' | 'method-not-allowed' | 'bad-event' | 'misconfigured';

export interface RequestLog {
  level: LogLevel;
  msg: string;
  outcome: Outcome;
  status: number;
  requestId?: string | undefined;
  app?: string | undefined;
  key?: string | undefined;
  /** Body bytes as received (before gzip). */
  bytes?: number | undefined;
  /** Messages parsed from the body. */
  messages?: number | undefined;
  /** Logplex-Msg-Count, when sent. */
  msgCount?: number | undefined;
  parseStatus?: ParseStatus | undefined;
  frameId?: string | undefined;
  ms?: number | undefined;
}

export function writeLog(sink: LogSink, entry: RequestLog): void {
  sink(JSON.stringify(entry), entry.level);
}
