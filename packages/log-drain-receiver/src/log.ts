// One JSON line per request, through console at the entry's level (CloudWatch Logs in Lambda,
// which tags each line with it). Every answer other than a plain store has a `msg` that starts
// with one of the phrases of log-phrases.ts (`drain auth failed`, `drain write failed`,
// `drain clock skew` …) and says why.
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

export type Outcome = 'stored' | 'duplicate' | 'empty' | 'auth-failed' | 'write-failed' | 'method-not-allowed' | 'bad-event' | 'misconfigured' | 'too-large' | 'internal-error';

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
  /** The key's flags (clock-skew, malformed, count-mismatch). */
  flags?: string[] | undefined;
  /** How the app was decided, when it was not plainly `?app=`. */
  appSource?: string | undefined;
  ms?: number | undefined;
}

export function writeLog(sink: LogSink, entry: RequestLog): void {
  sink(JSON.stringify(entry), entry.level);
}
