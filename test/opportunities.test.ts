/**
 * Opportunities and deals: the lead funnel for an existing customer, the deal every lead and
 * opportunity carries (amount, currency, expected close, products, the stage's probability), and
 * what a won deal leaves behind (the customer's products, seen by the upsell rules).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { CrmCustomerId, CrmDealAmount, CrmDealCurrency, CrmDealProbability, CrmExpectedClose, CrmSource, CrmStatus } from '../src/domain/search-attributes.js';
import { DEFAULT_STAGE_PROBABILITIES } from '../src/domain/acquisition.js';

// Not the defaults: the funnel takes the probabilities it is configured with.
const PROBABILITIES = { ...DEFAULT_STAGE_PROBABILITIES, qualified: 0.35, proposal: 0.65 };

import { grantMarketingConsent } from './support/consent.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('opportunities', { acquisition: { stageProbabilities: PROBABILITIES } });
});
afterAll(async () => {
  // Open funnels and offers would wait out their timers on the shared dev server.
  const open = await h?.pool.query<{ workflow_id: string }>(
    "SELECT workflow_id FROM leads WHERE stage NOT IN ('won', 'lost') UNION ALL SELECT workflow_id FROM offers WHERE status IN ('pending', 'presented')",
  );
  await Promise.all(
    (open?.rows ?? []).map((r) =>
      h.client.workflow
        .getHandle(r.workflow_id)
        .terminate('opportunities test cleanup')
        .catch(() => undefined),
    ),
  );
  await h?.close();
});

async function customer(name = 'Carla Customer'): Promise<{ id: string; email: string }> {
  const email = `${uniqueId('carla')}@example.com`;
  const res = await h.json('POST', '/v1/customers', { body: { name, email } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id: string = res.body.id ?? res.body.customerId;
  // Offers are marketing: the customer agreed to them by e-mail, as an import would record.
  await grantMarketingConsent(h.pool, [id]);
  return { id, email };
}

const open = (customerId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  h.json('POST', `/v1/customers/${customerId}/opportunities`, { body, headers });

async function opened(customerId: string, body: Record<string, unknown>) {
  const res = await open(customerId, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function moveOk(id: string, body: Record<string, unknown>) {
  const res = await h.json('POST', `/v1/leads/${id}/transitions`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function owned(customerId: string): Promise<Array<{ product_id: string; source: string; source_id: string }>> {
  const { rows } = await h.pool.query(
    'SELECT product_id, source, source_id FROM customer_products WHERE customer_id = $1 AND ended_at IS NULL ORDER BY product_id',
    [customerId],
  );
  return rows;
}

const attributes = async (leadId: string) => (await h.client.workflow.getHandle(`lead-${leadId}`).describe()).typedSearchAttributes;

describe('opportunities for existing customers', () => {
  it('a won opportunity for an existing customer adds its product and a later upsell offer sees it', async () => {
    const c = await customer();
    // Owning no TV product, the customer cannot be upsold to TV Premium.
    const before = await h.json('POST', `/v1/customers/${c.id}/offers`, { body: { kind: 'upsell', productId: 'tv-premium' } });
    expect(before.status).toBe(422);
    expect(before.body.rule).toBe('upsell-higher-tier-in-owned-category');

    const opp = await opened(c.id, { productIds: ['tv-basic'], amount: 119.88, currency: 'EUR', expectedClose: '2026-12-31' });
    expect(opp).toMatchObject({
      kind: 'opportunity',
      stage: 'qualified',
      customerId: c.id,
      source: 'customer',
      email: c.email,
      amount: 119.88,
      currency: 'EUR',
      expectedClose: '2026-12-31',
      productIds: ['tv-basic'],
      probability: 0.35,
      weightedAmount: 41.96,
    });
    expect(opp.transitions).toMatchObject([{ from: null, to: 'qualified', reason: 'opportunity for an existing customer' }]);

    await moveOk(opp.leadId, { to: 'proposal', product: 'TV Basic, 12 months', amount: 119.88 });
    const won = await moveOk(opp.leadId, { to: 'won' });
    expect(won).toMatchObject({ stage: 'won', closed: true, customerId: c.id, probability: 1, weightedAmount: 119.88 });
    expect(won.onboardingWorkflowId).toBeUndefined();

    // No second registration: one customer with that address, no onboarding, no welcome.
    const customers = await h.pool.query('SELECT id FROM customers WHERE email_normalized = $1', [c.email]);
    expect(customers.rows).toEqual([{ id: c.id }]);
    expect((await h.pool.query('SELECT 1 FROM customer_onboardings WHERE lead_id = $1', [opp.leadId])).rowCount).toBe(0);
    expect(await owned(c.id)).toEqual([{ product_id: 'tv-basic', source: 'deal', source_id: opp.leadId }]);
    const products = await h.json('GET', `/v1/customers/${c.id}/products`);
    expect(products.body.owned.map((p: { productId: string }) => p.productId)).toEqual(['tv-basic']);

    // The upsell rule now sees the won product: TV Premium replaces TV Basic.
    const offer = await h.json('POST', `/v1/customers/${c.id}/offers`, { body: { kind: 'upsell', productId: 'tv-premium' } });
    expect(offer.status, JSON.stringify(offer.body)).toBe(201);
    expect(offer.body).toMatchObject({ kind: 'upsell', productId: 'tv-premium', replacesProductId: 'tv-basic', status: 'presented' });

    const sa = await attributes(opp.leadId);
    expect(sa.get(CrmStatus)).toBe('won');
    expect(sa.get(CrmCustomerId)).toBe(c.id);
    expect(sa.get(CrmSource)).toBe('customer');
    expect(sa.get(CrmDealAmount)).toBe(119.88);
    expect(sa.get(CrmDealCurrency)).toBe('EUR');
    expect(sa.get(CrmDealProbability)).toBe(1);
    expect(sa.get(CrmExpectedClose)?.toISOString()).toBe('2026-12-31T00:00:00.000Z');
  });

  it('a won lead registers its customer and adds the sold products to them', async () => {
    const email = `${uniqueId('lena')}@example.com`;
    const intake = await h.json('POST', '/v1/leads', {
      body: { name: 'Lena Lead', email, source: 'web', amount: 44.99, currency: 'EUR', productIds: ['internet-l', 'security-home'] },
    });
    expect(intake.status, JSON.stringify(intake.body)).toBe(202);
    const id = intake.body.leadId;
    const lead = await h.json('GET', `/v1/leads/${id}`);
    expect(lead.body).toMatchObject({
      kind: 'lead',
      stage: 'new',
      amount: 44.99,
      probability: 0.1,
      weightedAmount: 4.5,
      productIds: ['internet-l', 'security-home'],
    });
    await moveOk(id, { to: 'contacted' });
    await moveOk(id, { to: 'qualified', need: 'fast internet', budget: 50, timeline: 'now' });
    await moveOk(id, { to: 'proposal', product: 'Internet L with security', amount: 49.98 });
    const won = await moveOk(id, { to: 'won' });
    expect(won.customerId).toBeDefined();
    expect((await owned(won.customerId)).map((p) => p.product_id)).toEqual(['internet-l', 'security-home']);
    // The proposal's price became the deal's amount; the stage timeline carries each stage's probability.
    expect(won).toMatchObject({ amount: 49.98, probability: 1, weightedAmount: 49.98 });
    expect(won.transitions.map((t: { to: string }) => t.to)).toEqual(['new', 'contacted', 'qualified', 'proposal', 'won']);
    const probabilities = await h.pool.query<{ probability: string }>(
      "SELECT probability FROM lead_transitions WHERE lead_id = $1 AND kind = 'stage' ORDER BY seq",
      [id],
    );
    expect(probabilities.rows.map((r) => Number(r.probability))).toEqual([0.1, 0.2, 0.35, 0.65, 1]);
  });

  it('lists a customer’s opportunities with amount, probability and weighted amount; the open ones sum to amount × stage probability', async () => {
    const c = await customer('Fiona Forecast');
    const a = await opened(c.id, { productIds: ['mobile-m'], amount: 1000 });
    const b = await opened(c.id, { productIds: ['internet-m'], amount: 2500.5, currency: 'USD', expectedClose: '2027-01-15' });
    const d = await opened(c.id, { productIds: ['tv-premium'], amount: 300 });
    const e = await opened(c.id, { productIds: ['mobile-s'] });
    await moveOk(b.leadId, { to: 'proposal', product: 'Internet M', amount: 2600, currency: 'USD' });
    await moveOk(d.leadId, { to: 'lost', reason: 'went elsewhere' });

    const list = await h.json('GET', `/v1/customers/${c.id}/opportunities`);
    expect(list.status).toBe(200);
    const byId = Object.fromEntries(list.body.opportunities.map((o: { leadId: string }) => [o.leadId, o]));
    expect(Object.keys(byId).sort()).toEqual([a.leadId, b.leadId, d.leadId, e.leadId].sort());
    expect(byId[a.leadId]).toMatchObject({ kind: 'opportunity', stage: 'qualified', amount: 1000, currency: 'EUR', probability: 0.35, weightedAmount: 350 });
    expect(byId[b.leadId]).toMatchObject({
      stage: 'proposal',
      amount: 2600,
      currency: 'USD',
      probability: 0.65,
      weightedAmount: 1690,
      expectedClose: '2027-01-15',
    });
    expect(byId[d.leadId]).toMatchObject({ stage: 'lost', amount: 300, probability: 0, weightedAmount: 0 });
    expect(byId[e.leadId]).toMatchObject({ amount: null, probability: 0.35, weightedAmount: null });

    // The forecast of the open deals: Σ amount × probability of the stage, per currency.
    const openDeals = list.body.opportunities.filter((o: { closedAt: string | null; amount: number | null }) => !o.closedAt && o.amount !== null);
    const forecast = (currency: string) =>
      openDeals.filter((o: { currency: string }) => o.currency === currency).reduce((sum: number, o: { weightedAmount: number }) => sum + o.weightedAmount, 0);
    expect(forecast('EUR')).toBeCloseTo(1000 * PROBABILITIES.qualified, 2);
    expect(forecast('USD')).toBeCloseTo(2600 * PROBABILITIES.proposal, 2);
    // The same numbers as each funnel publishes them for analytics.
    for (const o of openDeals) {
      const sa = await attributes(o.leadId);
      expect([sa.get(CrmDealAmount), sa.get(CrmDealCurrency), sa.get(CrmDealProbability)]).toEqual([o.amount, o.currency, o.probability]);
    }
    // Page by page: every opportunity once, newest first.
    const first = await h.json('GET', `/v1/customers/${c.id}/opportunities?pageSize=3`);
    expect(first.body.opportunities).toHaveLength(3);
    const second = await h.json('GET', `/v1/customers/${c.id}/opportunities?pageSize=3&pageToken=${encodeURIComponent(first.body.nextPageToken)}`);
    expect(second.body.nextPageToken).toBeUndefined();
    expect([...first.body.opportunities, ...second.body.opportunities].map((o: { leadId: string }) => o.leadId)).toEqual([
      e.leadId,
      d.leadId,
      b.leadId,
      a.leadId,
    ]);
    expect((await h.json('GET', `/v1/customers/${c.id}/opportunities?pageToken=forged`)).status).toBe(400);
    expect((await h.json('GET', `/v1/customers/${c.id}/opportunities?pageSize=0`)).status).toBe(400);

    // The lead list reads the same deals, filtered by kind.
    const leads = await h.json('GET', `/v1/leads?kind=opportunity&q=${encodeURIComponent(c.email)}`);
    expect(leads.body.items.find((i: { leadId: string }) => i.leadId === b.leadId)).toMatchObject({ amount: 2600, probability: 0.65, weightedAmount: 1690 });
  });

  it('answers a repeat with the same Idempotency-Key with the first opportunity', async () => {
    const c = await customer();
    const key = uniqueId('opp-key');
    const first = await open(c.id, { productIds: ['mobile-s'], amount: 99 }, { 'idempotency-key': key });
    const again = await open(c.id, { productIds: ['mobile-s'], amount: 99 }, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.leadId).toBe(first.body.leadId);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await h.pool.query("SELECT 1 FROM leads WHERE customer_id = $1 AND kind = 'opportunity'", [c.id])).rowCount).toBe(1);
  });
});

describe('changing a deal', () => {
  it('changes amount, close date and products through the funnel: record, timeline, audit and search attributes together', async () => {
    const c = await customer();
    const opp = await opened(c.id, { productIds: ['internet-s'], amount: 240 });
    const res = await h.json('PATCH', `/v1/leads/${opp.leadId}/deal`, {
      body: { amount: 360.5, expectedClose: '2027-03-01', productIds: ['internet-m'], reason: 'faster line' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ amount: 360.5, currency: 'EUR', expectedClose: '2027-03-01', productIds: ['internet-m'], weightedAmount: 126.18 });
    expect(res.body.dealChanges).toMatchObject([
      { amount: 240, productIds: ['internet-s'], probability: 0.35, reason: 'taken in' },
      { amount: 360.5, expectedClose: '2027-03-01', productIds: ['internet-m'], probability: 0.35, reason: 'faster line', actor: h.users.agent.id },
    ]);
    const audit = await h.pool.query('SELECT field, old_value, new_value, actor FROM audit_log WHERE lead_id = $1 ORDER BY field', [opp.leadId]);
    expect(audit.rows).toEqual([
      { field: 'deal.amount', old_value: 240, new_value: 360.5, actor: h.users.agent.id },
      { field: 'deal.expectedClose', old_value: null, new_value: '2027-03-01', actor: h.users.agent.id },
      { field: 'deal.productIds', old_value: ['internet-s'], new_value: ['internet-m'], actor: h.users.agent.id },
    ]);
    const sa = await attributes(opp.leadId);
    expect(sa.get(CrmDealAmount)).toBe(360.5);
    expect(sa.get(CrmExpectedClose)?.toISOString()).toBe('2027-03-01T00:00:00.000Z');

    // An unchanged value changes nothing.
    const same = await h.json('PATCH', `/v1/leads/${opp.leadId}/deal`, { body: { amount: 360.5 } });
    expect(same.body.dealChanges).toHaveLength(2);
  });
});

describe('bad input', () => {
  it('refuses an unknown customer (404), an erased one (409), unknown or inactive products and bad amounts, currencies and dates (400 naming the field)', async () => {
    const unknown = randomUUID();
    expect((await open(unknown, { productIds: ['tv-basic'] })).status).toBe(404);
    expect((await h.json('GET', `/v1/customers/${unknown}/opportunities`)).status).toBe(404);
    expect((await h.json('GET', '/v1/customers/not-a-uuid/opportunities')).status).toBe(400);

    const erased = await customer();
    await h.pool.query("UPDATE customers SET status = 'erased' WHERE id = $1", [erased.id]);
    const refused = await open(erased.id, { productIds: ['tv-basic'] });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('erased');

    const c = await customer();
    await h.pool.query(
      "INSERT INTO products (id, name, category, tier, price, active) VALUES ('tv-retired', 'TV Retired', 'tv', 1, 5, false) ON CONFLICT DO NOTHING",
    );
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ productIds: ['no-such-product'] }, 'body.productIds', 'there is no product no-such-product'],
      [{ productIds: ['tv-retired'] }, 'body.productIds', 'tv-retired is no longer sold'],
      [{ productIds: [] }, 'productIds', 'at least one product'],
      [{}, 'productIds', ''],
      [{ productIds: ['tv-basic'], amount: -5 }, 'amount', 'positive'],
      [{ productIds: ['tv-basic'], amount: 10.005 }, 'amount', 'two decimals'],
      [{ productIds: ['tv-basic'], amount: '100' }, 'amount', 'number'],
      [{ productIds: ['tv-basic'], currency: 'EURO' }, 'currency', 'ISO 4217'],
      [{ productIds: ['tv-basic'], currency: 'ABC' }, 'currency', 'not an ISO 4217 currency code'],
      [{ productIds: ['tv-basic'], expectedClose: '2026-13-01' }, 'expectedClose', 'YYYY-MM-DD'],
      [{ productIds: ['tv-basic'], expectedClose: '2026-12-01T00:00:00Z' }, 'expectedClose', 'YYYY-MM-DD'],
      [{ productIds: ['tv-basic'], stage: 'won' }, '', 'stage'],
    ];
    for (const [body, field, message] of cases) {
      const res = await open(c.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.detail, JSON.stringify(body)).toContain(field);
      expect(res.body.detail, JSON.stringify(body)).toContain(message);
    }
    expect((await h.pool.query('SELECT 1 FROM leads WHERE customer_id = $1', [c.id])).rowCount).toBe(0);

    // Without a key 401, with the analyst's 403; a key reused for another body 422.
    expect((await h.json('POST', `/v1/customers/${c.id}/opportunities`, { body: { productIds: ['tv-basic'] }, as: null })).status).toBe(401);
    expect((await h.json('POST', `/v1/customers/${c.id}/opportunities`, { body: { productIds: ['tv-basic'] }, as: 'analyst' })).status).toBe(403);
    expect((await h.json('GET', `/v1/customers/${c.id}/opportunities`, { as: 'analyst' })).status).toBe(403);
    expect((await h.json('PATCH', `/v1/leads/${randomUUID()}/deal`, { body: { amount: 1 }, as: 'analyst' })).status).toBe(403);
    const key = uniqueId('reused');
    expect((await open(c.id, { productIds: ['tv-basic'], amount: 10 }, { 'idempotency-key': key })).status).toBe(201);
    const reused = await open(c.id, { productIds: ['tv-basic'], amount: 20 }, { 'idempotency-key': key });
    expect(reused.status).toBe(422);
    expect((await h.pool.query('SELECT 1 FROM leads WHERE customer_id = $1', [c.id])).rowCount).toBe(1);

    // A lead's intake and a deal change check the same.
    const intake = await h.json('POST', '/v1/leads', {
      body: { name: 'Bad Deal', email: `${uniqueId('bad')}@example.com`, source: 'web', productIds: ['tv-retired'] },
    });
    expect(intake.status).toBe(400);
    expect(intake.body.detail).toContain('tv-retired is no longer sold');
    const badCurrency = await h.json('POST', '/v1/leads', {
      body: { name: 'Bad Deal', email: `${uniqueId('bad')}@example.com`, source: 'web', currency: 'XYZ' },
    });
    expect(badCurrency.status).toBe(400);
    expect(badCurrency.body.detail).toContain('currency');
  });

  it('refuses to change or move a closed deal (409), a change of an unknown lead (404) and bad changes (400)', async () => {
    const c = await customer();
    const opp = await opened(c.id, { productIds: ['mobile-l'], amount: 420 });
    const patch = (id: string, body: unknown) => h.json('PATCH', `/v1/leads/${id}/deal`, { body });

    for (const [body, field] of [
      [{}, 'at least one field'],
      [{ amount: 0 }, 'amount'],
      [{ currency: 'eur' }, 'currency'],
      [{ expectedClose: 'soon' }, 'expectedClose'],
      [{ productIds: ['nope'] }, 'there is no product nope'],
      [{ productIds: ['mobile-l', 'mobile-l'] }, 'once'],
    ] as const) {
      const res = await patch(opp.leadId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.detail).toContain(field);
    }
    expect((await patch(randomUUID(), { amount: 5 })).status).toBe(404);
    expect((await patch('nope', { amount: 5 })).status).toBe(400);

    // The customer's data are the customer's: an opportunity is not corrected as a lead is.
    const correction = await h.json('PATCH', `/v1/leads/${opp.leadId}`, { body: { name: 'Someone Else' } });
    expect(correction.status).toBe(409);
    expect(correction.body.detail).toContain('correct them on the customer');

    await moveOk(opp.leadId, { to: 'lost', reason: 'no budget' });
    const closed = await patch(opp.leadId, { amount: 500 });
    expect(closed.status).toBe(409);
    expect(closed.body.detail).toContain('lost');
    const moved = await h.json('POST', `/v1/leads/${opp.leadId}/transitions`, { body: { to: 'proposal', product: 'x', amount: 1 } });
    expect(moved.status).toBe(409);
    // A lost deal adds nothing to the customer.
    expect(await owned(c.id)).toEqual([]);
    const sa = await attributes(opp.leadId);
    expect([sa.get(CrmStatus), sa.get(CrmDealProbability), sa.get(CrmDealAmount)]).toEqual(['lost', 0, 420]);
  });
});
