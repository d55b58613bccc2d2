// A throwaway PostgreSQL cluster from the machine's own binaries (initdb + pg_ctl), on a free
// loopback port, with password (scram-sha-256) authentication for every connection so a test
// can log in as a non-superuser role with that role's own password, and with the server log in
// a file the test can read (statement logging is checked there).
//
// initdb refuses to run as root: then the cluster lives in a directory owned by the `postgres`
// user and initdb / pg_ctl run through `runuser -u postgres --`.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { commandWorks, freePort, requireStandIn } from './stand-in.js';

const INSTALL_HINT =
  'Install the PostgreSQL server binaries (Debian: apt-get install postgresql) so that `initdb` and `pg_ctl` are on PATH or under /usr/lib/postgresql/<version>/bin; as root the `postgres` user and `runuser` are needed too.';

export type LogStatement = 'none' | 'ddl' | 'mod' | 'all';

export interface StartPostgresOptions {
  /** Cluster-wide `log_statement` (default 'none'); per-role settings override it at login. */
  logStatement?: LogStatement;
}

export interface CreateRoleOptions {
  /** Default true: the role can log in with its password. */
  login?: boolean;
  superuser?: boolean;
  createdb?: boolean;
  /** Database named in the returned URL (default 'postgres'). */
  database?: string;
  /** Per-role settings applied with `ALTER ROLE … SET key = value`, e.g. { log_statement: 'mod' }. */
  settings?: Record<string, string>;
}

export interface PgCluster {
  /** Superuser URL: postgres://postgres:<pw>@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  host: string;
  /** The server's log (stderr, written by pg_ctl -l); statements appear here. */
  logFile: string;
  readLog(): Promise<string>;
  /** Creates a role with a password (scram-sha-256) and returns a URL that logs in as it. */
  createRole(name: string, password: string, opts?: CreateRoleOptions): Promise<string>;
  stop(): Promise<void>;
}

