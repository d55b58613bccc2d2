// bin/raxx-ops on the TypeScript source instead of the build, for tests that need a real
// process (a pseudo-terminal, signals): the same launch() around src/cli.ts. Run it as
//   node --conditions=source --import tsx test/support/raxx-ops-from-source.mjs ARGS
// (sourceCli() in ./pty.ts builds that command line). Nothing has to be built first.
import { launch } from '../../bin/launch.js';

await launch(() => import('../../src/cli.ts'));
