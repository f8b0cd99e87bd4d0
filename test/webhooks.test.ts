import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { startReceiver, type Receiver } from './support/webhook-receiver.js';
import { webhookWorkflowId } from '../src/domain/webhooks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

const toWonFrom = async (hh: Harness, leadId: string, steps: Array<Record<string, unknown>>) => {
  for (const step of steps) await move(hh, leadId, step);
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
    // Within seconds of the move (its own round trip included), and well under that from the commit.
    expect(got.receivedAt - movedAt).toBeLessThan(10_000);
    const { rows } = await h.pool.query<{ occurred_at: Date }>('SELECT occurred_at FROM webhook_events WHERE id = $1', [got.json.id]);
    expect(got.receivedAt - rows[0]!.occurred_at.getTime()).toBeLessThan(5_000);

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

    // The delivery log says so too, once the delivery has recorded the receiver's answer (the POST
    // reaches the receiver before the workflow writes its outcome).
    const delivered = await eventually(async () => {
      const log = await h.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=delivered`, { as: 'admin' });
      expect(log.status).toBe(200);
      return log.body.items.find((d: { eventId: string }) => d.eventId === got.json.id);
    });
    expect(delivered).toMatchObject({
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 204,
      attemptLog: [{ statusCode: 204, error: null }],
    });
  });

  it("holds back a failing customer's later events while other customers' events go on, then delivers them in order", async () => {
    const r = await startReceiver();
    try {
      const sub = await subscribe(h, r.url, ['lead.stage_changed']);
      const [stuck, flowing] = [await intake(h), await intake(h)];
      // Both leads' first stage ('new') is through before the stuck lead's receiver starts failing.
      await eventually(async () => [stuck, flowing].every((id) => r.received.some((g) => g.json.data.leadId === id)));
      r.answer((got) => (got.json.data.leadId === stuck ? 503 : 204));
      await move(h, stuck, { to: 'contacted' });
      await move(h, stuck, QUALIFY);
      await move(h, flowing, { to: 'contacted' });
      await move(h, flowing, QUALIFY);
      await eventually(async () => r.received.filter((g) => g.json.data.leadId === flowing).length === 3);
      expect(r.received.filter((g) => g.json.data.leadId === stuck)).toHaveLength(1);
      // The stuck lead's first event is being retried; its second waits behind it untried.
      // (The 503 reaches the receiver before the delivery records it, as the 204 of the stuck lead's
      // first event does: wait until both are recorded.)
      const pending = await eventually(async () => {
        const res = await h.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=pending`, { as: 'admin' });
        return res.body.items.length === 2 && res.body.items[0]?.lastStatusCode === 503 && res;
      });
      expect(pending.body.items).toHaveLength(2);
      expect(pending.body.items[0]).toMatchObject({ lastStatusCode: 503, lastError: 'HTTP 503' });
      expect(pending.body.items[0].attempts).toBeGreaterThanOrEqual(1);
      expect(pending.body.items[1].attempts).toBe(0);
      r.answer(204);
      const stuckEvents = await eventually(async () => {
        const got = r.received.filter((g) => g.json.data.leadId === stuck);
        return got.length === 3 && got;
      });
      expect(stuckEvents.map((g) => g.json.data.to)).toEqual(['new', 'contacted', 'qualified']);
    } finally {
      await r.close();
    }
  });

  it(
    `gets every event once and in order per customer across a receiver outage of ${OUTAGE_MS / 1000} s`,
    async () => {
      const r = await startReceiver();
      try {
        const sub = await subscribe(h, r.url, ['lead.stage_changed', 'lead.won', 'customer.registered']);
        const leads = [await intake(h), await intake(h), await intake(h)];
        // Their first stage ('new') is announced before the outage starts.
        await eventually(async () => leads.every((id) => r.received.some((g) => g.json.data.leadId === id)));
        const beforeOutage = r.received.length;
        await r.down();
        const outageStarted = Date.now();
        // Events keep coming during the outage: at its start, in its middle and near its end.
        await Promise.all(leads.map((id) => move(h, id, { to: 'contacted' })));
        await move(h, leads[0]!, QUALIFY);
        await sleep(OUTAGE_MS / 2 - (Date.now() - outageStarted));
        await toWonFrom(h, leads[0]!, [PROPOSE, { to: 'won' }]);
        await move(h, leads[1]!, QUALIFY);
        await sleep(OUTAGE_MS - 5_000 - (Date.now() - outageStarted));
        await move(h, leads[2]!, { to: 'lost', reason: 'no budget' });
        await sleep(OUTAGE_MS - (Date.now() - outageStarted));

        // Tried during the outage, refused, and still pending.
        const during = await h.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=pending&pageSize=100`, { as: 'admin' });
        expect(during.body.items.length).toBeGreaterThan(0);
        expect(during.body.items[0].attempts).toBeGreaterThan(1);
        expect(during.body.items[0].lastStatusCode).toBeNull();
        expect(during.body.items[0].lastError).toMatch(/ECONNREFUSED/);
        expect(r.received).toHaveLength(beforeOutage);

        await r.up();
        const back = Date.now();
        const { rows: expected } = await h.pool.query<{ id: string; ordering_key: string; seq: string }>(
          `SELECT e.id, e.ordering_key, e.seq FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.subscription_id = $1 ORDER BY e.seq`,
          [sub.id],
        );
        // lead 0: new, contacted, qualified, proposal, won, lead.won, customer.registered; lead 1: new, contacted, qualified; lead 2: new, contacted, lost
        expect(expected).toHaveLength(13);
        await eventually(async () => r.received.length >= expected.length, { timeoutMs: 30_000 });
        await sleep(1_000); // nothing more (no second copy) comes
        expect(Date.now() - back).toBeLessThan(20_000);
        const ids = r.received.map((g) => g.json.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toEqual(expected.map((e) => e.id).sort());
        // Per customer (or lead before it has one), in the order the events were committed.
        const seqOf = new Map(expected.map((e) => [e.id, Number(e.seq)]));
        for (const key of new Set(expected.map((e) => e.ordering_key))) {
          const arrived = r.received.filter((g) => expected.find((e) => e.id === g.json.id)!.ordering_key === key).map((g) => seqOf.get(g.json.id)!);
          expect(arrived, key).toEqual([...arrived].sort((a, b) => a - b));
        }
        // A funnel's events are its lead's, in order; the customer it became is announced once.
        const lead0 = r.received.filter((g) => g.json.data.leadId === leads[0]).map((g) => `${g.json.type}:${g.json.data.to ?? ''}`);
        expect(lead0.filter((e) => !e.startsWith('customer.registered'))).toEqual([
          'lead.stage_changed:new',
          'lead.stage_changed:contacted',
          'lead.stage_changed:qualified',
          'lead.stage_changed:proposal',
          'lead.stage_changed:won',
          'lead.won:',
        ]);
        expect(lead0.filter((e) => e.startsWith('customer.registered'))).toHaveLength(1);
      } finally {
        await r.close();
      }
    },
    OUTAGE_MS + 120_000,
  );

  it('a receiver answering 410 Gone deactivates its subscription and keeps the delivery for a reactivation', async () => {
    const r = await startReceiver();
    try {
      r.answer(410);
      const sub = await subscribe(h, r.url, ['customer.registered']);
      const res = await h.json('POST', '/v1/customers', { body: { name: 'Jane Doe', email: `${uniqueId('gone')}@example.com`, locale: 'de-DE' } });
      expect(res.status).toBe(201);
      const gone = await eventually(async () => {
        const s = await h.json('GET', `/v1/webhooks/${sub.id}`, { as: 'admin' });
        return !s.body.active && s.body;
      });
      expect(gone).toMatchObject({ active: false, deactivatedReason: 'the receiver answered 410 Gone' });
      const pending = await h.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=pending`, { as: 'admin' });
      expect(pending.body.items).toHaveLength(1);
      expect(pending.body.items[0]).toMatchObject({ attempts: 1, lastStatusCode: 410 });
      // Reactivated, it delivers what waited.
      r.answer(204);
      expect((await h.json('PATCH', `/v1/webhooks/${sub.id}`, { as: 'admin', body: { version: gone.version, active: true } })).status).toBe(200);
      await eventually(async () => r.received.some((g) => g.json.data.customerId === res.body.id));
    } finally {
      await r.close();
    }
  });

  it('keeps the delivery workflow findable in Temporal and its history short', async () => {
    const sub = await subscribe(h, receiver.url, ['customer.registered']);
    const handle = h.client.workflow.getHandle(webhookWorkflowId(sub.id));
    const described = await eventually(() => handle.describe().catch(() => undefined));
    expect(described.status.name).toBe('RUNNING');
    expect(described.historyLength).toBeLessThan(50);
  });
});

