/**
 * The Temporal dev server for `npm start` and the test harness: one way to start it for both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { CLI_SEARCH_ATTRIBUTE_TYPE, CRM_SEARCH_ATTRIBUTES } from '../domain/search-attributes.js';
import { applyNamespaceRetention } from '../temporal.js';
import { stopperFor } from './processes.js';
import { TEMPORAL_CLI_MODULE, type TemporalCli } from './temporal-cli.js';

export interface DevServerOptions {
  cli: TemporalCli;
  port: number;
  /** undefined: headless */
  uiPort?: number;
  /** undefined: in memory */
  dbFile?: string;
  /** server output goes here instead of the console */
  logFile?: string;
  ip?: string;
  /** Codec endpoint the Web UI calls to show encrypted payloads in clear (src/api/routes/codec.ts): never one with a secret in it, it is on the command line. */
  uiCodecEndpoint?: string;
  /** Retention of closed workflows in the `default` namespace (TEMPORAL_RETENTION), in ms; undefined: the server's 24 hours. */
  retention?: number;
}

export interface DevServer {
  address: string;
  /** The server process (none when the SDK runs it). */
  pid?: number;
  /** Settles when the server process ends, with how ("exit code 1", "signal SIGKILL"); never for the SDK's. */
  exited: Promise<string>;
  uiUrl?: string;
  stop(): Promise<void>;
}

const SEARCH_ATTRIBUTE_ARGS = CRM_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${CLI_SEARCH_ATTRIBUTE_TYPE[k.type]}`]);

/**
 * Eager activity dispatch: a workflow task's completion carries the activities it schedules back
 * to the same worker, one matching round trip less per activity (the worker reserves slots for
 * them, src/worker/worker.ts). deploy/temporal/dynamicconfig.yaml sets it for the full server.
 */
const EAGER_ACTIVITY_ARGS = ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'];

async function waitUntilServing(address: string, child: ChildProcess | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`the Temporal dev server exited with code ${child.exitCode} during start-up`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the Temporal dev server at ${address} did not become ready: ${String(lastError)}`);
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const address = `${ip}:${opts.port}`;
  const uiUrl = opts.uiPort !== undefined ? `http://localhost:${opts.uiPort}` : undefined;

  if (opts.cli.kind === 'sdk-download') {
    let env: TestWorkflowEnvironment;
    try {
      env = await TestWorkflowEnvironment.createLocal({
        server: {
          ip,
          port: opts.port,
          ui: opts.uiPort !== undefined,
          uiPort: opts.uiPort,
          dbFilename: opts.dbFile,
          searchAttributes: [...CRM_SEARCH_ATTRIBUTES],
          extraArgs: [...EAGER_ACTIVITY_ARGS, ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : [])],
        },
      });
    } catch (err) {
      throw new Error(
        `the Temporal SDK could not download its dev server (${(err as Error).message}). Install the Temporal CLI instead: ` +
          `put \`temporal\` on PATH, set TEMPORAL_CLI_PATH, or install Go so that npm start can build it (go install ${TEMPORAL_CLI_MODULE}).`,
        { cause: err },
      );
    }
    try {
      if (opts.retention !== undefined) await applyNamespaceRetention(env.connection, 'default', opts.retention);
    } catch (err) {
      await env.teardown();
      throw err;
    }
    return { address, uiUrl, exited: new Promise<string>(() => undefined), stop: () => env.teardown() };
  }

  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(opts.port),
    ...SEARCH_ATTRIBUTE_ARGS,
    '--dynamic-config-value',
    'system.forceSearchAttributesCacheRefreshOnRead=true',
    ...EAGER_ACTIVITY_ARGS,
    '--log-level',
    'warn',
  ];
  // The codec endpoint is a loopback URL without any credential in it (src/api/routes/codec.ts): safe on a command line.
  if (opts.uiPort !== undefined) {
    args.push('--ui-port', String(opts.uiPort));
    if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  } else args.push('--headless');
  if (opts.dbFile) {
    mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  const child = spawn(opts.cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot run ${opts.cli.kind === 'binary' ? opts.cli.path : 'temporal'}: ${err.message}`))),
  );
  spawnError.catch(() => undefined);
  if (opts.logFile) {
    mkdirSync(path.dirname(opts.logFile), { recursive: true });
    const out = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const stop = stopperFor(child);
  try {
    await Promise.race([spawnError, waitUntilServing(address, child, 60_000)]);
    if (opts.retention !== undefined) {
      const connection = await Connection.connect({ address });
      try {
        await applyNamespaceRetention(connection, 'default', opts.retention);
      } finally {
        await connection.close();
      }
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { address, uiUrl, pid: child.pid, exited, stop };
}
