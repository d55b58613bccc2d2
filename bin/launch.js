// The process around main(): Ctrl-C, a closed stdout pipe, the exit code. bin/raxx-ops runs
// it on the build (dist/); the tests run the same function on the TypeScript source, so what
// they check through a pseudo-terminal is what an operator gets.
//
// Ctrl-C: the first press aborts the run's signal and lets the command stop its own way —
// a rollback or the report of what it did still runs to its end. A second press quits at
// once. There is no timer that exits on its own: it would cut a slow rollback short, and a
// second Ctrl-C always gets through (the spinner and the [y/N] prompt, which read the
// terminal raw, raise SIGINT for the byte themselves).

/** Copies of one press closer than this are the same press (npm exec / npx forwards it). */
export const SAME_PRESS_MS = 1000;

/**
 * @param {() => Promise<{ main: (argv: string[], io: object) => Promise<number> }>} load
 * @returns {Promise<void>} once main() returned (process.exitCode is set)
 */
export async function launch(load) {
  const controller = new AbortController();
  let firstPress = 0;
  let reminder;
  process.on('SIGINT', () => {
    const now = Date.now();
    if (firstPress && now - firstPress < SAME_PRESS_MS) return;
    if (firstPress) {
      process.stderr.write(
        '\nraxx-ops: quit at once, before the command finished stopping: the step it was in, or its rollback, may be ' +
          'left half-done. The lines above say what was done; run the command again (or its --dry-run) to see what is left.\n',
      );
      process.exit(130);
    }
    firstPress = now;
    controller.abort();
    // Only a command still busy after a moment (a rollback, a request that is slow to cancel)
    // says so, so that a quick stop prints nothing extra.
    reminder = setTimeout(() => process.stderr.write('\nraxx-ops: stopping (finishing what it started); press Ctrl-C again to quit at once\n'), SAME_PRESS_MS);
    reminder.unref();
  });
  process.stdout.on('error', (err) => {
    // `raxx-ops logs fetch | head` closes the pipe: stop quietly, as grep does.
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });

  // A throw that escapes main() (a stray promise, a failed import) is a bug too: exit 70, not
  // Node's 1, which means "a check found a problem".
  const bug = (err) => {
    process.stderr.write(`error: unexpected error (this is a bug in raxx-ops): ${err?.message ?? String(err)}\nhint: rerun with --debug for the stack trace, and report it\n`);
    if (process.argv.includes('--debug')) process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(70);
  };
  process.on('uncaughtException', bug);
  process.on('unhandledRejection', bug);

  const { main } = await load();
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    signal: controller.signal,
  });
  clearTimeout(reminder);
  process.exitCode = code;
}
