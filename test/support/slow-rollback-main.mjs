// bin/launch.js around a stand-in for main() whose command, once Ctrl-C aborts its signal,
// takes ARGV[0] ms to roll back and says so: test/launch.test.ts checks that the first
// Ctrl-C lets the rollback finish and a second one quits at once.
import { launch } from '../../bin/launch.js';

await launch(async () => ({
  async main(argv, io) {
    io.stderr.write('changing things\n');
    // The work: a minute, unless Ctrl-C comes first (the timer keeps the process alive, as a
    // real command's requests do).
    await new Promise((resolve) => {
      const work = setTimeout(resolve, 60_000);
      io.signal.addEventListener('abort', () => resolve(clearTimeout(work)), { once: true });
    });
    io.stderr.write('rolling back\n');
    await new Promise((resolve) => setTimeout(resolve, Number(argv[0])));
    io.stderr.write('rolled back\n');
    return 130;
  },
}));
