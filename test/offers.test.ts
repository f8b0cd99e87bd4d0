import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The harness first: it loads the API, whose zod-openapi import must extend zod before any domain schema is built.
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { grantMarketingConsent } from './support/consent.js';
import { createActivities } from '../activities/index.js';
import { CrmCustomerId, CrmOfferKind } from '../src/domain/search-attributes.js';
import { FileTransport } from '../src/notifications/transport.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('offers');
});
afterAll(async () => {
  // Offers left open by these tests would wait out their validity on the shared dev server.
  const open = await h?.pool.query<{ workflow_id: string }>("SELECT workflow_id FROM offers WHERE status IN ('pending', 'presented')");
  await Promise.all(
    (open?.rows ?? []).map((r) =>
      h.client.workflow
        .getHandle(r.workflow_id)
        .terminate('offers test cleanup')
        .catch(() => undefined),
    ),
  );
  await h?.close();
});

interface CustomerSeed {
  owns?: string[];
  churnRisk?: number;
}

async function seedCustomer(harness: Harness, seed: CustomerSeed = {}): Promise<{ id: string; email: string }> {
  const id = randomUUID();
  const email = `${uniqueId('offer')}@example.com`;
  await harness.pool.query(`INSERT INTO customers (id, name, email, email_normalized, created_by, churn_risk) VALUES ($1, 'Olga Offer', $2, $2, 'test', $3)`, [
    id,
    email,
    seed.churnRisk ?? null,
  ]);
  for (const product of seed.owns ?? []) {
    await harness.pool.query(
      `INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) SELECT $1, id, price, 'import', now() - interval '1 year' FROM products WHERE id = $2`,
      [id, product],
    );
  }
  // Offers are made only to customers who agreed to marketing by e-mail.
  await grantMarketingConsent(harness.pool, [id]);
  return { id, email };
}

async function owned(harness: Harness, customerId: string): Promise<string[]> {
  const { rows } = await harness.pool.query<{ product_id: string }>(
    'SELECT product_id FROM customer_products WHERE customer_id = $1 AND ended_at IS NULL ORDER BY product_id',
    [customerId],
  );
  return rows.map((r) => r.product_id);
}

async function count(harness: Harness, table: string, where: string, params: unknown[]): Promise<number> {
  const { rows } = await harness.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params);
  return Number(rows[0]!.n);
}

const offerTo = (harness: Harness, customerId: string, body: Record<string, unknown>, headers?: Record<string, string>) =>
  harness.json('POST', `/v1/customers/${customerId}/offers`, { body, headers });
const answer = (harness: Harness, offerId: string, decision: string) => harness.json('POST', `/v1/offers/${offerId}/response`, { body: { decision } });

describe('the product catalogue', () => {
  it('lists the seeded products by category and tier, and lets only admins add and change products', async () => {
    const list = await h.json('GET', '/v1/products?category=internet');
    expect(list.status).toBe(200);
    expect(list.body.products.map((p: { id: string }) => p.id)).toEqual(['internet-s', 'internet-m', 'internet-l']);
    expect(list.body.products[2]).toEqual({
      id: 'internet-l',
      name: 'Internet L (1 Gbit/s)',
      category: 'internet',
      tier: 3,
      price: 44.99,
      active: true,
    });

    const product = { id: uniqueId('tv-ultra').replace(/_/g, '-'), name: 'TV Ultra', category: 'tv', tier: 3, price: 39.5 };
    expect((await h.json('POST', '/v1/products', { as: 'backoffice', body: product })).status).toBe(403);
    const created = await h.json('POST', '/v1/products', { as: 'admin', body: product });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ ...product, active: true });
    expect((await h.json('POST', '/v1/products', { as: 'admin', body: product })).status).toBe(409);

    const retired = await h.json('PATCH', `/v1/products/${product.id}`, { as: 'admin', body: { active: false, price: 35 } });
    expect(retired.status).toBe(200);
    expect(retired.body).toMatchObject({ active: false, price: 35 });
    const onSale = await h.json('GET', '/v1/products?category=tv');
    expect(onSale.body.products.map((p: { id: string }) => p.id)).not.toContain(product.id);
    const all = await h.json('GET', '/v1/products?category=tv&includeInactive=true');
    expect(all.body.products.map((p: { id: string }) => p.id)).toContain(product.id);
    expect((await h.json('GET', `/v1/products/${product.id}`)).body.active).toBe(false);
  });
});

