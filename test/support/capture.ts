// Captures what reaches the process's own stdout and stderr while `fn` runs: writes to
// process.stdout/stderr and console.* (a library that bypasses the CLI's output, such as the
// `debug` package or the AWS SDK's console.warn, shows up here).
export async function captureProcessOutput<T>(fn: () => Promise<T>): Promise<{ result: T; text: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m]);
  const grab = ((chunk: string | Uint8Array) => (chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stdout.write;
  process.stdout.write = grab;
  process.stderr.write = grab;
  for (const m of methods) console[m] = (...args: unknown[]) => void chunks.push(args.map(String).join(' ') + '\n');
  try {
    const result = await fn();
    return { result, text: chunks.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    methods.forEach((m, i) => (console[m] = saved[i]!));
  }
}
