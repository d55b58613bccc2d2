// The type-aware lint rules are live: the project's own ESLint config, through ESLint's Node
// API, reports a floating promise and a misused one in every TypeScript root it lints.
// Switching either rule off, for all files or for one root, fails here.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { root } from './support/pty.js';
import { tempDir } from './support/temp.js';

const FIXTURE = `export async function save(): Promise<void> {}

export function floating(): void {
  save();
}

export function misused(on: (event: string, listener: () => void) => void): void {
  on('data', async () => {
    await save();
  });
}

export function checked(): boolean {
  return save() ? true : false;
}

export async function clean(on: (event: string, listener: () => void) => void): Promise<void> {
  await save();
  void save();
  on('data', () => void save());
}
`;

/** Where the fixture goes: the repository's TypeScript roots, by their paths in it. */
const ROOTS = ['src/lib', 'src/commands', 'packages/log-drain-receiver/src', 'packages/log-format/src', 'test', 'test/support', 'scripts'];

/**
 * The fixture at each root's path in a small TypeScript project of its own: the config's
 * globs match as they do in the repository, and type information comes from a program of
 * seven files instead of the whole repository's (seconds instead of a minute of CPU).
 */
function fixtureProject(): string {
  const dir = tempDir('raxx-ops-lint-');
  const compilerOptions = { target: 'ES2022', lib: ['ES2023'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [], noEmit: true };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ROOTS }));
  for (const r of ROOTS) {
    const file = join(dir, r, 'lint-live-fixture.ts');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, FIXTURE);
  }
  return dir;
}

describe('lint', () => {
  it('reports a floating promise and a misused one as errors, in every TypeScript root', async () => {
    const dir = fixtureProject();
    const eslint = new ESLint({ cwd: dir, overrideConfigFile: join(root, 'eslint.config.js') });
    const results = await eslint.lintFiles(ROOTS.map((r) => `${r}/lint-live-fixture.ts`));
    const found = Object.fromEntries(results.map((res) => [res.filePath.slice(dir.length + 1), res.messages.map((m) => `${m.line} ${m.ruleId ?? m.message} ${m.severity}`)]));
    const expected = ['4 @typescript-eslint/no-floating-promises 2', '8 @typescript-eslint/no-misused-promises 2', '14 @typescript-eslint/no-misused-promises 2'];
    expect(found).toEqual(Object.fromEntries(ROOTS.map((r) => [`${r}/lint-live-fixture.ts`, expected])));
  });
});
