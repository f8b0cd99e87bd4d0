import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The harness first: it loads the API, whose zod-openapi import must extend zod before any domain schema is built.
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { segmentProduct } from './support/retention.js';
import { queueMessage } from '../src/db/repositories/outbox.js';
import { grantMarketingConsent } from './support/consent.js';
import { RECORDING, recorder, replayRecorded } from './support/replay.js';
import type { Client } from '@temporalio/client';
import type { createApi } from '../src/api/app.js';
import { campaignRequestSchema } from '../src/domain/retention.js';
import type { EnrollmentResult } from '../workflows/retention.js';

/** A customer as the retention tests seed them: owning a marker product of their own is the campaign's segment. */
async function seedCustomer(h: Harness, marker?: string): Promise<{ id: string; email: string }> {
  const c = { id: randomUUID(), email: `${uniqueId('consent')}@example.com` };
  await h.pool.query(
    `INSERT INTO customers (id, name, email, email_normalized, created_by, created_at) VALUES ($1, 'Connie Consent', $2, $2, 'test', now() - interval '1 year')`,
    [c.id, c.email],
  );
  if (marker) {
    await h.pool.query("INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) VALUES ($1, $2, 0, 'import', now())", [
      c.id,
      marker,
    ]);
  }
  return c;
}

const grantByPhone = { channel: 'email', purpose: 'marketing', method: 'call', source: 'inbound call taken by agent-actor', textVersion: 'marketing-email-v1' };

