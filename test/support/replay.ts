/**
 * The replay tests' scaffolding, shared by every process: recorded histories under
 * test/histories/ replay on today's workflow bundle, and (with RECORD_HISTORIES=1 only) journeys
 * are recorded into new files by a worker of their own, on a Temporal client without payload
 * encryption, so the histories replay with any key. A workflow as it was committed before a
 * change can be bundled from git to record the history a running execution would have.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { startHarness, type Harness } from './harness.js';
import { createActivities, type WorkerSettings } from '../../activities/index.js';
import { defaultConfig } from '../../src/config.js';
import { FileTransport } from '../../src/notifications/transport.js';

const root = path.resolve(import.meta.dirname, '..', '..');
export const HISTORIES_DIR = path.join(root, 'test', 'histories');

/** Recording overwrites committed histories: only on purpose, with RECORD_HISTORIES=1. */
export const RECORDING = Boolean(process.env.RECORD_HISTORIES);

type WorkflowBundle = { code: string } | { codePath: string };

/** Today's workflow bundle, built once per test run by the global setup. */
export const currentBundle = (): WorkflowBundle => ({ codePath: inject('workflowBundlePath') });

export interface Recorder {
  /** The harness: schema, API, keys and mailbox of the recording. */
  readonly h: Harness;
  /** A client without payload encryption, on the shared dev server. */
  readonly client: Client;
  /** A worker over real activities on `taskQueue`, running `bundle` (today's by default). */
  worker(taskQueue: string, bundle?: WorkflowBundle): Promise<Worker>;
  /** Stores a workflow's history as test/histories/<name>.history.pb; `closed` checks it has ended. */
  save(name: string, workflowId: string, opts?: { closed?: boolean }): Promise<void>;
}

/** Registers the recording's setup and teardown in the calling `describe`. */
export function recorder(name: string, settings: Partial<WorkerSettings> = {}): Recorder {
  let h: Harness;
  let connection: Connection;
  let native: NativeConnection;
  let client: Client;
  beforeAll(async () => {
    h = await startHarness(name);
    connection = await Connection.connect({ address: inject('temporalAddress') });
    native = await NativeConnection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection, namespace: 'default' });
  });
  afterAll(async () => {
    await native?.close();
    await connection?.close();
    await h?.close();
  });
  return {
    get h() {
      return h;
    },
    get client() {
      return client;
    },
    worker: (taskQueue, bundle = currentBundle()) =>
      Worker.create({
        connection: native,
        namespace: 'default',
        taskQueue,
        workflowBundle: bundle,
        activities: createActivities({
          pool: h.pool,
          transport: new FileTransport(h.mailDir),
          settings: { ...defaultConfig(), ...settings },
        }),
      }),
    async save(historyName, workflowId, opts = {}) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      if (opts.closed) {
        const { EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED } = temporal.api.enums.v1.EventType;
        expect([EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED], `${historyName} is closed`).toContain(
          history.events?.at(-1)?.eventType,
        );
      }
      await writeFile(path.join(HISTORIES_DIR, `${historyName}.history.pb`), temporal.api.history.v1.History.encode(history).finish());
    },
  };
}

/**
 * `workflows/<file>.ts` as committed at `rev`, bundled alone with today's delivery workflow: the
 * code a running execution started on. Returns the file's text too, for checks on it.
 */
export async function bundleFromGit(rev: string, file: string, workflowType: string): Promise<{ bundle: { code: string }; source: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `old-${file}-`));
  const source = execFileSync('git', ['show', `${rev}:workflows/${file}.ts`], { cwd: root, encoding: 'utf8' })
    .replaceAll("'../activities/", `'${root}/activities/`)
    .replaceAll("'../src/", `'${root}/src/`)
    .replaceAll("'./notifications.js'", `'${root}/workflows/notifications.js'`);
  await writeFile(path.join(dir, `${file}.ts`), source);
  await writeFile(
    path.join(dir, 'index.ts'),
    `export { ${workflowType} } from './${file}.js';\nexport { deliverNotification } from '${root}/workflows/notifications.js';\n`,
  );
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(dir, 'index.ts'),
    // The old file lives outside the project: resolve packages from the project's node_modules.
    webpackConfigHook: (config) => ({
      ...config,
      resolve: { ...config.resolve, modules: [path.join(root, 'node_modules'), 'node_modules'] },
    }),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  return { bundle, source };
}

/**
 * Replays every recorded history whose file name matches `pattern` on today's bundle; returns
 * the files replayed. A failure names the file and the non-determinism.
 */
export async function replayRecorded(pattern: RegExp): Promise<string[]> {
  const files = (await readdir(HISTORIES_DIR)).filter((f) => pattern.test(f) && f.endsWith('.history.pb')).sort();
  const histories = await Promise.all(
    files.map(async (file) => ({
      workflowId: file,
      history: temporal.api.history.v1.History.decode(await readFile(path.join(HISTORIES_DIR, file))),
    })),
  );
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: currentBundle() }, histories)) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(files.length);
  return files;
}