describe('offers: eligible offers go out and their answer is recorded', () => {
  it('an accepted upsell replaces the lower tier, confirms by e-mail, and is recorded in contact history', async () => {
    const c = await seedCustomer(h, { owns: ['internet-s', 'mobile-s'] });
    const made = await offerTo(h, c.id, { kind: 'upsell', productId: 'internet-l', price: 39.99 });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      kind: 'upsell',
      productId: 'internet-l',
      replacesProductId: 'internet-s',
      price: 39.99,
      status: 'presented',
    });
    expect(made.headers.get('location')).toBe(`/v1/offers/${made.body.offerId}`);
    const described = await h.client.workflow.getHandle(`offer-${made.body.offerId}`).describe();
    expect(described.typedSearchAttributes.get(CrmOfferKind)).toBe('upsell');
    expect(described.typedSearchAttributes.get(CrmCustomerId)).toBe(c.id);

    const offerMail = await eventually(async () => (await h.mailbox(c.email)).find((m) => m.template === 'offer'));
    expect(offerMail.subject).toBe('Upgrade for you: Internet L (1 Gbit/s)');
    expect(offerMail.text).toContain('39.99');

    const accepted = await answer(h, made.body.offerId, 'accept');
    expect(accepted.status).toBe(200);
    expect(accepted.body.status).toBe('accepted');
    expect(accepted.body.transitions.map((t: { status: string }) => t.status)).toEqual(['checking', 'presented', 'accepted']);
    expect(accepted.body.transitions[2].actor).toBe(h.users.agent.id);

    expect(await owned(h, c.id)).toEqual(['internet-l', 'mobile-s']);
    const products = await h.json('GET', `/v1/customers/${c.id}/products`);
    expect(products.body.owned.find((p: { productId: string }) => p.productId === 'internet-l')).toMatchObject({
      price: 39.99,
      source: 'offer',
      sourceId: made.body.offerId,
    });
    expect(products.body.ended).toEqual([expect.objectContaining({ productId: 'internet-s', endedReason: expect.stringContaining('upsell offer') })]);

    const confirmation = await eventually(async () => (await h.mailbox(c.email)).find((m) => m.template === 'offer-confirmation'));
    expect(confirmation.text).toContain('replacing internet-s');
    const history = await h.pool.query('SELECT kind, direction FROM contact_events WHERE customer_id = $1 ORDER BY occurred_at, kind', [c.id]);
    expect(history.rows).toEqual([
      { kind: 'offer', direction: 'outbound' },
      { kind: 'offer-confirmation', direction: 'outbound' },
    ]);
    const listed = await h.json('GET', `/v1/customers/${c.id}/offers`);
    expect(listed.body.offers).toEqual([expect.objectContaining({ offerId: made.body.offerId, status: 'accepted', decidedBy: h.users.agent.id })]);
  });

  it('an accepted cross-sell adds a complementary product; a declined one changes nothing', async () => {
    const c = await seedCustomer(h, { owns: ['internet-m'] });
    const tv = await offerTo(h, c.id, { kind: 'cross-sell', productId: 'tv-basic' });
    expect(tv.status).toBe(201);
    expect(tv.body).toMatchObject({ replacesProductId: null, price: 9.99, status: 'presented' });
    expect((await answer(h, tv.body.offerId, 'accept')).body.status).toBe('accepted');
    expect(await owned(h, c.id)).toEqual(['internet-m', 'tv-basic']);

    const mobile = await offerTo(h, c.id, { kind: 'cross-sell', productId: 'mobile-s' });
    expect(mobile.status).toBe(201);
    const declined = await answer(h, mobile.body.offerId, 'decline');
    expect(declined.status).toBe(200);
    expect(declined.body.status).toBe('declined');
    expect(await owned(h, c.id)).toEqual(['internet-m', 'tv-basic']);
    const row = await h.pool.query('SELECT status, decided_by FROM offers WHERE id = $1', [mobile.body.offerId]);
    expect(row.rows[0]).toEqual({ status: 'declined', decided_by: h.users.agent.id });
    expect(await count(h, 'contact_events', "customer_id = $1 AND kind = 'offer-declined'", [c.id])).toBe(1);
  });

  it('a downsell is made to a customer at churn risk, or one who asked to cancel', async () => {
    const atRisk = await seedCustomer(h, { owns: ['mobile-l'], churnRisk: 0.85 });
    const down = await offerTo(h, atRisk.id, { kind: 'downsell', productId: 'mobile-m' });
    expect(down.status).toBe(201);
    expect(down.body.replacesProductId).toBe('mobile-l');
    expect((await answer(h, down.body.offerId, 'accept')).body.status).toBe('accepted');
    expect(await owned(h, atRisk.id)).toEqual(['mobile-m']);

    const loyal = await seedCustomer(h, { owns: ['tv-premium'], churnRisk: 0.1 });
    const refused = await offerTo(h, loyal.id, { kind: 'downsell', productId: 'tv-basic' });
    expect(refused.status).toBe(422);
    expect(refused.body.rule).toBe('downsell-lower-tier-for-customer-at-risk');

    const asked = await h.json('POST', `/v1/customers/${loyal.id}/events`, {
      body: { type: 'cancellation-request', channel: 'call', note: 'too expensive' },
    });
    expect(asked.status).toBe(201);
    const now = await offerTo(h, loyal.id, { kind: 'downsell', productId: 'tv-basic' });
    expect(now.status).toBe(201);
    expect(now.body.replacesProductId).toBe('tv-premium');
  });

  it('returns the first offer for a repeated Idempotency-Key', async () => {
    const c = await seedCustomer(h, { owns: ['internet-s'] });
    const key = uniqueId('offer');
    const first = await offerTo(h, c.id, { kind: 'upsell', productId: 'internet-m' }, { 'idempotency-key': key });
    const again = await offerTo(h, c.id, { kind: 'upsell', productId: 'internet-m' }, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.offerId).toBe(first.body.offerId);
    expect(await count(h, 'offers', 'customer_id = $1', [c.id])).toBe(1);
    const other = await offerTo(h, c.id, { kind: 'upsell', productId: 'internet-l' }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.detail).toMatch(/Idempotency-Key/);
  });
});