describe('dead letters', () => {
  let hd: Harness;
  beforeAll(async () => {
    // A short dead-letter time: a delivery still failing 3 s after it was queued is given up.
    hd = await startHarness('webhooks_dead', { webhooks: { retryInitialMs: 300, retryMaxMs: 1_000, deadLetterAfterMs: 3_000, pollMs: 30_000 } });
  });
  afterAll(async () => {
    await hd?.close();
  });

  it('a receiver down past the dead-letter time leaves the deliveries dead-lettered, and redelivery through the API succeeds', async () => {
    const r = await startReceiver();
    try {
      const sub = await subscribe(hd, r.url, ['customer.registered']);
      await r.down();
      const customers: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await hd.json('POST', '/v1/customers', { body: { name: 'Jane Doe', email: `${uniqueId('dl')}@example.com`, locale: 'de-DE' } });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        customers.push(res.body.id);
      }
      const dead = await eventually(
        async () => {
          const res = await hd.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=dead-lettered`, { as: 'admin' });
          return res.body.items.length === 3 && res.body.items;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      for (const d of dead) {
        expect(d).toMatchObject({ status: 'dead-lettered', lastStatusCode: null, nextAttemptAt: null });
        expect(d.attempts).toBeGreaterThan(1);
        expect(d.deadLetteredAt).toBeTruthy();
      }
      const stillPending = await hd.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=pending`, { as: 'admin' });
      expect(stillPending.body.items).toEqual([]);
      // A dead letter stays one: nothing more is tried while the receiver stays away.
      await sleep(2_000);
      const later = await hd.json('GET', `/v1/webhooks/${sub.id}/deliveries/${dead[0].id}`, { as: 'admin' });
      expect(later.body.attempts).toBe(dead[0].attempts);

      // The receiver is back: one delivery redelivered alone, then all that are left.
      await r.up();
      const one = await hd.json('POST', `/v1/webhooks/${sub.id}/deliveries/${dead[0].id}/redelivery`, { as: 'admin' });
      expect(one.status).toBe(202);
      expect(one.body).toMatchObject({ id: dead[0].id, status: 'pending' });
      await eventually(async () => r.received.some((g) => g.json.id === dead[0].eventId));
      const again = await hd.json('POST', `/v1/webhooks/${sub.id}/redelivery`, { as: 'admin' });
      expect(again).toMatchObject({ status: 202, body: { redelivered: 2 } });
      await eventually(async () => r.received.length === 3);
      expect(new Set(r.received.map((g) => g.json.data.customerId))).toEqual(new Set(customers));
      // The receiver has them a moment before each delivery is recorded as delivered.
      const delivered = await eventually(async () => {
        const res = await hd.json('GET', `/v1/webhooks/${sub.id}/deliveries?status=delivered`, { as: 'admin' });
        return res.body.items.length === 3 ? res : undefined;
      });
      expect(delivered.body.items[0].attemptLog.at(-1)).toMatchObject({ statusCode: 204, error: null });
      // Nothing dead-lettered is left to redeliver.
      expect(await hd.json('POST', `/v1/webhooks/${sub.id}/redelivery`, { as: 'admin' })).toMatchObject({ status: 202, body: { redelivered: 0 } });
    } finally {
      await r.close();
    }
  });
});

