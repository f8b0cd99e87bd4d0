/**
 * Messages no retry can deliver end `undeliverable` with their reason instead of retrying
 * forever: on their row (GET /v1/messages/{id}), in the Temporal UI (CrmStatus) and, where a
 * person can act, as a `message-undeliverable` task. Failures that may pass are retried. SMS goes
 * to a local gateway stub (a real node:http server).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The harness first: it loads the API, which extends zod with .openapi before any domain schema is built.
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { createActivities } from '../activities/index.js';
import { queueMessage } from '../src/db/repositories/outbox.js';
import { accountManagerOf } from '../src/db/repositories/onboardings.js';
import { CrmProcess, CrmSource, CrmStatus } from '../src/domain/search-attributes.js';
import { ChannelTransports, FileTransport, HttpSmsTransport } from '../src/notifications/transport.js';
import { registerCustomer } from './support/master-data.js';
import { startSmsGateway, type SmsGatewayStub } from './support/sms-gateway.js';
import { startAnalyticsHarness } from './support/analytics.js';

let gateway: SmsGatewayStub;
let transport: ChannelTransports;
let h: Harness;

beforeAll(async () => {
  gateway = await startSmsGateway();
  const mailboxDir = await mkdtemp(path.join(os.tmpdir(), 'crm-undeliverable-mail-'));
  transport = new ChannelTransports({
    email: new FileTransport(mailboxDir),
    sms: new HttpSmsTransport({ url: gateway.url, from: 'CRM', timeoutMs: 2_000 }),
  });
  h = await startHarness('undeliverable', { transport });
});
afterAll(async () => {
  await h?.close();
  await gateway?.close();
});

/** Queues an SMS as a process would, and runs its delivery workflow to its end. */
async function deliverSms(to: string, customerId?: string) {
  const messageId = await queueMessage(h.pool, {
    customerId,
    channel: 'sms',
    recipient: to,
    template: 'contact-change-notice',
    payload: { changeId: uniqueId('change'), field: 'phone number' },
    idempotencyKey: uniqueId('undeliverable-test'),
  });
  const workflowId = `notify-${messageId}`;
  const result = await h.client.workflow.execute('deliverNotification', {
    taskQueue: h.taskQueue,
    workflowId,
    args: [{ messageId }],
    typedSearchAttributes: [{ key: CrmProcess, value: 'notification' }],
  });
  return { messageId, workflowId, result: result as { sentAt?: string; undeliverable?: { type: string; reason: string } } };
}

/** The attempts of an activity type as the workflow history records them. */
async function attemptsOf(workflowId: string, activityType: string) {
  const { events } = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Set(events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId)));
  const started = events!.filter((e) => e.activityTaskStartedEventAttributes && scheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)));
  return { scheduled: scheduled.size, attempts: started.map((e) => e.activityTaskStartedEventAttributes!.attempt) };
}