describe('offers: a retried accept changes products once', () => {
  it('repeated and concurrent accepts answer the same result and change the products once', async () => {
    const c = await seedCustomer(h, { owns: ['mobile-s'] });
    const made = await offerTo(h, c.id, { kind: 'upsell', productId: 'mobile-l' });
    const [a, b] = await Promise.all([answer(h, made.body.offerId, 'accept'), answer(h, made.body.offerId, 'accept')]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.status).toBe('accepted');
    expect(b.body.status).toBe('accepted');
    const late = await answer(h, made.body.offerId, 'accept');
    expect(late.status).toBe(200);
    expect(late.body.status).toBe('accepted');

    // The activity itself, retried after it committed (as Temporal would after a lost completion):
    const activities = createActivities({ pool: h.pool, transport: new FileTransport(h.mailDir) });
    const retried = await activities.acceptOffer({
      offerId: made.body.offerId,
      actor: h.users.agent.id,
      now: new Date().toISOString(),
      workflowId: `offer-${made.body.offerId}`,
    });
    expect(retried.changed).toBe(false);

    expect(await owned(h, c.id)).toEqual(['mobile-l']);
    expect(await count(h, 'customer_products', 'customer_id = $1', [c.id])).toBe(2);
    expect(await count(h, 'notification_outbox', "customer_id = $1 AND template = 'offer-confirmation'", [c.id])).toBe(1);

    const changeOfMind = await answer(h, made.body.offerId, 'decline');
    expect(changeOfMind.status).toBe(409);
    expect(changeOfMind.body.detail).toMatch(/accepted/);
  });
});

