// A defect in raxx-ops (anything that is not a typed error) says so, exits 70 (1 is a check's finding), and shows the
// stack only under --debug; it is never dressed up as an outside service failing (4).
import { describe, expect, it, vi } from 'vitest';
import { runCli } from './support/run-cli.js';

vi.mock('../src/commands/config/show.js', async () => {
  const { createCommand } = await import('../src/commands/define.js');
  return {
    default: createCommand({
      description: 'a command with a defect',
      examples: [['raxx-ops config show', 'fails']],
      handler() {
        const settings = undefined as unknown as { drain: { bucket: string } };
        return settings.drain.bucket.length;
      },
    }),
  };
});

describe('a bug', () => {
  it('says it is a bug, exit 70, no stack without --debug', async () => {
    const r = await runCli(['config', 'show']);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/^error: unexpected error \(this is a bug in raxx-ops\): Cannot read properties of undefined/);
    expect(r.stderr).toMatch(/\nhint: rerun with --debug for the stack trace, and report it\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('with --debug, prints the stack', async () => {
    const r = await runCli(['--debug', 'config', 'show']);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/debug: TypeError: Cannot read properties of undefined[\s\S]*\n\s+at /);
  });

  it('with --json, prints the error document', async () => {
    const r = await runCli(['--json', 'config', 'show']);
    expect(r.code).toBe(70);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
    expect(r.json<{ error: { code: string; message: string } }>().error).toMatchObject({ code: 'bug', message: expect.stringMatching(/this is a bug/) });
  });
});
