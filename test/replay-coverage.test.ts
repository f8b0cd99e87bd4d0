/**
 * Replay coverage: every workflow type the operational bundle exports, and the analytics
 * ingestion, has at least one recorded history under test/histories/, and every recorded history
 * replays on today's code. A new workflow type fails this test until a history of it is recorded.
 *
 * The other replay tests record and replay their own processes (acquisition-replay,
 * master-data-replay, retention, consent); this file records the rest: registration as it runs
 * today, the welcome message's delivery, the onboarding's first-contact task completed by its
 * owner, an interaction, a customer event and one analytics ingest.
 *
 * Recording (once, and after a deliberate, patched change): RECORD_HISTORIES=1 npx vitest run
 * test/replay-coverage.test.ts -t histories
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { eventually, startHarness, uniqueId } from './support/harness.js';
import { startReceiver } from './support/webhook-receiver.js';
import { importWorkflowId } from '../src/domain/imports.js';
import { HISTORIES_DIR, RECORDING, recorder, replayRecorded } from './support/replay.js';
import { startAnalyticsHarness } from './support/analytics.js';
import * as operational from '../workflows/index.js';
import * as analytics from '../src/analytics/workflows.js';
import { ANALYTICS_WORKFLOWS_PATH } from '../src/analytics/service.js';
import { onboardingStateQuery } from '../src/domain/onboarding.js';
import { completeTaskUpdate, taskWorkflowId } from '../src/domain/tasks.js';
import type { RegistrationResult } from '../src/domain/customers.js';

/** Histories recorded here; replayed below (the analytics one on the analytics bundle). */
const OPERATIONAL = /^(register-customer-with-onboarding|notification-|task-|interaction-|customer-event-|import-|webhook-delivery-)/;
const ANALYTICS = /^analytics-/;

