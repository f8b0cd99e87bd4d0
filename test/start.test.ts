/**
 * `npm start` as a newcomer runs it: from a private directory (mode 0700, like `mktemp -d` or
 * root's home), and when something fails midway. The real start script runs as a child process
 * on free ports with its own data directory; nothing here is shared with the other test files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readlink, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, isPortFree } from '../src/dev/ports.js';
import { PROJECT_ROOT } from '../src/dev/paths.js';
import { packagedBinDir } from '../src/dev/postgres.js';

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function ports() {
  return {
    TEMPORAL_DEV_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    ANALYTICS_PORT: String(await freePort()),
    CODEC_LOCAL_PORT: String(await freePort()),
  };
}

function startStack(cwd: string, env: Record<string, string>): Started {
  let out = '';
  // What `npm start` runs (tsx src/dev/start.ts), from another directory.
  const child = spawn(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(PROJECT_ROOT, 'src/dev/start.ts')], {
    cwd,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await exited;
    }
  });
  return { child, output: () => out, exited };
}

async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} within ${timeoutMs} ms; output:\n${output()}`);
}

/** Processes whose command line names `needle` (the data directory, the cluster's directory). */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(needle)) found.push(`${pid}: ${cmd.slice(0, 160)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function privateDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-start-'));
  await chmod(dir, 0o700);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('npm start', () => {
  it('starts from a private (0700) directory with PostgreSQL binaries and data inside it, serves, restarts a Temporal server or PostgreSQL that dies, and stops everything on Ctrl-C', async () => {
    const dir = await privateDir();
    // The binaries in the private directory, as they are in a clone's node_modules.
    await cp(path.dirname(await packagedBinDir()), path.join(dir, 'native'), { recursive: true, verbatimSymlinks: true });
    const dataDir = path.join(dir, '.data');
    const env = { ...(await ports()), DATA_DIR: dataDir, EMBEDDED_PG_BIN_DIR: path.join(dir, 'native', 'bin') };
    const stack = startStack(dir, env);
    // As root the cluster may live outside the private directory (.data/pg links to it): remove it too.
    cleanups.push(async () => {
      const outside = await readlink(path.join(dataDir, 'pg')).catch(() => undefined);
      if (outside) await rm(outside, { recursive: true, force: true });
    });

    await until(
      () => stack.output().includes('The CRM process engine is running') || stack.child.exitCode !== null,
      'the stack did not come up',
      150_000,
      stack.output,
    );
    expect(stack.child.exitCode, stack.output()).toBeNull();
    const clusterDir = await readlink(path.join(dataDir, 'pg')).catch(() => path.join(dataDir, 'pg'));
    if (process.getuid?.() === 0) {
      // PostgreSQL runs as another user, who cannot enter the directory: the cluster lives outside it.
      expect(clusterDir.startsWith(dir)).toBe(false);
    }
    const ready = await fetch(`http://127.0.0.1:${env.API_PORT}/readyz`);
    expect(ready.status).toBe(200);
    expect(stack.output()).toContain(`http://localhost:${env.API_PORT}/docs`);
    expect(stack.output()).toContain(`http://localhost:${env.TEMPORAL_UI_PORT}`);

    // The local UI decodes through a loopback listener that needs no credential: no key of the
    // stack is on any command line, and the listener answers on 127.0.0.1 only.
    const devKeys = Object.values(JSON.parse(readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8')) as Record<string, string>);
    for (const key of devKeys) expect(processesMentioning(key)).toEqual([]);
    expect(processesMentioning(`--ui-codec-endpoint http://127.0.0.1:${env.CODEC_LOCAL_PORT}/codec`)).toHaveLength(1);
    const decode = (host: string) =>
      fetch(`http://${host}:${env.CODEC_LOCAL_PORT}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default' },
        body: JSON.stringify({ payloads: [] }),
      });
    expect((await decode('127.0.0.1')).status).toBe(200);
    const routable = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (routable) await expect(decode(routable)).rejects.toThrow();

    // Supervision: a Temporal server or PostgreSQL that dies is said so and restarted.
    for (const [needle, name] of [
      [path.join(dataDir, 'temporal.db'), 'Temporal dev server'],
      [`-D ${clusterDir}`, 'PostgreSQL'],
    ] as const) {
      const [pid] = processesMentioning(needle);
      expect(pid, `no process for ${name}`).toBeDefined();
      process.kill(Number(pid!.split(':')[0]), 'SIGKILL');
      await until(() => stack.output().includes(`${name} is running again`), `${name} was not restarted`, 60_000, stack.output);
    }
    expect(stack.output()).toMatch(/Temporal dev server stopped unexpectedly \(signal SIGKILL\); restarting it/);
    await until(async () => (await fetch(`http://127.0.0.1:${env.API_PORT}/readyz`)).status === 200, 'not ready after the restarts', 30_000, stack.output);

    stack.child.kill('SIGINT');
    expect(await stack.exited).toBe(0);
    for (const port of [env.TEMPORAL_DEV_PORT, env.EMBEDDED_PG_PORT, env.API_PORT, env.ANALYTICS_PORT, env.CODEC_LOCAL_PORT]) {
      expect(await isPortFree(Number(port)), `port ${port} is still held`).toBe(true);
    }
    expect(processesMentioning(dataDir)).toEqual([]);
    expect(processesMentioning(clusterDir)).toEqual([]);
  }, 200_000);

  it('a PostgreSQL that cannot start stops the Temporal server already started, says why in one line, and exits non-zero', async () => {
    const dir = await privateDir();
    // A PostgreSQL whose initdb fails, as a broken install would.
    const bin = path.join(dir, 'broken-pg', 'bin');
    await mkdir(bin, { recursive: true });
    for (const name of ['initdb', 'postgres']) {
      await writeFile(path.join(bin, name), '#!/bin/sh\necho "FATAL: could not create directory: No space left on device" >&2\nexit 1\n', {
        mode: 0o755,
      });
    }
    await chmod(path.join(dir, 'broken-pg'), 0o755);
    await chmod(dir, 0o755); // so the fake binaries are what fails, not the directory's mode
    const dataDir = path.join(dir, '.data');
    const env = { ...(await ports()), DATA_DIR: dataDir, EMBEDDED_PG_BIN_DIR: bin };
    const stack = startStack(dir, env);

    // Wait until the Temporal dev server has come up or the start has failed: either way it must be gone after.
    const code = await stack.exited;
    const out = stack.output();
    expect(code, out).toBe(1);
    const failures = out.split('\n').filter((l) => l.startsWith('Start failed: '));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/PostgreSQL did not start.*No space left on device.*postgres\.log/);
    expect(out).not.toMatch(/^\s+at /m); // no stack trace
    expect(await isPortFree(Number(env.TEMPORAL_DEV_PORT))).toBe(true);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 120_000);

  it('a port in use is refused before anything starts, naming the port and the variable to change', async () => {
    const dir = await privateDir();
    const env = { ...(await ports()), DATA_DIR: path.join(dir, '.data') };
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(env.API_PORT), '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(() => resolve())));
    const stack = startStack(dir, env);
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain(`Start failed: port ${env.API_PORT} for the API is in use`);
    expect(stack.output()).toContain('API_PORT');
    expect(stack.output()).not.toMatch(/^\s+at /m);
    expect(processesMentioning(env.TEMPORAL_DEV_PORT)).toEqual([]);
  }, 60_000);
});
