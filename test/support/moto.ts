// moto_server on a free loopback port: S3, SSM, CloudWatch Logs, KMS, IAM and Lambda
// configuration, all behind one endpoint that the SDK reaches via AWS_ENDPOINT_URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { MOTO_INSTALL_HINT, motoCommand as motoCmd } from './moto-command.js';
import { freePort, requireStandIn, waitFor } from './stand-in.js';

export const motoAvailable = requireStandIn('moto_server', motoCmd !== undefined, MOTO_INSTALL_HINT);

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Environment that points the AWS SDK (and the AWS CLI) at this server. */
  env: Record<string, string>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export const TEST_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
} as const;

export async function startMoto(): Promise<MotoServer> {
  if (!motoCmd) throw new Error(`moto_server is not installed. ${MOTO_INSTALL_HINT}`);
  const port = await freePort();
  const [cmd, pre] = motoCmd;
  const child: ChildProcess = spawn(cmd, [...pre, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...TEST_AWS_ENV },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`moto_server exited: ${stderr}`);
      const res = await fetch(`${endpoint}/moto-api/data.json`);
      return res.ok;
    }, `moto_server on ${endpoint}`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    endpoint,
    port,
    env: { ...TEST_AWS_ENV, AWS_ENDPOINT_URL: endpoint },
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}
