/**
 * Worker Versioning on the dev server: processes start on version 1 of a worker deployment, a
 * changed version 2 is deployed beside it, ramped, then made current; each process finishes on
 * the version its type's rule (src/domain/versioning.ts) says, with no workflow task failing.
 *
 * Version 1 is today's bundle. Version 2 is today's bundle with an unguarded change to the GDPR
 * export (a timer before it begins): a pinned export started on version 1 would break on it, so it
 * must finish on version 1; the lead funnel (auto-upgrade) is unchanged and moves to version 2.
 * The harness's own unversioned worker is stopped: only the two versions poll the task queue.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { codeFor, fetchExportByLink, registerCustomer, waitForGdpr } from './support/master-data.js';
import { createDataConverter } from '../src/codec/index.js';
import { defaultConfig } from '../src/config.js';
import { gdprWorkflowId } from '../src/domain/gdpr.js';
import { WORKFLOW_VERSIONING } from '../src/domain/versioning.js';
import { FileTransport } from '../src/notifications/transport.js';
import { bundleBuildId, describeDeployment, promoteVersion, type WorkflowBundle } from '../src/worker/deployment.js';
import { createOperationalWorker } from '../src/worker/worker.js';

const root = path.resolve(import.meta.dirname, '..');
const { EVENT_TYPE_WORKFLOW_TASK_COMPLETED, EVENT_TYPE_WORKFLOW_TASK_FAILED } = temporal.api.enums.v1.EventType;
const { WorkflowTaskFailedCause } = temporal.api.enums.v1;
/**
 * Task failures that say nothing about versions: a signal or update arrived while the task ran
 * (the server asks for a new task), or the sticky worker's cache was reset. Under load on two
 * cores these happen; what must never happen is a task failing on code (nondeterminism, a
 * panic), which is what pinning prevents.
 */
const BENIGN_TASK_FAILURES = new Set<number>([
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
  WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
]);
const { VERSIONING_BEHAVIOR_PINNED, VERSIONING_BEHAVIOR_AUTO_UPGRADE } = temporal.api.enums.v1.VersioningBehavior;