describe.runIf(RECORDING)('recording histories', () => {
  const r = recorder('replay_coverage');

  it('records a registration, its welcome message, the first-contact task completed, an interaction and a customer event', async () => {
    const taskQueue = uniqueId('record-coverage');
    const w = await r.worker(taskQueue);
    await w.runUntil(async () => {
      const customerId = crypto.randomUUID();
      const registration = `customer-register-${uniqueId('replay')}`;
      const registered = (await r.client.workflow.execute('registerCustomer', {
        taskQueue,
        workflowId: registration,
        args: [{ customerId, request: { name: 'Rita Replay', email: `${uniqueId('rita')}@example.com`, locale: 'en' }, actor: 'recorder' }],
      })) as RegistrationResult;
      expect(registered.outcome).toBe('created');
      await r.save('register-customer-with-onboarding', registration, { closed: true });
      if (registered.outcome !== 'created') return;

      const delivery = r.client.workflow.getHandle(`notify-${registered.welcomeMessageId}`);
      await eventually(() => delivery.result().then(() => true));
      await r.save('notification-welcome-sent', delivery.workflowId, { closed: true });

      const onboarding = r.client.workflow.getHandle(`onboarding-${customerId}`);
      const { firstContact } = await eventually(async () => {
        const state = await onboarding.query(onboardingStateQuery);
        return state.firstContact.taskId ? state : undefined;
      });
      const task = r.client.workflow.getHandle(taskWorkflowId(firstContact.taskId!));
      const owner = await eventually(
        async () =>
          (await task.describe().then(
            () => true,
            () => false,
          )) && (await r.h.pool.query('SELECT owner_id FROM tasks WHERE id = $1', [firstContact.taskId])).rows[0]?.owner_id,
      );
      await task.executeUpdate(completeTaskUpdate, { args: [{ outcome: 'called, all set', actor: owner }] });
      await task.result();
      await r.save('task-first-contact-done', task.workflowId, { closed: true });

      const interaction = `interaction-${uniqueId('replay')}`;
      await r.client.workflow.execute('recordInteraction', {
        taskQueue,
        workflowId: interaction,
        args: [
          {
            subject: { kind: 'customer', customerId },
            interaction: { channel: 'call', direction: 'inbound', summary: 'Asked about invoices' },
            actor: 'recorder',
          },
        ],
      });
      await r.save('interaction-customer-call', interaction, { closed: true });

      const event = `customer-event-${uniqueId('replay')}`;
      await r.client.workflow.execute('recordCustomerEvent', {
        taskQueue,
        workflowId: event,
        args: [{ eventId: crypto.randomUUID(), customerId, event: { type: 'login', occurredAt: new Date().toISOString() }, actor: 'recorder' }],
      });
      await r.save('customer-event-login', event, { closed: true });
    });
  }, 180_000);

  it('records a small import and a webhook subscription delivering an event', async () => {
    // Both run on the harness's own worker: the import is started by its API route, the delivery by
    // the wake-up listener, as in production.
    const hw = await startHarness('replay_webhooks', {
      plainPayloads: true,
      webhooks: { retryInitialMs: 500, retryMaxMs: 4_000, deadLetterAfterMs: 600_000, pollMs: 30_000 },
    });
    const receiver = await startReceiver();
    try {
      const csv = `name,email\nIda Import,${uniqueId('ida')}@example.com\nBad Row,not-an-address\n`;
      const imported = await hw.json('POST', '/v1/imports?kind=customers', { as: 'backoffice', rawBody: csv, headers: { 'content-type': 'text/csv' } });
      expect(imported.status, JSON.stringify(imported.body)).toBe(202);
      const importId = imported.body.importId as string;
      await eventually(async () => (await hw.json('GET', `/v1/imports/${importId}`, { as: 'backoffice' })).body.status === 'completed');
      await r.client.workflow.getHandle(importWorkflowId(importId)).result();
      const importHistory = await r.client.workflow.getHandle(importWorkflowId(importId)).fetchHistory();
      await writeFile(path.join(HISTORIES_DIR, 'import-two-rows.history.pb'), temporal.api.history.v1.History.encode(importHistory).finish());

      const sub = await hw.json('POST', '/v1/webhooks', { as: 'admin', body: { url: receiver.url, eventTypes: ['customer.registered'] } });
      expect(sub.status, JSON.stringify(sub.body)).toBe(201);
      const registered = await hw.json('POST', '/v1/customers', { body: { name: 'Wanda Webhook', email: `${uniqueId('wanda')}@example.com` } });
      expect(registered.status, JSON.stringify(registered.body)).toBe(201);
      await eventually(async () => receiver.received.some((x) => x.json.data?.customerId === registered.body.id));
      // The delivery has no end of its own (it continues as new); its history so far is what replays.
      const delivery = r.client.workflow.getHandle(`webhook-${sub.body.id}`);
      await hw.json('DELETE', `/v1/webhooks/${sub.body.id}`, { as: 'admin' });
      await delivery.terminate('recorded');
      const deliveryHistory = await delivery.fetchHistory();
      await writeFile(path.join(HISTORIES_DIR, 'webhook-delivery-registered.history.pb'), temporal.api.history.v1.History.encode(deliveryHistory).finish());
    } finally {
      await receiver.close();
      await hw.close();
    }
  }, 180_000);

  it('records one analytics ingest over the recording task queue', async () => {
    const a = await startAnalyticsHarness(uniqueId('nothing-here'));
    try {
      const workflowId = uniqueId('analytics-ingest');
      await a.service.client.workflow.execute('analyticsIngest', { taskQueue: a.taskQueue, workflowId, args: [a.ingestOptions] });
      await r.save('analytics-ingest-once', workflowId, { closed: true });
    } finally {
      await a.stop();
    }
  }, 120_000);
});

/** The workflow type each recorded history started. */
async function recordedTypes(): Promise<Map<string, string[]>> {
  const types = new Map<string, string[]>();
  for (const file of (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.history.pb'))) {
    const history = temporal.api.history.v1.History.decode(await readFile(path.join(HISTORIES_DIR, file)));
    const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '(none)';
    types.set(type, [...(types.get(type) ?? []), file]);
  }
  return types;
}

describe('replay coverage', () => {
  it('has a recorded history of every workflow type the operational and analytics workers run', async () => {
    const types = await recordedTypes();
    const exported = [...Object.keys(operational), ...Object.keys(analytics)].sort();
    expect(exported).toEqual(expect.arrayContaining(['deliverNotification', 'taskWorkflow', 'recordInteraction', 'recordCustomerEvent', 'analyticsIngest']));
    expect(exported.filter((t) => !types.has(t))).toEqual([]);
  });

  it('replays the histories recorded here on today’s code', async () => {
    expect(await replayRecorded(OPERATIONAL)).toHaveLength(7);
    const files = (await readdir(HISTORIES_DIR)).filter((f) => ANALYTICS.test(f));
    expect(files).toHaveLength(1);
    const histories = await Promise.all(
      files.map(async (f) => ({ workflowId: f, history: temporal.api.history.v1.History.decode(await readFile(path.join(HISTORIES_DIR, f))) })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowsPath: ANALYTICS_WORKFLOWS_PATH }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