describe('the webhooks API', () => {
  const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

  it('lists the event catalogue with a JSON Schema per type, also in the OpenAPI document', async () => {
    const res = await h.json('GET', '/v1/webhook-event-types', { as: 'admin' });
    expect(res.status).toBe(200);
    const types = res.body.items.map((t: { type: string }) => t.type);
    for (const t of [
      'customer.registered',
      'lead.stage_changed',
      'lead.won',
      'lead.lost',
      'change.applied',
      'change.rejected',
      'offer.accepted',
      'erasure.completed',
      'enrollment.ended',
    ]) {
      expect(types).toContain(t);
    }
    const won = res.body.items.find((t: { type: string }) => t.type === 'lead.won');
    expect(won).toMatchObject({ version: 1, schema: { type: 'object', properties: { type: { const: 'lead.won' } } } });
    const doc = (await (await h.api.request('/openapi.json')).json()) as any;
    expect(doc.components.schemas.LeadWonEvent).toBeDefined();
    expect(doc.webhooks['lead.won'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/LeadWonEvent' });
  });

  it('creates with a given secret, reads, lists, changes by version, rotates the secret and deletes', async () => {
    const created = await h.json('POST', '/v1/webhooks', {
      as: 'admin',
      body: { url: 'https://erp.example.com/hooks', eventTypes: ['offer.accepted'], secret: SECRET },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/webhooks/${created.body.id}`);
    expect(created.body).toMatchObject({ secret: SECRET, active: true, version: 1, eventTypes: ['offer.accepted'] });
    const id = created.body.id;
    const read = await h.json('GET', `/v1/webhooks/${id}`, { as: 'admin' });
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    const list = await h.json('GET', '/v1/webhooks?pageSize=100', { as: 'admin' });
    expect(list.body.items.map((s: { id: string }) => s.id)).toContain(id);

    const patched = await h.json('PATCH', `/v1/webhooks/${id}`, {
      as: 'admin',
      headers: { 'if-match': '"1"' },
      body: { eventTypes: ['offer.accepted', 'offer.declined'], active: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      version: 2,
      active: false,
      deactivatedReason: 'deactivated by an admin',
      eventTypes: ['offer.accepted', 'offer.declined'],
    });
    expect(await h.json('PATCH', `/v1/webhooks/${id}`, { as: 'admin', body: { version: 1, active: true } })).toMatchObject({
      status: 409,
      body: { version: 2 },
    });
    // An inactive subscription redelivers nothing.
    expect((await h.json('POST', `/v1/webhooks/${id}/redelivery`, { as: 'admin' })).status).toBe(409);

    const rotated = await h.json('POST', `/v1/webhooks/${id}/secret`, { as: 'admin' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(SECRET);
    expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now() + 23 * 3_600_000);

    const deleted = await h.json('DELETE', `/v1/webhooks/${id}`, { as: 'admin' });
    expect(deleted.status).toBe(200);
    expect((await h.json('GET', `/v1/webhooks/${id}`, { as: 'admin' })).status).toBe(404);
  });

  it('answers 400 naming each bad field of a subscription', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ url: 'ftp://example.com/x', eventTypes: ['lead.won'] }, 'body.url'],
      [{ url: 'not a url', eventTypes: ['lead.won'] }, 'body.url'],
      [{ eventTypes: ['lead.won'] }, 'body.url'],
      [{ url: 'https://example.com', eventTypes: ['lead.exploded'] }, 'body.eventTypes.0'],
      [{ url: 'https://example.com', eventTypes: [] }, 'body.eventTypes'],
      [{ url: 'https://example.com', eventTypes: ['lead.won', 'lead.won'] }, 'body.eventTypes'],
      [{ url: 'https://example.com', eventTypes: ['lead.won'], secret: 'hunter2' }, 'body.secret'],
      [{ url: 'https://example.com', eventTypes: ['lead.won'], colour: 'red' }, 'body'],
    ];
    for (const [body, path] of bad) {
      const res = await h.json('POST', '/v1/webhooks', { as: 'admin', body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(res.body),
      ).toContain(path);
    }
    expect((await h.json('POST', '/v1/webhooks', { as: 'admin', rawBody: 'url=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);

    const sub = await subscribe(h, 'https://example.com/hooks', ['lead.lost']);
    const patchBad: Array<[Record<string, unknown>, string]> = [
      [{ active: false }, 'body.version'],
      [{ version: 1, url: 'mailto:a@example.com' }, 'body.url'],
      [{ version: 1, eventTypes: ['nope'] }, 'body.eventTypes.0'],
      [{ version: 1, secret: SECRET }, 'body'],
    ];
    for (const [body, path] of patchBad) {
      const res = await h.json('PATCH', `/v1/webhooks/${sub.id}`, { as: 'admin', body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(res.body),
      ).toContain(path);
    }
    const rotateBad = await h.json('POST', `/v1/webhooks/${sub.id}/secret`, { as: 'admin', body: { secret: 'whsec_short' } });
    expect(rotateBad.status).toBe(400);
    expect(rotateBad.body.errors[0].path).toBe('body.secret');
  });

  it('answers 400 for bad ids and queries and 404 for unknown subscriptions and deliveries', async () => {
    const sub = await subscribe(h, 'https://example.com/hooks', ['lead.lost']);
    const unknown = '8f0c6b1e-6c1a-4f59-9a51-3c1d2b7f0a11';
    const cases: Array<[string, string, number, Record<string, unknown>?]> = [
      ['GET', '/v1/webhooks/nope', 400],
      ['GET', `/v1/webhooks/${unknown}`, 404],
      ['GET', '/v1/webhooks?pageSize=0', 400],
      ['GET', '/v1/webhooks?pageToken=forged', 400],
      ['PATCH', `/v1/webhooks/${unknown}`, 404, { version: 1, active: false }],
      ['PATCH', '/v1/webhooks/nope', 400, { version: 1, active: false }],
      ['DELETE', `/v1/webhooks/${unknown}`, 404],
      ['DELETE', '/v1/webhooks/nope', 400],
      ['POST', `/v1/webhooks/${unknown}/secret`, 404],
      ['GET', `/v1/webhooks/${unknown}/deliveries`, 404],
      ['GET', `/v1/webhooks/${sub.id}/deliveries?status=lost`, 400],
      ['GET', `/v1/webhooks/${sub.id}/deliveries?eventType=lead.exploded`, 400],
      ['GET', `/v1/webhooks/${sub.id}/deliveries?pageToken=forged`, 400],
      ['GET', `/v1/webhooks/${sub.id}/deliveries/nope`, 400],
      ['GET', `/v1/webhooks/${sub.id}/deliveries/${unknown}`, 404],
      ['POST', `/v1/webhooks/${sub.id}/deliveries/${unknown}/redelivery`, 404],
      ['POST', `/v1/webhooks/${unknown}/deliveries/${unknown}/redelivery`, 404],
      ['POST', `/v1/webhooks/${unknown}/redelivery`, 404],
    ];
    for (const [method, url, status, body] of cases) {
      const res = await h.json(method, url, { as: 'admin', ...(body ? { body } : {}) });
      expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.detail ?? res.body.title).toBeTruthy();
    }
  });

  it('lets only admins manage webhooks (403 for other roles, 401 without a key)', async () => {
    const sub = await subscribe(h, 'https://example.com/hooks', ['lead.lost']);
    const routes: Array<[string, string, Record<string, unknown>?]> = [
      ['GET', '/v1/webhook-event-types'],
      ['POST', '/v1/webhooks', { url: 'https://example.com', eventTypes: ['lead.won'] }],
      ['GET', '/v1/webhooks'],
      ['GET', `/v1/webhooks/${sub.id}`],
      ['PATCH', `/v1/webhooks/${sub.id}`, { version: 1, active: false }],
      ['DELETE', `/v1/webhooks/${sub.id}`],
      ['POST', `/v1/webhooks/${sub.id}/secret`],
      ['GET', `/v1/webhooks/${sub.id}/deliveries`],
      ['POST', `/v1/webhooks/${sub.id}/redelivery`],
    ];
    for (const [method, url, body] of routes) {
      for (const as of ['agent', 'backoffice', 'analyst'] as const) {
        const res = await h.json(method, url, { as, ...(body ? { body } : {}) });
        expect(res.status, `${as} ${method} ${url}`).toBe(403);
      }
      expect((await h.json(method, url, { as: null, ...(body ? { body } : {}) })).status).toBe(401);
    }
    expect((await h.json('GET', `/v1/webhooks/${sub.id}`, { as: 'admin' })).body.version).toBe(1);
  });
});

describe('figures', () => {
  it('event delivery latency p50/p95: effect committed to receiver got it', async () => {
    const r = await startReceiver();
    try {
      await subscribe(h, r.url, ['customer.registered']);
      const n = Number(process.env.WEBHOOK_FIGURE_EVENTS ?? 30);
      for (let i = 0; i < n; i++) {
        const res = await h.json('POST', '/v1/customers', { body: { name: 'Jane Doe', email: `${uniqueId('fig')}@example.com`, locale: 'de-DE' } });
        expect(res.status).toBe(201);
      }
      await eventually(async () => r.received.length >= n, { timeoutMs: 60_000 });
      const { rows } = await h.pool.query<{ id: string; committed: Date }>('SELECT id, occurred_at AS committed FROM webhook_events WHERE id = ANY($1)', [
        r.received.map((g) => g.json.id),
      ]);
      const committed = new Map(rows.map((e) => [e.id, e.committed.getTime()]));
      const latencies = r.received.map((g) => g.receivedAt - committed.get(g.json.id)!).sort((a, b) => a - b);
      const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
      console.log(`[figures] webhook delivery latency over ${n} events (commit → receiver): p50 ${pct(50)} ms, p95 ${pct(95)} ms, max ${latencies.at(-1)} ms`);
      expect(pct(95)).toBeLessThan(5_000);
    } finally {
      await r.close();
    }
  }, 240_000);
});
