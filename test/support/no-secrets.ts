// The check every command test makes after a run that handled a secret.
import { expect } from 'vitest';

/** None of `secrets` appears in the run's stdout or stderr (empty strings are skipped). */
export function expectNoSecretsIn(r: { stdout: string; stderr: string }, secrets: Iterable<string>): void {
  for (const s of secrets) {
    if (s === '') continue;
    expect(r.stdout, 'stdout leaks a secret').not.toContain(s);
    expect(r.stderr, 'stderr leaks a secret').not.toContain(s);
  }
}