describe('consent that campaigns obey (time skipping)', () => {
  let ts: Harness;
  // As in the retention tests: a plain client, so that time moves only by env.sleep(), never while the API waits for a result.
  let plain: Client;
  let api: ReturnType<typeof createApi>;
  beforeAll(async () => {
    ts = await startHarness('consent_days', { timeSkipping: true });
    ({ plain, api } = ts.plainApi());
  });
  afterAll(async () => {
    await ts?.close();
  });
  const call = async (method: string, url: string, opts: { body?: unknown; key?: boolean; headers?: Record<string, string>; rawBody?: string } = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key !== false) headers.authorization = `Bearer ${ts.keys.agent}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await api.request(url, { method, headers, body: opts.body !== undefined ? JSON.stringify(opts.body) : opts.rawBody });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      text,
      body: /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : undefined,
    };
  };
  const campaignMessages = async (customerId: string) =>
    (await ts.pool.query("SELECT summary FROM contact_events WHERE customer_id = $1 AND kind = 'campaign-message' ORDER BY occurred_at", [customerId])).rows;

  it('a campaign skips customers without marketing consent and an unsubscribe link stops the next message', async () => {
    const marker = await segmentProduct(ts);
    const agreed = await seedCustomer(ts, marker);
    const silent = await seedCustomer(ts, marker);
    const granted = await call('POST', `/v1/customers/${agreed.id}/consents/grants`, { body: grantByPhone });
    expect(granted.status).toBe(201);
    expect(granted.body.consent).toMatchObject({ channel: 'email', purpose: 'marketing', action: 'grant', method: 'call', textVersion: 'marketing-email-v1' });

    // The campaign as the API stores it, run as its Schedule runs it (the test server has no Schedules).
    const definition = campaignRequestSchema.parse({
      name: 'Newsletter',
      segment: { ownsAnyOf: [marker] },
      schedule: { interval: '7 days', timezone: 'UTC' },
      steps: [
        { type: 'message', channel: 'email', template: 'campaign-checkin' },
        { type: 'wait', duration: '7 days' },
        { type: 'message', channel: 'email', template: 'campaign-loyalty' },
      ],
    });
    const campaignId = randomUUID();
    await ts.pool.query('INSERT INTO campaigns (id, name, definition, created_by) VALUES ($1, $2, $3, $4)', [
      campaignId,
      definition.name,
      JSON.stringify(definition),
      'test',
    ]);
    await plain.workflow.start('campaignRun', { taskQueue: ts.taskQueue, workflowId: `campaign-${campaignId}-run`, args: [{ campaignId }] });

    // The customer who agreed gets the first message, with a link to object in its text and its headers.
    const first = await eventually(async () => (await ts.mailbox(agreed.email)).find((m) => m.template === 'campaign-checkin'), { timeoutMs: 30_000 });
    const link = /To stop them, open: (\S+)/.exec(first.text)?.[1];
    expect(link).toMatch(/^http:\/\/localhost:3000\/unsubscribe\/[A-Za-z0-9_-]{32}$/);
    const headers = (first as unknown as { headers: Record<string, string> }).headers;
    expect(headers).toEqual({ 'List-Unsubscribe': `<${link}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
    // Only a hash of the token is stored: neither the outbox row nor the token table holds the link.
    const token = link!.split('/').pop()!;
    const stored = await ts.pool.query("SELECT payload::text AS p FROM notification_outbox WHERE customer_id = $1 AND template = 'campaign-checkin'", [
      agreed.id,
    ]);
    expect(stored.rows[0].p).not.toContain(token);
    expect((await ts.pool.query('SELECT count(*)::int AS n FROM unsubscribe_tokens WHERE token_sha256 = $1', [token])).rows[0].n).toBe(0);

    // The customer without consent is enrolled, and the message is skipped with the reason on the enrollment's record.
    const skipped = await eventually(async () => {
      const got = await call('GET', `/v1/campaigns/${campaignId}/enrollments/${silent.id}`);
      return got.body?.state?.log?.find((l: { type: string; outcome: string }) => l.type === 'message' && l.outcome === 'skipped');
    });
    expect(skipped.detail).toBe('no marketing consent for email');
    expect(await ts.mailbox(silent.email)).toEqual([]);

    // Opening the link shows a page and changes nothing (mail scanners open links).
    const page = await call('GET', `/unsubscribe/${token}`, { key: false });
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.text).toContain(`action="/unsubscribe/${token}"`);
    expect((await call('GET', `/v1/customers/${agreed.id}/consents`)).body.history).toHaveLength(1);

    // The one-click POST of a mail client (RFC 8058), without a key, records the objection and stops the enrollment.
    const done = await call('POST', `/unsubscribe/${token}`, {
      key: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      rawBody: 'List-Unsubscribe=One-Click',
    });
    expect(done.status).toBe(200);
    expect(done.body.consent).toMatchObject({ channel: 'email', purpose: 'marketing', action: 'withdraw', method: 'unsubscribe-link', recordedBy: 'customer' });
    expect(done.body.notifiedEnrollments).toEqual([`campaign-${campaignId}-${agreed.id}`]);

    await eventually(async () => {
      const { rows } = await ts.pool.query('SELECT status FROM campaign_enrollments WHERE campaign_id = $1 AND customer_id = $2', [campaignId, agreed.id]);
      return rows[0]?.status === 'opted-out';
    });
    const result: EnrollmentResult = await plain.workflow.getHandle(`campaign-${campaignId}-${agreed.id}`).result();
    expect(result).toMatchObject({ status: 'opted-out', messagesSent: 1 });
    expect(result.reason).toMatch(/^marketing consent for email withdrawn \(unsubscribe-link, consent [0-9a-f-]{36}\)$/);
    await ts.env!.sleep('8 days');
    expect(await campaignMessages(agreed.id)).toHaveLength(1);
    expect((await ts.mailbox(agreed.email)).map((m) => m.template)).toEqual(['campaign-checkin']);
    const record = await call('GET', `/v1/campaigns/${campaignId}/enrollments/${agreed.id}`);
    expect(record.body.enrollments[0]).toMatchObject({ status: 'opted-out', endReason: result.reason });

    // The customer without consent got nothing over the whole campaign, each message skipped.
    const silentResult: EnrollmentResult = await plain.workflow.getHandle(`campaign-${campaignId}-${silent.id}`).result();
    expect(silentResult).toMatchObject({ status: 'completed', messagesSent: 0 });
    expect(await campaignMessages(silent.id)).toHaveLength(0);

    // The history keeps both rows with their proof; the current state is the withdrawal.
    const consents = await call('GET', `/v1/customers/${agreed.id}/consents`);
    expect(consents.status).toBe(200);
    expect(consents.body.history.map((e: { action: string; method: string }) => `${e.action}:${e.method}`)).toEqual([
      'withdraw:unsubscribe-link',
      'grant:call',
    ]);
    expect(consents.body.history[0].source).toBe(`unsubscribe link of message ${first.id}`);
    expect(consents.body.history[1].text).toContain('I agree to receive news and offers by e-mail');
    expect(consents.body.current.find((c: { channel: string; purpose: string }) => c.channel === 'email' && c.purpose === 'marketing')).toMatchObject({
      granted: false,
    });
    const audit = await ts.pool.query("SELECT field, actor FROM audit_log WHERE customer_id = $1 AND process = 'consent' ORDER BY occurred_at, id", [
      agreed.id,
    ]);
    expect(audit.rows).toEqual([
      { field: 'consent.email.marketing', actor: ts.users.agent.id },
      { field: 'consent.email.marketing', actor: 'customer' },
    ]);

    // The link did its one thing: a second use is refused, and nothing is added.
    const again = await call('POST', `/unsubscribe/${token}`, { key: false });
    expect(again.status).toBe(410);
    expect((await call('GET', `/unsubscribe/${token}`, { key: false })).status).toBe(410);
    expect((await call('GET', `/v1/customers/${agreed.id}/consents`)).body.history).toHaveLength(2);
  });
});