interface PgBinaries {
  binDir: string;
  initdb: string;
  pgCtl: string;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function versionOf(dir: string): number[] {
  return dir.split(/[^0-9]+/).filter(Boolean).map(Number);
}

function compareVersionsDesc(a: string, b: string): number {
  const va = versionOf(a);
  const vb = versionOf(b);
  for (let i = 0; i < Math.max(va.length, vb.length); i++) {
    const d = (vb[i] ?? 0) - (va[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** initdb/pg_ctl from PATH, else the newest /usr/lib/postgresql/<version>/bin. */
export function findPostgresBinaries(): PgBinaries | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const initdb = join(dir, 'initdb');
    const pgCtl = join(dir, 'pg_ctl');
    if (isExecutable(initdb) && isExecutable(pgCtl)) return { binDir: dir, initdb, pgCtl };
  }
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort(compareVersionsDesc);
  } catch {
    return undefined;
  }
  for (const v of versions) {
    const binDir = join(root, v, 'bin');
    const initdb = join(binDir, 'initdb');
    const pgCtl = join(binDir, 'pg_ctl');
    if (isExecutable(initdb) && isExecutable(pgCtl)) return { binDir, initdb, pgCtl };
  }
  return undefined;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

interface PostgresUser {
  uid: number;
  gid: number;
}

function postgresUser(): PostgresUser | undefined {
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

const binaries = findPostgresBinaries();
const pgUser = isRoot ? postgresUser() : undefined;
const usable = binaries !== undefined && (!isRoot || (pgUser !== undefined && commandWorks('runuser', ['--help'])));

export const postgresAvailable = requireStandIn('PostgreSQL', usable, INSTALL_HINT);

/** Every directory from `dir` up to `/` can be entered by other users (the postgres user). */
function traversableByOthers(dir: string): boolean {
  let d = dir;
  for (;;) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    const parent = dirname(d);
    if (parent === d) return true;
    d = parent;
  }
}

function baseTempDir(): string {
  const t = tmpdir();
  if (!isRoot || traversableByOthers(t)) return t;
  return '/tmp';
}

interface RunResult {
  code: number | null;
  out: string;
}

/** Runs a PostgreSQL program, as the postgres user when we are root. */
function runPg(program: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<RunResult> {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', PGTZ: 'UTC', TZ: 'UTC' },
    });
    let out = '';
    const keep = (d: Buffer) => {
      out = (out + d.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

// Clusters still running when the test process exits are stopped on the way out, so a
// crashed test run leaves no postmaster behind.
const live = new Map<string, () => void>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const stopSync of live.values()) stopSync();
  });
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgCluster> {
  if (!binaries || !usable) throw new Error(`PostgreSQL is not available. ${INSTALL_HINT}`);
  const { initdb, pgCtl } = binaries;
  const host = '127.0.0.1';
  const superPassword = randomBytes(12).toString('hex');

  const dir = mkdtempSync(join(baseTempDir(), 'raxx-ops-pg-'));
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const pwFile = join(dir, 'pwfile');
  writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
  writeFileSync(logFile, '', { mode: 0o644 });
  if (isRoot && pgUser) {
    for (const p of [dir, pwFile, logFile]) chownSync(p, pgUser.uid, pgUser.gid);
  }

  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const stopSync = () => {
    const args = ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10'];
    if (isRoot) spawnSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore', cwd: '/' });
    else spawnSync(pgCtl, args, { stdio: 'ignore', cwd: '/' });
    removeDir();
  };

  try {
    const init = await runPg(
      initdb,
      ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync'],
      dir,
    );
    if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}): ${init.out}`);
    rmSync(pwFile, { force: true });

    const port = await freePort();
    const settings: Record<string, string> = {
      listen_addresses: host,
      port: String(port),
      unix_socket_directories: dir,
      password_encryption: 'scram-sha-256',
      log_destination: 'stderr',
      logging_collector: 'off',
      log_line_prefix: '%m [%p] %q%u@%d ',
      log_timezone: 'UTC',
      timezone: 'UTC',
      log_statement: opts.logStatement ?? 'none',
      max_connections: '50',
      shared_buffers: '16MB',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
    };
    const conf = Object.entries(settings)
      .map(([k, v]) => `${k} = ${quoteLiteral(v)}`)
      .join('\n');
    await appendFile(join(dataDir, 'postgresql.conf'), `\n# throwaway test cluster\n${conf}\n`);

    live.set(dir, stopSync);
    installExitHook();
    const start = await runPg(pgCtl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30'], dir);
    if (start.code !== 0) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`pg_ctl start failed (exit ${start.code}): ${start.out}\n${log}`);
    }

    const urlFor = (user: string, password: string, database = 'postgres') =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
    const url = urlFor('postgres', superPassword);

    return {
      url,
      port,
      host,
      logFile,
      readLog: () => readFile(logFile, 'utf8'),
      async createRole(name, password, roleOpts = {}) {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const attrs = [
            roleOpts.login === false ? 'NOLOGIN' : 'LOGIN',
            roleOpts.superuser ? 'SUPERUSER' : 'NOSUPERUSER',
            roleOpts.createdb ? 'CREATEDB' : 'NOCREATEDB',
            `PASSWORD ${quoteLiteral(password)}`,
          ];
          await client.query(`CREATE ROLE ${quoteIdent(name)} ${attrs.join(' ')}`);
          for (const [key, value] of Object.entries(roleOpts.settings ?? {})) {
            if (!/^[a-z_][a-z0-9_.]*$/i.test(key)) throw new Error(`invalid setting name: ${key}`);
            await client.query(`ALTER ROLE ${quoteIdent(name)} SET ${key} = ${quoteLiteral(value)}`);
          }
        } finally {
          await client.end();
        }
        return urlFor(name, password, roleOpts.database);
      },
      async stop() {
        if (!live.has(dir)) return;
        live.delete(dir);
        await runPg(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10'], dir).catch(() => undefined);
        removeDir();
      },
    };
  } catch (err) {
    live.delete(dir);
    if (existsSync(join(dataDir, 'postmaster.pid'))) stopSync();
    else removeDir();
    throw err;
  }
}