describe('messages that cannot be delivered', () => {
  it("an erased recipient's pending message ends undeliverable without retrying", async () => {
    const c = await registerCustomer(h);
    const messageId = await queueMessage(h.pool, {
      customerId: c.id,
      channel: 'sms',
      recipient: c.phone,
      template: 'contact-change-notice',
      payload: { changeId: uniqueId('change'), field: 'phone number' },
      idempotencyKey: uniqueId('erased-pending'),
    });
    // The erasure runs while the message waits for its delivery.
    await createActivities({ pool: h.pool, transport }).eraseCustomer({
      customerId: c.id,
      requestId: uniqueId('erasure'),
      actor: 'test',
      workflowId: uniqueId('gdpr'),
    });
    const workflowId = `notify-${messageId}`;
    const result = await h.client.workflow.execute('deliverNotification', { taskQueue: h.taskQueue, workflowId, args: [{ messageId }] });
    expect(result).toEqual({ undeliverable: { type: 'RecipientErased', reason: 'the recipient was erased' } });

    expect(await attemptsOf(workflowId, 'deliverMessage')).toEqual({ scheduled: 1, attempts: [1] });
    expect(gateway.requests.filter((r) => r.body.id === messageId)).toEqual([]);
    const message = await h.json('GET', `/v1/messages/${messageId}`);
    expect(message.status).toBe(200);
    expect(message.body).toMatchObject({ status: 'undeliverable', recipient: 'erased', reason: { type: 'RecipientErased' }, sentAt: null, attempts: 0 });
    const description = await h.client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(CrmStatus)).toBe('undeliverable');
    expect(description.typedSearchAttributes.get(CrmSource)).toBe('sms:contact-change-notice');
    // Nobody can reach an erased person: no task.
    const tasks = await h.pool.query("SELECT id FROM tasks WHERE kind = 'message-undeliverable' AND workflow_id = $1", [workflowId]);
    expect(tasks.rows).toEqual([]);
  });

  it('a number the gateway refuses (400) ends undeliverable at the first attempt, with the reason and a task for the account manager', async () => {
    const c = await registerCustomer(h);
    const manager = await eventually(() => accountManagerOf(h.pool, c.id));
    gateway.respond(c.phone, 400);
    const { messageId, workflowId, result } = await deliverSms(c.phone, c.id);
    expect(result.undeliverable).toEqual({ type: 'RecipientInvalid', reason: `the SMS gateway refused the message (400): not a reachable number: ${c.phone}` });
    expect(gateway.requests.filter((r) => r.body.id === messageId).map((r) => r.status)).toEqual([400]);
    expect(await attemptsOf(workflowId, 'deliverMessage')).toEqual({ scheduled: 1, attempts: [1] });

    const message = await h.json('GET', `/v1/messages/${messageId}`);
    expect(message.body).toMatchObject({
      status: 'undeliverable',
      channel: 'sms',
      attempts: 1,
      reason: { type: 'RecipientInvalid', detail: expect.stringContaining('not a reachable number') },
      workflowId,
    });
    expect(message.body.undeliverableAt).toEqual(expect.any(String));

    const task = await h.pool.query<{ id: string; owner_id: string; status: string; priority: string; title: string }>(
      "SELECT id, owner_id, status, priority, title FROM tasks WHERE kind = 'message-undeliverable' AND workflow_id = $1",
      [workflowId],
    );
    expect(task.rows).toHaveLength(1);
    expect(task.rows[0]).toMatchObject({ owner_id: manager, status: 'open', priority: 'high' });
    expect(task.rows[0]!.title).toBe('Message undeliverable: contact-change-notice by SMS (RecipientInvalid)');
    const shown = await h.json('GET', `/v1/tasks/${task.rows[0]!.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ kind: 'message-undeliverable', customerId: c.id, process: 'notification' });
    // The task runs as its own workflow, which escalates it if nobody acts.
    await eventually(() =>
      h.client.workflow
        .getHandle(`task-${task.rows[0]!.id}`)
        .describe()
        .catch(() => undefined),
    );
    const description = await h.client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(CrmStatus)).toBe('undeliverable');
  });

  it('a gateway that answers 503 is retried, and the message is sent once it recovers', async () => {
    const to = '+4917012345601';
    gateway.respond(to, 503, 503);
    const { messageId, workflowId, result } = await deliverSms(to);
    expect(result.sentAt).toEqual(expect.any(String));
    expect(result.undeliverable).toBeUndefined();
    expect(gateway.requests.filter((r) => r.body.id === messageId).map((r) => r.status)).toEqual([503, 503, 202]);
    // One activity, retried by its policy: the history keeps its last attempt.
    expect(await attemptsOf(workflowId, 'deliverMessage')).toEqual({ scheduled: 1, attempts: [3] });
    const message = await h.json('GET', `/v1/messages/${messageId}`);
    expect(message.body).toMatchObject({ status: 'sent', attempts: 3, lastError: null, reason: null });
    expect((await h.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(CrmStatus)).toBe('sent');
  });

  it('analytics counts the undeliverable messages by channel, template and reason', async () => {
    const a = await startAnalyticsHarness(h.taskQueue);
    try {
      await a.ingest();
      const report = await a.report('processes');
      expect(report.status).toBe(200);
      // The erasure also erased the recipient of the account manager's task message about that customer (e-mail).
      expect(report.body.undeliverableMessages.filter((m: { channel: string }) => m.channel === 'sms')).toEqual([
        { channel: 'sms', template: 'contact-change-notice', reason: 'RecipientErased', count: 1 },
        { channel: 'sms', template: 'contact-change-notice', reason: 'RecipientInvalid', count: 1 },
      ]);
    } finally {
      await a.stop();
    }
  });
});
