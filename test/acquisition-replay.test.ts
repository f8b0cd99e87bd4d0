/**
 * Replay tests: histories recorded under test/histories/ must replay on today's workflow code.
 * They guard changes that running executions would see: the onboarding that registration now
 * starts (patched), the lead funnel and onboarding as first recorded, and both again once they
 * write their record to PostgreSQL (patched).
 *
 * Recording (once, and after a deliberate, patched change): RECORD_HISTORIES=1 npx vitest run
 * test/acquisition-replay.test.ts. Histories are stored as binary protobuf (the SDK's own format)
 * and recorded without payload encryption, so they replay with any key.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { createActivities } from '../activities/index.js';
import { FileTransport } from '../src/notifications/transport.js';
import { intakeOutcomeUpdate, leadStateQuery, transitionUpdate, type LeadFunnelInput } from '../src/domain/acquisition.js';
import { onboardingStateQuery } from '../src/domain/onboarding.js';

const root = path.resolve(import.meta.dirname, '..');
const historiesDir = path.join(root, 'test', 'histories');
const RECORD = Boolean(process.env.RECORD_HISTORIES);

describe.runIf(RECORD)('recording histories', () => {
  let h: Harness;
  let connection: Connection;
  let native: NativeConnection;
  let client: Client;
  beforeAll(async () => {
    h = await startHarness('acquisition_replay');
    connection = await Connection.connect({ address: inject('temporalAddress') });
    native = await NativeConnection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection, namespace: 'default' });
  });
  afterAll(async () => {
    await native?.close();
    await connection?.close();
    await h?.close();
  });

  const worker = (taskQueue: string, workflowBundle: { code: string } | { codePath: string }) =>
    Worker.create({ connection: native, namespace: 'default', taskQueue, workflowBundle, activities: createActivities({ pool: h.pool, transport: new FileTransport(h.mailDir) }) });

  const save = async (name: string, workflowId: string) => {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    await writeFile(path.join(historiesDir, `${name}.history.pb`), temporal.api.history.v1.History.encode(history).finish());
  };

  it('records registerCustomer as it ran before onboarding existed', async () => {
    // The workflow as committed before the onboarding change, bundled from git.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'old-registration-'));
    const old = execFileSync('git', ['show', 'be8d675~1:workflows/customers.ts'], { cwd: root, encoding: 'utf8' })
      .replaceAll("'../activities/", `'${root}/activities/`)
      .replaceAll("'../src/", `'${root}/src/`)
      .replaceAll("'./notifications.js'", `'${root}/workflows/notifications.js'`);
    await writeFile(path.join(dir, 'customers.ts'), old);
    await writeFile(path.join(dir, 'index.ts'), `export { registerCustomer } from './customers.js';\nexport { deliverNotification } from '${root}/workflows/notifications.js';\n`);
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(dir, 'index.ts'),
      // The old file lives outside the project: resolve packages from the project's node_modules.
      webpackConfigHook: (config) => ({ ...config, resolve: { ...config.resolve, modules: [path.join(root, 'node_modules'), 'node_modules'] } }),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
    });
    const taskQueue = uniqueId('record-old');
    const w = await worker(taskQueue, bundle);
    const workflowId = `customer-register-${uniqueId('replay')}`;
    await w.runUntil(
      client.workflow.execute('registerCustomer', {
        taskQueue,
        workflowId,
        args: [{ customerId: crypto.randomUUID(), request: { name: 'Old Registration', email: `${uniqueId('old')}@example.com`, locale: 'en' }, actor: 'recorder' }],
      }),
    );
    await save('register-customer-before-onboarding', workflowId);
  });

  it('records a lead funnel from intake to won with an interaction, and the onboarding it starts', async () => {
    const taskQueue = uniqueId('record-funnel');
    const w = await worker(taskQueue, { codePath: inject('workflowBundlePath') });
    await w.runUntil(async () => {
      const leadId = crypto.randomUUID();
      const input: LeadFunnelInput = { leadId, actor: 'recorder', intake: { name: 'Replay Lead', email: `${uniqueId('replay')}@example.com`, source: 'web', company: 'ACME', locale: 'en' } };
      const handle = await client.workflow.start('leadFunnel', { taskQueue, workflowId: `lead-${leadId}`, args: [input] });
      await handle.executeUpdate(intakeOutcomeUpdate);
      await client.workflow.start('recordInteraction', {
        taskQueue,
        workflowId: `interaction-${uniqueId('replay')}`,
        args: [{ subject: { kind: 'lead', leadId }, interaction: { channel: 'call', direction: 'outbound', summary: 'Reached them' }, actor: 'recorder' }],
      });
      await eventually(async () => (await handle.query(leadStateQuery)).stage === 'contacted');
      const actor = 'recorder';
      await handle.executeUpdate(transitionUpdate, { args: [{ to: 'qualified', need: 'x', budget: 100, timeline: 'Q1', actor }] });
      await handle.executeUpdate(transitionUpdate, { args: [{ to: 'proposal', product: 'CRM', amount: 90, actor }] });
      const won = await handle.executeUpdate(transitionUpdate, { args: [{ to: 'won', actor }] });
      await handle.result();
      // Recorded again with each patched change under a new name: the older files keep guarding the older paths.
      await save('lead-funnel-won-with-record', handle.workflowId);
      const onboarding = client.workflow.getHandle(`onboarding-${won.customerId}`);
      await eventually(async () => (await onboarding.query(onboardingStateQuery)).status === 'in-progress');
      await save('onboarding-in-progress-with-record', onboarding.workflowId);
    });
  });
});

describe('replaying recorded histories on the current code', () => {
  it('replays every recorded acquisition, onboarding and registration history without non-determinism', async () => {
    const files = (await readdir(historiesDir)).filter((f) => /^(lead-funnel|onboarding|register-customer)-.*\.history\.pb$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const history = temporal.api.history.v1.History.decode(await readFile(path.join(historiesDir, file)));
      await expect(Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file), file).resolves.toBeUndefined();
    }
  });
});
