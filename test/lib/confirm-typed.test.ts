// confirmTyped on a terminal: the operator must type the expected text (the KMS alias), "y" is
// not enough; without a terminal it needs --yes (exit 5).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/lib/run/context.js';
import { ConfirmationError } from '../../src/lib/core/errors.js';

async function terminal(yes = false) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let stderr = '';
  // readline writes the question to a stream it can listen on.
  const err = Object.assign(new PassThrough(), { isTTY: true });
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const ctx = await createContext({ env: 'prod', json: false, color: false, debug: false, yes }, { stdout: { write: () => true }, stderr: err, stdin, env: {} });
  return { ctx, stdin, stderr: () => stderr };
}

describe('confirmTyped', () => {
  it('goes ahead when the alias is typed', async () => {
    const t = await terminal();
    const asked = t.ctx.confirmTyped('disable the KMS key alias/raxx-support-attachments?', 'alias/raxx-support-attachments');
    t.stdin.write('alias/raxx-support-attachments\n');
    await expect(asked).resolves.toBeUndefined();
    expect(t.stderr()).toContain('type alias/raxx-support-attachments to confirm: ');
  });

  it('refuses "y" or another alias', async () => {
    for (const answer of ['y', 'yes', 'alias/other']) {
      const t = await terminal();
      const asked = t.ctx.confirmTyped('disable?', 'alias/raxx-support-attachments');
      t.stdin.write(`${answer}\n`);
      await expect(asked).rejects.toThrow(ConfirmationError);
    }
  });

  it('--yes answers it; without a terminal and without --yes it is exit 5', async () => {
    await expect((await terminal(true)).ctx.confirmTyped('disable?', 'alias/x')).resolves.toBeUndefined();
    const ctx = await createContext({ env: 'prod', json: false, color: false, debug: false, yes: false }, { stdout: { write: () => true }, stderr: { write: () => true }, env: {} });
    const err = await ctx.confirmTyped('disable?', 'alias/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfirmationError);
    expect((err as ConfirmationError).exitCode).toBe(5);
    expect((err as ConfirmationError).hint).toMatch(/--yes/);
  });
});
