import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { startReceiver, type Receiver } from './support/webhook-receiver.js';
import { webhookWorkflowId } from '../src/domain/webhooks.js';

/** How long the receiver is down in the outage test: the minute (WEBHOOK_TEST_OUTAGE_MS shortens it for a local run). */
const OUTAGE_MS = Number(process.env.WEBHOOK_TEST_OUTAGE_MS ?? 60_000);

let h: Harness;
let receiver: Receiver;
beforeAll(async () => {
  // Retries every 0.5 s growing to 4 s: a receiver back after its outage hears from us within seconds.
  h = await startHarness('webhooks', { webhooks: { retryInitialMs: 500, retryMaxMs: 4_000, deadLetterAfterMs: 30 * 60_000, pollMs: 30_000 } });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await h?.close();
});

const QUALIFY = { to: 'qualified', need: 'replace spreadsheets', budget: 20000, timeline: 'Q3' };
const PROPOSE = { to: 'proposal', product: 'CRM Team', amount: 18000, currency: 'EUR' };

async function subscribe(hh: Harness, url: string, eventTypes: string[]) {
  const res = await hh.json('POST', '/v1/webhooks', { as: 'admin', body: { url, eventTypes, description: uniqueId('sub') } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string; version: number };
}

async function intake(hh: Harness): Promise<string> {
  const res = await hh.json('POST', '/v1/leads', {
    body: { name: 'Jane Doe', email: `${uniqueId('jane')}@example.com`, company: 'ACME', companySize: '51-200', source: 'web', interest: 'CRM' },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.leadId;
}

async function move(hh: Harness, leadId: string, body: Record<string, unknown>) {
  const res = await hh.json('POST', `/v1/leads/${leadId}/transitions`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const toWon = async (hh: Harness, leadId: string) => {
  for (const step of [{ to: 'contacted' }, QUALIFY, PROPOSE, { to: 'won' }]) await move(hh, leadId, step);
};

describe('outbound events', () => {
  it('a local receiver gets lead.won, signed per Standard Webhooks, within seconds of the move', async () => {
    const sub = await subscribe(h, receiver.url, ['lead.won']);
    expect(sub.secret).toMatch(/^whsec_/);
    const leadId = await intake(h);
    for (const step of [{ to: 'contacted' }, QUALIFY, PROPOSE]) await move(h, leadId, step);
    const movedAt = Date.now();
    await move(h, leadId, { to: 'won' });
    const got = await eventually(async () => receiver.received.find((r) => r.json.type === 'lead.won' && r.json.data.leadId === leadId), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    expect(got.receivedAt - movedAt).toBeLessThan(5_000);

    // The signature verifies with the subscription's secret, and not with another one.
    const headers = {
      'webhook-id': String(got.headers['webhook-id']),
      'webhook-timestamp': String(got.headers['webhook-timestamp']),
      'webhook-signature': String(got.headers['webhook-signature']),
    };
    expect(new Webhook(sub.secret).verify(got.body, headers)).toMatchObject({ type: 'lead.won', data: { leadId } });
    expect(() => new Webhook(`whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`).verify(got.body, headers)).toThrow();
    expect(headers['webhook-id']).toBe(got.json.id);
    expect(got.json).toMatchObject({ type: 'lead.won', version: 1, data: { leadId, amount: 18000, currency: 'EUR', productIds: [] } });
    // No personal data: the lead's name and e-mail are nowhere in the body.
    expect(got.body).not.toMatch(/Jane|example\.com/);

    // The delivery log says so too.
    const log = await h.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=delivered`, { as: 'admin' });
    expect(log.status).toBe(200);
    expect(log.body.items.find((d: { eventId: string }) => d.eventId === got.json.id)).toMatchObject({
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 204,
      attemptLog: [{ statusCode: 204, error: null }],
    });
  });
});
