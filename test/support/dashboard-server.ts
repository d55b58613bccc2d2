// `raxx-ops logs dashboard` run in-process on a free port, until stopped.
import { freePort, waitFor } from './stand-in.js';
import { runCli, type CliResult } from './run-cli.js';

export interface DashboardServer {
  url: string;
  stop(): Promise<CliResult>;
}

export async function startDashboard(env: Record<string, string | undefined>, now: () => Date): Promise<DashboardServer> {
  const port = await freePort();
  const abort = new AbortController();
  const running = runCli(['logs', 'dashboard', '--port', String(port)], { env, now, signal: abort.signal });
  const url = `http://127.0.0.1:${port}`;
  let exited: CliResult | undefined;
  void running.then((r) => (exited = r));
  await waitFor(async () => {
    if (exited) throw new Error(`the dashboard exited ${exited.code}: ${exited.stderr}`);
    return (await fetch(`${url}/api/nothing`)).status === 404;
  }, `the dashboard on ${url}`);
  return {
    url,
    async stop() {
      abort.abort();
      return running;
    },
  };
}