describe('consent on the dev server: the API, the opt-in, refusals', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('consent');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a confirmed double opt-in of onboarding becomes the marketing e-mail consent, with its confirmation as proof', async () => {
    const address = `${uniqueId('optin')}@example.com`;
    const registered = await h.json('POST', '/v1/customers', { body: { name: 'Otto Optin', email: address } });
    expect(registered.status).toBe(201);
    const customerId = registered.body.id;
    const mail = await eventually(async () => (await h.mailbox(address)).find((m) => m.template === 'onboarding-opt-in'));
    // The opt-in message carries the wording the customer agrees to by confirming.
    expect(mail.text).toContain('I agree to receive news and offers by e-mail');
    expect((await h.json('GET', `/v1/customers/${customerId}/consents`)).body.history).toEqual([]);

    const confirmed = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: mail.payload.code } });
    expect(confirmed.status).toBe(200);
    const consents = await h.json('GET', `/v1/customers/${customerId}/consents`);
    expect(consents.body.history).toHaveLength(1);
    expect(consents.body.history[0]).toMatchObject({
      channel: 'email',
      purpose: 'marketing',
      action: 'grant',
      method: 'double-opt-in',
      textVersion: 'opt-in-email-v1',
      source: 'onboarding',
      recordedBy: 'customer',
      workflowId: `onboarding-${customerId}`,
      confirmation: { onboardingWorkflowId: `onboarding-${customerId}`, codeSubject: `opt-in:${customerId}` },
    });
    expect(consents.body.current).toContainEqual(expect.objectContaining({ channel: 'email', purpose: 'marketing', granted: true }));
    expect(consents.body.current).toContainEqual(expect.objectContaining({ channel: 'sms', purpose: 'marketing', granted: false, latest: null }));
    await h.client.workflow
      .getHandle(`onboarding-${customerId}`)
      .terminate('consent test cleanup')
      .catch(() => undefined);
  });

  it('an offer is refused without marketing consent, and made once the customer agreed', async () => {
    const c = await seedCustomer(h);
    await h.pool.query(
      "INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) VALUES ($1, 'internet-s', 19.99, 'import', now() - interval '1 year')",
      [c.id],
    );
    const refused = await h.json('POST', `/v1/customers/${c.id}/offers`, { body: { kind: 'upsell', productId: 'internet-m' } });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ rule: 'contact-allowed' });
    expect(refused.body.detail).toContain('no marketing consent for email');
    expect(await h.mailbox(c.email)).toEqual([]);

    expect((await h.json('POST', `/v1/customers/${c.id}/consents/grants`, { body: grantByPhone })).status).toBe(201);
    const made = await h.json('POST', `/v1/customers/${c.id}/offers`, { body: { kind: 'upsell', productId: 'internet-m' } });
    expect(made.status).toBe(201);
    const offerMail = await eventually(async () => (await h.mailbox(c.email)).find((m) => m.template === 'offer'));
    expect(offerMail.text).toMatch(/To stop them, open: http:\/\/localhost:3000\/unsubscribe\/[A-Za-z0-9_-]{32}\n/);
    await h.client.workflow
      .getHandle(made.body.workflowId ?? `offer-${made.body.offerId}`)
      .terminate('consent test cleanup')
      .catch(() => undefined);
  });

  it('a marketing message queued before the withdrawal is withheld at delivery, with the reason on its row', async () => {
    const c = await seedCustomer(h);
    expect((await h.json('POST', `/v1/customers/${c.id}/consents/grants`, { body: grantByPhone })).status).toBe(201);
    // Queued while consent held (as a campaign step queues it), delivered only after the withdrawal (a mail outage, say).
    const messageId = await queueMessage(h.pool, {
      customerId: c.id,
      recipient: c.email,
      template: 'campaign-winback',
      payload: { name: 'Connie' },
      idempotencyKey: uniqueId('queued'),
    });
    const withdrawn = await h.json('POST', `/v1/customers/${c.id}/consents/withdrawals`, {
      body: { channel: 'email', purpose: 'marketing', method: 'call', source: 'the customer called to object' },
    });
    expect(withdrawn.status).toBe(201);
    const delivery = await h.client.workflow.execute('deliverNotification', {
      taskQueue: h.taskQueue,
      workflowId: `notify-${messageId}`,
      args: [{ messageId }],
    });
    expect(delivery).toMatchObject({ withheld: 'no marketing consent for email' });
    const row = await h.pool.query('SELECT sent_at, withheld_at, withheld_reason FROM notification_outbox WHERE id = $1', [messageId]);
    expect(row.rows[0]).toMatchObject({ sent_at: null, withheld_reason: 'no marketing consent for email' });
    expect(row.rows[0].withheld_at).toBeInstanceOf(Date);
    expect(await h.mailbox(c.email)).toEqual([]);
    // A service message to the same customer still goes out.
    const serviceId = await queueMessage(h.pool, {
      customerId: c.id,
      recipient: c.email,
      template: 'master-data-applied',
      payload: { fields: ['phone'], changeId: 'x' },
      idempotencyKey: uniqueId('service'),
    });
    await h.client.workflow.execute('deliverNotification', { taskQueue: h.taskQueue, workflowId: `notify-${serviceId}`, args: [{ messageId: serviceId }] });
    expect((await h.mailbox(c.email)).map((m) => m.template)).toEqual(['master-data-applied']);
  });

  it('answers 404 for an unknown customer, 400 for a bad channel, purpose or proof, and 409 for an erased customer', async () => {
    const unknown = randomUUID();
    expect((await h.json('GET', `/v1/customers/${unknown}/consents`)).status).toBe(404);
    expect((await h.json('POST', `/v1/customers/${unknown}/consents/grants`, { body: grantByPhone })).status).toBe(404);
    expect((await h.json('POST', `/v1/customers/${unknown}/consents/withdrawals`, { body: grantByPhone })).status).toBe(404);
    expect((await h.json('GET', '/v1/customers/not-a-uuid/consents')).status).toBe(400);

    const c = await seedCustomer(h);
    const bad = await h.json('POST', `/v1/customers/${c.id}/consents/grants`, { body: { ...grantByPhone, channel: 'fax', purpose: 'spam' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body.channel', 'body.purpose']);
    const noText = await h.json('POST', `/v1/customers/${c.id}/consents/grants`, { body: { ...grantByPhone, textVersion: undefined } });
    expect(noText.status).toBe(400);
    expect(noText.body.errors[0].path).toBe('body.textVersion');
    const badWithdrawal = await h.json('POST', `/v1/customers/${c.id}/consents/withdrawals`, {
      body: { channel: 'sms', purpose: 'marketing', method: 'unsubscribe-link', source: '' },
    });
    expect(badWithdrawal.status).toBe(400);
    expect(badWithdrawal.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body.method', 'body.source']);
    const future = await h.json('POST', `/v1/customers/${c.id}/consents/withdrawals`, {
      body: { channel: 'sms', purpose: 'marketing', method: 'letter', source: 'letter', occurredAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(future.status).toBe(400);
    expect(future.body.errors[0].path).toBe('body.occurredAt');
    expect((await h.json('GET', `/v1/customers/${c.id}/consents`, { as: 'analyst' })).status).toBe(403);
    expect((await h.json('GET', `/v1/customers/${c.id}/consents`, { as: null })).status).toBe(401);
    expect((await h.json('GET', `/v1/customers/${c.id}/consents`)).body.history).toEqual([]);

    // A withdrawal of SMS marketing is recorded (and audited) while e-mail stays as it was.
    const sms = await h.json('POST', `/v1/customers/${c.id}/consents/withdrawals`, {
      body: { channel: 'sms', purpose: 'marketing', method: 'letter', source: 'letter' },
    });
    expect(sms.status).toBe(201);
    expect(sms.body).toMatchObject({ consent: { channel: 'sms', action: 'withdraw', textVersion: null }, notifiedEnrollments: [] });
    // The history cannot be rewritten, not even from inside the database.
    await expect(h.pool.query("UPDATE consent_events SET action = 'grant' WHERE customer_id = $1", [c.id])).rejects.toThrow(/append-only/);
    await expect(h.pool.query('DELETE FROM consent_events WHERE customer_id = $1', [c.id])).rejects.toThrow(/append-only/);

    await h.pool.query("UPDATE customers SET status = 'erased' WHERE id = $1", [c.id]);
    expect((await h.json('POST', `/v1/customers/${c.id}/consents/grants`, { body: grantByPhone })).status).toBe(409);
    expect((await h.json('POST', `/v1/customers/${c.id}/consents/withdrawals`, { body: grantByPhone })).status).toBe(409);
    // The proof stays readable after the erasure.
    expect((await h.json('GET', `/v1/customers/${c.id}/consents`)).body.history).toHaveLength(1);
  });

  it('refuses an unknown or malformed link with 404, an expired one with 410, and the link of an erased customer with 409', async () => {
    for (const token of ['nope', 'A'.repeat(32)]) {
      expect((await h.json('GET', `/unsubscribe/${token}`, { as: null })).status).toBe(404);
      expect((await h.json('POST', `/unsubscribe/${token}`, { as: null })).status).toBe(404);
    }
    const c = await seedCustomer(h);
    const message = randomUUID();
    const { issueUnsubscribeToken } = await import('../src/db/repositories/consents.js');
    const expired = await issueUnsubscribeToken(h.pool, { customerId: c.id, channel: 'email', messageId: message });
    await h.pool.query("UPDATE unsubscribe_tokens SET expires_at = now() - interval '1 second' WHERE customer_id = $1", [c.id]);
    const gone = await h.json('POST', `/unsubscribe/${expired}`, { as: null });
    expect(gone.status).toBe(410);
    expect(gone.body.detail).toMatch(/expired/);
    expect((await h.json('GET', `/unsubscribe/${expired}`, { as: null })).status).toBe(410);

    const live = await issueUnsubscribeToken(h.pool, { customerId: c.id, channel: 'email', messageId: message });
    await h.pool.query("UPDATE customers SET status = 'erased' WHERE id = $1", [c.id]);
    expect((await h.json('POST', `/unsubscribe/${live}`, { as: null })).status).toBe(409);
    expect((await h.json('GET', `/unsubscribe/${live}`, { as: null })).status).toBe(409);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM consent_events WHERE customer_id = $1', [c.id])).rows[0].n).toBe(0);
  });
});

/**
 * Replay: a withdrawal and the enrollment it ended, recorded under test/histories/, must replay on
 * today's workflow code (the retention replay picks up the enrollment too).
 * Recording: RECORD_HISTORIES=1 npx vitest run test/consent.test.ts -t histories
 */
describe.runIf(RECORDING)('recording consent histories', () => {
  const r = recorder('consent_record');

  it('records a withdrawal of marketing consent and the enrollment it ends', async () => {
    const { h, client } = r;
    const taskQueue = uniqueId('record-consent');
    const worker = await r.worker(taskQueue);
    await worker.runUntil(async () => {
      const marker = await segmentProduct(h);
      const c = await seedCustomer(h, marker);
      await grantMarketingConsent(h.pool, [c.id], ['email']);
      const definition = campaignRequestSchema.parse({
        name: 'Recorded consent',
        segment: { ownsAnyOf: [marker] },
        schedule: { interval: '7 days', timezone: 'UTC' },
        steps: [
          { type: 'message', channel: 'email', template: 'campaign-checkin' },
          { type: 'wait', duration: '1 hour' },
          { type: 'message', channel: 'email', template: 'campaign-loyalty' },
        ],
      });
      const id = randomUUID();
      await h.pool.query('INSERT INTO campaigns (id, name, definition, created_by) VALUES ($1, $2, $3, $4)', [
        id,
        definition.name,
        JSON.stringify(definition),
        'recorder',
      ]);
      await client.workflow.execute('campaignRun', { taskQueue, workflowId: `campaign-${id}-run-recorded`, args: [{ campaignId: id }] });
      const enrollmentId = `campaign-${id}-${c.id}`;
      await eventually(async () => (await h.pool.query("SELECT 1 FROM contact_events WHERE customer_id = $1 AND kind = 'campaign-message'", [c.id])).rows[0]);
      const consentId = `consent-${c.id}-recorded`;
      const withdrawn = await client.workflow.execute('recordConsent', {
        taskQueue,
        workflowId: consentId,
        args: [
          {
            consentId: randomUUID(),
            customerId: c.id,
            channel: 'email',
            purpose: 'marketing',
            action: 'withdraw',
            proof: { method: 'call', source: 'recorder' },
            occurredAt: new Date().toISOString(),
            actor: 'recorder',
          },
        ],
      });
      expect(withdrawn.notifiedEnrollments).toEqual([enrollmentId]);
      expect((await client.workflow.getHandle(enrollmentId).result()).status).toBe('opted-out');
      await r.save('campaign-enrollment-consent-withdrawn', enrollmentId, { closed: true });
      await r.save('consent-withdrawal', consentId, { closed: true });
    });
  });
});

describe('replaying recorded consent histories on the current code', () => {
  it('replays the recorded withdrawal and the enrollment it ended without non-determinism', async () => {
    expect(await replayRecorded(/^(consent-|campaign-enrollment-consent-)/)).toEqual([
      'campaign-enrollment-consent-withdrawn.history.pb',
      'consent-withdrawal.history.pb',
    ]);
  });
});