describe('offers: an ineligible offer is a 422 naming the rule and sends nothing', () => {
  it('refuses by rule', async () => {
    const c = await seedCustomer(h, { owns: ['internet-m', 'tv-basic'] });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kind: 'upsell', productId: 'mobile-l' }, 'upsell-higher-tier-in-owned-category'],
      [{ kind: 'upsell', productId: 'internet-s' }, 'upsell-higher-tier-in-owned-category'],
      [{ kind: 'cross-sell', productId: 'tv-premium' }, 'cross-sell-complementary-category-not-owned'],
      [{ kind: 'downsell', productId: 'internet-s' }, 'downsell-lower-tier-for-customer-at-risk'],
      [{ kind: 'upsell', productId: 'no-such-product' }, 'product-on-sale'],
    ];
    for (const [body, rule] of cases) {
      const res = await offerTo(h, c.id, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.rule).toBe(rule);
      expect(res.body.detail).toMatch(/not eligible/);
    }
    const tvOnly = await seedCustomer(h, { owns: ['tv-basic'] });
    const security = await offerTo(h, tvOnly.id, { kind: 'cross-sell', productId: 'security-home' });
    expect(security.status).toBe(422);
    expect(security.body.detail).toMatch(/security complements none of tv/);

    expect(await count(h, 'notification_outbox', 'customer_id = ANY($1)', [[c.id, tvOnly.id]])).toBe(0);
    expect(await count(h, 'offers', "customer_id = $1 AND status = 'ineligible'", [c.id])).toBe(4);
  });

  it('refuses an opted-out customer, a product off sale, and a second open offer of the same product', async () => {
    const optedOut = await seedCustomer(h, { owns: ['internet-s'] });
    expect((await h.json('POST', `/v1/customers/${optedOut.id}/events`, { body: { type: 'opt-out', channel: 'email' } })).status).toBe(201);
    const suppressed = await offerTo(h, optedOut.id, { kind: 'upsell', productId: 'internet-m' });
    expect(suppressed.status).toBe(422);
    expect(suppressed.body.rule).toBe('contact-allowed');

    const productId = uniqueId('legacy').replace(/_/g, '-');
    await h.json('POST', '/v1/products', {
      as: 'admin',
      body: { id: productId, name: 'Legacy', category: 'internet', tier: 4, price: 60, active: false },
    });
    const c = await seedCustomer(h, { owns: ['internet-s'] });
    const offSale = await offerTo(h, c.id, { kind: 'upsell', productId });
    expect(offSale.status).toBe(422);
    expect(offSale.body.rule).toBe('product-on-sale');

    expect((await offerTo(h, c.id, { kind: 'upsell', productId: 'internet-m' })).status).toBe(201);
    const twice = await offerTo(h, c.id, { kind: 'upsell', productId: 'internet-m' });
    expect(twice.status).toBe(422);
    expect(twice.body.rule).toBe('no-open-offer');
  });
});

