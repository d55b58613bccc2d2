// Captures what reaches the process's own stdout and stderr while `fn` runs: writes to
// process.stdout/stderr and console.* (a library that bypasses the CLI's output, such as the
// `debug` package or the AWS SDK's console.warn, shows up here).
import { vi } from 'vitest';

export async function captureProcessOutput<T>(fn: () => Promise<T>): Promise<{ result: T; text: string }> {
  const chunks: string[] = [];
  const grab = (chunk: string | Uint8Array) => (chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true);
  const say = (...args: unknown[]) => void chunks.push(args.map(String).join(' ') + '\n');
  // Spies put the originals back however fn ends.
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(grab),
    vi.spyOn(process.stderr, 'write').mockImplementation(grab),
    ...(['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((m) => vi.spyOn(console, m).mockImplementation(say)),
  ];
  try {
    const result = await fn();
    return { result, text: chunks.join('') };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}
