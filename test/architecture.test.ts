// The house rules of docs/architecture.md, checked over the source instead of trusted: rooms
// import only what their README allows, lib never imports commands, the log format has one
// home, src/lib holds folders only, and no source file grows past 400 lines.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const lib = join(root, 'src/lib');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}
const rel = (file: string) => relative(root, file);

/** Every module specifier a file imports, statically or lazily (type-only imports included: they are part of the design). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const pattern = /(?:^|\s)(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm;
  return [...text.matchAll(pattern)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** What an import points at: a repository path for relative ones, the specifier otherwise. */
function target(file: string, spec: string): string {
  return spec.startsWith('.') ? rel(normalize(join(dirname(file), spec))) : spec;
}

const rooms = readdirSync(lib, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

/** A room's README says what it may import: `May import: core, aws, @raxx/log-format`. */
function allowedFor(room: string): Set<string> {
  const readme = readFileSync(join(lib, room, 'README.md'), 'utf8');
  const line = /^May import: (.*)$/m.exec(readme);
  if (!line) throw new Error(`src/lib/${room}/README.md has no "May import:" line`);
  return new Set(line[1]!.split(',').map((s) => s.trim()).filter((s) => /^[@a-z]/.test(s)));
}

describe('the rooms of src/lib', () => {
  it('holds folders only, each with a README saying what it owns and may import', () => {
    const loose = readdirSync(lib, { withFileTypes: true }).filter((e) => e.isFile() && e.name !== 'index.ts').map((e) => e.name);
    expect(loose).toEqual([]);
    for (const room of rooms) expect(() => allowedFor(room), room).not.toThrow();
  });

  it('each room imports only the rooms its README allows, and never the commands', () => {
    const breaches: string[] = [];
    for (const room of rooms) {
      const allowed = allowedFor(room);
      for (const file of walk(join(lib, room))) {
        for (const spec of importsOf(file)) {
          const t = target(file, spec);
          let other: string | undefined;
          if (t.startsWith('src/lib/')) other = t.split('/')[2];
          else if (t.startsWith('src/')) other = t; // commands, cli, lambda: never
          else if (t.startsWith('@raxx/')) other = t.split('/').slice(0, 2).join('/');
          else if (t.startsWith('packages/')) other = t;
          if (other === undefined || other === room || allowed.has(other)) continue;
          breaches.push(`${rel(file)} imports ${spec}`);
        }
      }
    }
    expect(breaches).toEqual([]);
  });

  it('the room graph has no cycle', () => {
    const edges = new Map(rooms.map((r) => [r, [...allowedFor(r)].filter((a) => rooms.includes(a))]));
    const state = new Map<string, 'open' | 'done'>();
    const cycle: string[] = [];
    const visit = (r: string, path: string[]): void => {
      if (state.get(r) === 'done') return;
      if (state.get(r) === 'open') {
        cycle.push([...path, r].join(' → '));
        return;
      }
      state.set(r, 'open');
      for (const n of edges.get(r) ?? []) visit(n, [...path, r]);
      state.set(r, 'done');
    };
    for (const r of rooms) visit(r, []);
    expect(cycle).toEqual([]);
  });
});

describe('one home for the log format', () => {
  it('packages/log-format imports nothing but Node and the S3 client its callers pass in', () => {
    const bad: string[] = [];
    for (const file of walk(join(root, 'packages/log-format/src'))) {
      for (const spec of importsOf(file)) {
        if (spec.startsWith('node:') || spec.startsWith('./')) continue;
        if (spec === '@aws-sdk/client-s3' && file.endsWith('compacted-s3.ts')) continue;
        bad.push(`${rel(file)} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('the CLI reaches into the receiver package only to run the receiver itself', () => {
    const bad: string[] = [];
    for (const file of walk(join(root, 'src'))) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('@raxx/log-drain-receiver')) continue;
        if (rel(file) === 'src/commands/receiver/serve.ts' && /\/(handler|serve|config)$/.test(spec)) continue;
        bad.push(`${rel(file)} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('the receiver never imports the CLI', () => {
    const bad = walk(join(root, 'packages/log-drain-receiver/src')).flatMap((file) =>
      importsOf(file)
        .filter((spec) => target(file, spec).startsWith('src/'))
        .map((spec) => `${rel(file)} imports ${spec}`),
    );
    expect(bad).toEqual([]);
  });
});

describe('file size', () => {
  it('no source file is over 400 lines', () => {
    const files = [...walk(join(root, 'src')), ...walk(join(root, 'packages/log-format/src')), ...walk(join(root, 'packages/log-drain-receiver/src'))];
    const long = files
      .map((f) => ({ file: rel(f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > 400)
      .map((f) => `${f.file}: ${f.lines}`);
    expect(long).toEqual([]);
  });
});