describe('bad input on every offer and catalogue endpoint', () => {
  it('names each wrong field and stores nothing', async () => {
    const c = await seedCustomer(h, { owns: ['internet-s'] });
    const bad = await offerTo(h, c.id, { kind: 'sidesell', productId: 'Internet L', price: -1, validUntil: 'tomorrow', extra: true });
    expect(bad.status).toBe(400);
    const paths = bad.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.kind', 'body.productId', 'body.price', 'body.validUntil']));
    const past = await offerTo(h, c.id, { kind: 'upsell', productId: 'internet-m', validUntil: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.errors[0]).toMatchObject({ path: 'body.validUntil', message: 'must be in the future' });
    const far = await offerTo(h, c.id, {
      kind: 'upsell',
      productId: 'internet-m',
      validUntil: new Date(Date.now() + 400 * 86_400_000).toISOString(),
    });
    expect(far.status).toBe(400);
    expect((await offerTo(h, 'not-a-uuid', { kind: 'upsell', productId: 'internet-m' })).body.errors[0].path).toBe('path.id');
    expect((await offerTo(h, randomUUID(), { kind: 'upsell', productId: 'internet-m' })).status).toBe(404);
    expect(await count(h, 'offers', 'customer_id = $1', [c.id])).toBe(0);

    const badDecision = await h.json('POST', `/v1/offers/${randomUUID()}/response`, { body: { decision: 'maybe' } });
    expect(badDecision.status).toBe(400);
    expect(badDecision.body.errors[0].path).toBe('body.decision');
    expect((await answer(h, randomUUID(), 'accept')).status).toBe(404);
    expect((await h.json('GET', `/v1/offers/${randomUUID()}`)).status).toBe(404);
    expect((await h.json('GET', '/v1/offers/42')).status).toBe(400);

    const product = await h.json('POST', '/v1/products', {
      as: 'admin',
      body: { id: 'X', name: '', category: 'tv', tier: 11, price: 1.234 },
    });
    expect(product.status).toBe(400);
    expect(product.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['body.id', 'body.name', 'body.tier', 'body.price']));
    expect((await h.json('PATCH', '/v1/products/internet-s', { as: 'admin', body: {} })).status).toBe(400);
    expect((await h.json('PATCH', '/v1/products/no-such-thing', { as: 'admin', body: { price: 1 } })).status).toBe(404);
    expect((await h.json('GET', '/v1/products?category=Not%20A%20Slug')).status).toBe(400);
    expect((await h.json('GET', '/v1/products/no-such-thing')).status).toBe(404);
    expect((await h.json('GET', `/v1/customers/${randomUUID()}/products`)).status).toBe(404);
  });

  it('publishes the catalogue, offer, campaign and event routes in the OpenAPI document', async () => {
    const doc = await h.json('GET', '/openapi.json', { as: null });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/products',
        '/v1/products/{id}',
        '/v1/customers/{id}/products',
        '/v1/customers/{id}/offers',
        '/v1/offers/{id}',
        '/v1/offers/{id}/response',
        '/v1/campaigns',
        '/v1/campaigns/{id}',
        '/v1/campaigns/{id}/runs',
        '/v1/campaigns/{id}/enrollments/{customerId}',
        '/v1/customers/{id}/events',
        '/v1/customers/{id}/retention-profile',
      ]),
    );
    expect(doc.body.components.schemas.OfferRequest.required).toEqual(expect.arrayContaining(['kind', 'productId']));
    expect(doc.body.components.schemas.CampaignRequest.required).toEqual(expect.arrayContaining(['name', 'segment', 'schedule', 'steps']));
  });

  it('keeps analysts out of operational offers', async () => {
    const c = await seedCustomer(h, { owns: ['internet-s'] });
    expect((await h.json('GET', '/v1/products', { as: 'analyst' })).status).toBe(403);
    expect((await h.json('POST', `/v1/customers/${c.id}/offers`, { as: 'analyst', body: { kind: 'upsell', productId: 'internet-m' } })).status).toBe(403);
    expect((await h.json('GET', '/v1/products', { as: null })).status).toBe(401);
  });
});

describe('offers: expiry (time skipping)', () => {
  let ts: Harness;
  beforeAll(async () => {
    ts = await startHarness('offers_expiry', { timeSkipping: true });
  });
  afterAll(async () => {
    await ts?.close();
  });

  it('an offer nobody answers expires at validUntil and can no longer be accepted', async () => {
    const c = await seedCustomer(ts, { owns: ['internet-s'] });
    const made = await offerTo(ts, c.id, {
      kind: 'upsell',
      productId: 'internet-m',
      validUntil: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    expect(made.status).toBe(201);
    await ts.env!.sleep('2 days');
    expect((await ts.pool.query('SELECT status FROM offers WHERE id = $1', [made.body.offerId])).rows[0].status).toBe('presented');
    const result = await ts.client.workflow.getHandle(`offer-${made.body.offerId}`).result();
    expect(result.status).toBe('expired');
    const row = await ts.pool.query('SELECT status, reason FROM offers WHERE id = $1', [made.body.offerId]);
    expect(row.rows[0].status).toBe('expired');
    expect(row.rows[0].reason).toMatch(/no answer by/);
    const late = await answer(ts, made.body.offerId, 'accept');
    expect(late.status).toBe(409);
    expect(late.body.detail).toMatch(/expired/);
    expect(await owned(ts, c.id)).toEqual(['internet-s']);
    expect(await count(ts, 'contact_events', "customer_id = $1 AND kind = 'offer-expired'", [c.id])).toBe(1);
  });
});
