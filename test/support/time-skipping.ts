/**
 * Time-skipping environments for workflows whose timers span days: the Java test server from
 * Maven Central (resolved by the global setup) skips time whenever every workflow is waiting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DataConverter, SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';
import { CRM_SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';

/** How long the test server's JVM may take to answer on a loaded two-core machine. */
const START_TIMEOUT_MS = 90_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts the Java test server as our own child and waits for it with a generous timeout. The
 * SDK's own launcher gives the JVM a fixed five seconds (a constant of its core), which a busy
 * two-core CI machine exceeds now and then; retrying did not help once three JVMs competed.
 */
async function spawnTestServer(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(inject('testServerPath'), [String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  // A test worker that dies takes its server with it.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  child.once('exit', () => process.off('exit', orphaned));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`time-skipping test server exited (${code ?? signal}) before answering: ${stderr}`))),
  );
  exited.catch(() => undefined);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (await Promise.race([accepts(port), exited])) return { port, child };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`time-skipping test server did not answer on port ${port} within ${START_TIMEOUT_MS / 1000} s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The SDK's environment factory that takes a running server and still offers time skipping (private in its typings). */
const createEnvironment = (
  TestWorkflowEnvironment as unknown as {
    create(opts: {
      server: { type: 'existing' };
      address: string;
      namespace: string;
      supportsTimeSkipping: true;
      client?: { dataConverter: DataConverter };
    }): Promise<TestWorkflowEnvironment>;
  }
).create.bind(TestWorkflowEnvironment);

async function startTestServer(opts: { dataConverter?: DataConverter }): Promise<TestWorkflowEnvironment> {
  const { port, child } = await spawnTestServer();
  try {
    const env = await createEnvironment({
      server: { type: 'existing' },
      address: `127.0.0.1:${port}`,
      namespace: 'default',
      supportsTimeSkipping: true,
      ...(opts.dataConverter ? { client: { dataConverter: opts.dataConverter } } : {}),
    });
    const teardown = env.teardown.bind(env);
    env.teardown = async () => {
      try {
        await teardown();
      } finally {
        child.kill('SIGKILL');
      }
    };
    return env;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

const IVT = proto.temporal.api.enums.v1.IndexedValueType;
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  TEXT: IVT.INDEXED_VALUE_TYPE_TEXT,
  KEYWORD: IVT.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IVT.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IVT.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: IVT.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IVT.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IVT.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export async function createTimeSkippingEnv(opts: { dataConverter?: DataConverter } = {}): Promise<TestWorkflowEnvironment> {
  const env = await startTestServer(opts);
  // The test server, like a real one, refuses search attributes it does not know.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(CRM_SEARCH_ATTRIBUTES.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]])),
  });
  return env;
}
