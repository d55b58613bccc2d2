// One log line as a --json record: where it came from, and its syslog fields as the
// receiver's Logplex parser reads them (null when the line is not a Logplex frame).
import { parseFrameLine } from '@raxx/log-format/logplex';
import type { LogObject } from '../../lib/logs/store.js';

export interface LogRecord {
  app: string;
  key: string;
  /** The object's time (from its key), ISO. */
  time: string;
  timestamp: string | null;
  /** Syslog APP-NAME: `app` for dyno output, `heroku` for platform lines. */
  source: string | null;
  /** Syslog PROCID: `web.1`, `router`, `postgres.1234`. */
  dyno: string | null;
  message: string | null;
  line: string;
}

export function logRecord(obj: LogObject, line: string): LogRecord {
  const m = parseFrameLine(line);
  return {
    app: obj.app,
    key: obj.key,
    time: new Date(obj.time).toISOString(),
    timestamp: m?.timestamp ?? null,
    source: m?.appName ?? null,
    dyno: m?.procId ?? null,
    message: m?.message ?? null,
    line,
  };
}