/** Today's workflows, with the GDPR export changed in a way no running export could replay. */
async function changedBundle(): Promise<{ code: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-v2-'));
  await writeFile(
    path.join(dir, 'index.ts'),
    [
      `import { setWorkflowOptions, sleep } from '@temporalio/workflow';`,
      `import { gdprExport as exportV1 } from '${root}/workflows/gdpr.js';`,
      `export * from '${root}/workflows/index.js';`,
      `export async function gdprExport(...args: Parameters<typeof exportV1>) {`,
      `  await sleep(1);`,
      `  return exportV1(...args);`,
      `}`,
      `setWorkflowOptions({ versioningBehavior: 'PINNED' }, gdprExport);`,
    ].join('\n'),
  );
  return bundleWorkflowCode({
    workflowsPath: path.join(dir, 'index.ts'),
    webpackConfigHook: (config) => ({ ...config, resolve: { ...config.resolve, modules: [path.join(root, 'node_modules'), 'node_modules'] } }),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
}

let h: Harness;
let native: NativeConnection;
const running: Array<{ worker: Worker; done: Promise<void> }> = [];
const deploymentName = uniqueId('crm-versioning-test');
let v1: WorkerDeploymentVersion;
let v2: WorkerDeploymentVersion;
let v1Bundle: WorkflowBundle;
let v2Bundle: { code: string };

async function startVersion(version: WorkerDeploymentVersion, workflowBundle: WorkflowBundle): Promise<void> {
  const defaults = defaultConfig();
  const worker = await createOperationalWorker({
    connection: native,
    namespace: 'default',
    taskQueue: h.taskQueue,
    workflowBundle,
    deploymentVersion: version,
    pool: h.pool,
    transport: new FileTransport(h.mailDir),
    dataConverter: createDataConverter(h.keyring, h.payloadCodec),
    settings: { acquisition: defaults.acquisition, masterData: defaults.masterData },
  });
  running.push({ worker, done: worker.run() });
}

beforeAll(async () => {
  h = await startHarness('versioning');
  await h.stopWorker();
  native = await NativeConnection.connect({ address: inject('temporalAddress') });
  v1Bundle = { codePath: inject('workflowBundlePath') };
  v2Bundle = await changedBundle();
  v1 = { deploymentName, buildId: await bundleBuildId(v1Bundle) };
  v2 = { deploymentName, buildId: await bundleBuildId(v2Bundle) };
}, 120_000);

afterAll(async () => {
  for (const r of running) r.worker.shutdown();
  await Promise.all(running.map((r) => r.done.catch(() => undefined)));
  await native?.close();
  await h?.close();
});

/** Which build id completed each workflow task of a workflow, in order, and the causes of any task that failed on code. */
async function tasksOf(workflowId: string): Promise<{ buildIds: string[]; failed: string[]; behavior: number | null | undefined; pinnedTo?: string }> {
  const handle = h.client.workflow.getHandle(workflowId);
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
  return {
    buildIds: events
      .filter((e) => e.eventType === EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
      .map((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? '(unversioned)'),
    failed: events
      .filter((e) => e.eventType === EVENT_TYPE_WORKFLOW_TASK_FAILED)
      .map((e) => e.workflowTaskFailedEventAttributes?.cause ?? 0)
      .filter((cause) => !BENIGN_TASK_FAILURES.has(cause))
      .map((cause) => `${WorkflowTaskFailedCause[cause]}`),
    behavior: info?.behavior,
    pinnedTo: info?.deploymentVersion?.buildId ?? undefined,
  };
}

describe('worker versioning', () => {
  it('keeps a pinned GDPR export on version 1 and moves an auto-upgrade lead funnel to version 2, with no task failing', async () => {
    expect(v1.buildId).not.toBe(v2.buildId);
    expect(WORKFLOW_VERSIONING.gdprExport.rule).toBe('PINNED');
    expect(WORKFLOW_VERSIONING.leadFunnel.rule).toBe('AUTO_UPGRADE');

    // Version 1 only, current.
    await startVersion(v1, v1Bundle);
    await promoteVersion(h.client.connection, v1, { namespace: 'default', to: 'current' });
    expect((await describeDeployment(h.client.connection, 'default', deploymentName)).current).toBe(v1.buildId);

    // On version 1: an export waiting for its code, and a lead in its funnel.
    const customer = await registerCustomer(h);
    const exportStart = await h.json('POST', `/v1/customers/${customer.id}/export`, { body: {} });
    expect(exportStart.status, JSON.stringify(exportStart.body)).toBe(202);
    const exportId: string = exportStart.body.requestId;
    await waitForGdpr(h, exportId, 'awaiting-verification');
    const intake = await h.json('POST', '/v1/leads', {
      body: { name: 'Vera Version', email: `${uniqueId('vera')}@example.com`, company: 'ACME', source: 'web' },
    });
    expect(intake.status, JSON.stringify(intake.body)).toBe(202);
    const leadId: string = intake.body.leadId;
    const move = async (body: Record<string, unknown>) => {
      const res = await h.json('POST', `/v1/leads/${leadId}/transitions`, { body });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await move({ to: 'contacted' });

    // Version 2 beside it: ramped, then current.
    await startVersion(v2, v2Bundle);
    await promoteVersion(h.client.connection, v2, { namespace: 'default', to: { ramp: 50 } });
    const ramped = await describeDeployment(h.client.connection, 'default', deploymentName);
    expect(ramped).toMatchObject({ current: v1.buildId, ramping: v2.buildId, rampPercentage: 50 });
    await promoteVersion(h.client.connection, v2, { namespace: 'default', to: 'current' });
    const promoted = await describeDeployment(h.client.connection, 'default', deploymentName);
    expect(promoted.current).toBe(v2.buildId);
    expect(promoted.versions).toEqual(expect.arrayContaining([v1.buildId, v2.buildId]));

    // Both processes go on to their end.
    const verified = await h.json('POST', `/v1/gdpr-requests/${exportId}/verification`, { body: { code: await codeFor(h, customer.email) } });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    await waitForGdpr(h, exportId, 'ready');
    expect((await fetchExportByLink(h, customer.email)).status).toBe(200);
    await move({ to: 'qualified', need: 'x', budget: 100, timeline: 'Q1' });
    await move({ to: 'proposal', product: 'CRM', amount: 90, currency: 'EUR' });
    await move({ to: 'won' });
    await h.client.workflow.getHandle(gdprWorkflowId(exportId)).result();
    await h.client.workflow.getHandle(`lead-${leadId}`).result();

    // The export ran wholly on version 1, pinned; the funnel began on 1 and ended on 2.
    const exported = await tasksOf(gdprWorkflowId(exportId));
    expect(exported.failed).toEqual([]);
    expect(exported.behavior).toBe(VERSIONING_BEHAVIOR_PINNED);
    expect(exported.pinnedTo).toBe(v1.buildId);
    expect(new Set(exported.buildIds)).toEqual(new Set([v1.buildId]));
    const funnel = await tasksOf(`lead-${leadId}`);
    expect(funnel.failed).toEqual([]);
    expect(funnel.behavior).toBe(VERSIONING_BEHAVIOR_AUTO_UPGRADE);
    expect(funnel.buildIds[0]).toBe(v1.buildId);
    expect(funnel.buildIds.at(-1)).toBe(v2.buildId);

    // Pinning was needed: the export's history does not replay on version 2.
    const exportHistory = await h.client.workflow.getHandle(gdprWorkflowId(exportId)).fetchHistory();
    await expect(
      Worker.runReplayHistory({ workflowBundle: v2Bundle, dataConverter: createDataConverter(h.keyring, h.payloadCodec) }, exportHistory, 'export-on-v2'),
    ).rejects.toThrow(/[Nn]ondeterminism/);
    await Worker.runReplayHistory({ workflowBundle: v1Bundle, dataConverter: createDataConverter(h.keyring, h.payloadCodec) }, exportHistory, 'export-on-v1');

    // A new export starts on the current version, 2, and is pinned there.
    const second = await h.json('POST', `/v1/customers/${customer.id}/export`, { body: {} });
    expect(second.status, JSON.stringify(second.body)).toBe(202);
    await waitForGdpr(h, second.body.requestId, 'awaiting-verification');
    const fresh = await eventually(async () => {
      const t = await tasksOf(gdprWorkflowId(second.body.requestId));
      return t.pinnedTo ? t : undefined;
    });
    expect(fresh).toMatchObject({ behavior: VERSIONING_BEHAVIOR_PINNED, pinnedTo: v2.buildId, failed: [] });
  }, 180_000);
});
