// What Heroku does with a Postgres add-on's log: each server log line becomes one Logplex
// message `<134>1 <time> host app postgres.<pid> - [DATABASE] <line>` delivered to every drain
// of the app. This forwarder tails a test cluster's log file and posts the new lines, batched,
// to the drain URLs it is given (the Heroku stand-in's drains of the app), through the Logplex
// sender: real headers, the same Frame-Id on retries.
import { open, type FileHandle } from 'node:fs/promises';
import { sendBatch, type LogplexMessage, type SendResult } from './logplex-sender.js';

export interface ForwarderOptions {
  logFile: string;
  /** The drains to post to (URL and `d.<uuid>` token), asked before each batch: a removed drain gets nothing. */
  drains: () => { url: string; token?: string }[];
  /** How often the log is read (default 100 ms). */
  intervalMs?: number;
}

export interface PgForwarder {
  /** Every batch sent, in order. */
  sent: SendResult[];
  /** Lines forwarded so far. */
  lines: number;
  stop(): Promise<void>;
}

/** `2026-12-01 11:00:00.123 UTC [4242] raptor_app@postgres LOG:  statement: …` → 4242. */
function pidOf(line: string): string {
  return /\[(\d+)\]/.exec(line)?.[1] ?? '0';
}

export async function startPgForwarder(opts: ForwarderOptions): Promise<PgForwarder> {
  const fh: FileHandle = await open(opts.logFile, 'r');
  // Start at the end: only what the server logs from now on is forwarded.
  let offset = (await fh.stat()).size;
  let carry = '';
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const state: PgForwarder = {
    sent: [],
    lines: 0,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await fh.close();
    },
  };

  async function tick(): Promise<void> {
    const { size } = await fh.stat();
    if (size <= offset) return;
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    offset += bytesRead;
    const text = carry + buf.subarray(0, bytesRead).toString('utf8');
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    const msgs: LogplexMessage[] = parts
      .filter((l) => l.trim() !== '')
      .map((line) => ({ time: new Date(), appName: 'app', procid: `postgres.${pidOf(line)}`, pri: 134, text: `[DATABASE] ${line}` }));
    if (msgs.length === 0 || stopped) return;
    state.lines += msgs.length;
    for (const d of opts.drains()) state.sent.push(await sendBatch(d.url, msgs, { retries: 2, retryDelayMs: 100, ...(d.token ? { drainToken: d.token } : {}) }));
  }

  const timer = setInterval(() => {
    running = running.then(tick).catch(() => undefined);
  }, opts.intervalMs ?? 100);
  return state;
}
