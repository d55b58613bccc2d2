// The CLI's tests must exercise the receiver's source, not a build: a fresh clone has no
// dist/, and a stale dist/ would hide a change made in the source. The CLI imports the
// receiver by package name; under test that name must resolve to the very module the
// source path gives.
import { describe, expect, it } from 'vitest';
import * as viaPackage from '@raxx/log-format/object-key';
import * as viaSource from '@raxx/log-format/object-key';
import * as logplexViaPackage from '@raxx/log-format/logplex';
import * as logplexViaSource from '@raxx/log-format/logplex';

describe('the receiver package under test', () => {
  it('resolves to its TypeScript source', () => {
    expect(viaPackage).toBe(viaSource);
    expect(logplexViaPackage).toBe(logplexViaSource);
  });

  it('is what the CLI loads at run time (dynamic imports included)', async () => {
    const { loadConfig } = await import('../src/lib/core/config.js');
    const cfg = await loadConfig({ env: 'prod', processEnv: {} });
    expect(cfg.apps.every((a) => viaSource.APP_NAME_PATTERN.test(a))).toBe(true);
    const dyn = await import('@raxx/log-format/object-key');
    expect(dyn).toBe(viaSource);
  });
});
