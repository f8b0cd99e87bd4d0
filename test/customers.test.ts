import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { notificationWorkflowId } from '../src/domain/notifications.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('customers');
});
afterAll(async () => {
  await h?.close();
});

const email = () => `${uniqueId('jane')}@Example.COM`;
const registration = (overrides: Record<string, unknown> = {}) => ({
  name: 'Jane Doe',
  email: email(),
  phone: '+49 30 1234567',
  address: { street: 'Hauptstr. 1', postalCode: '10115', city: 'Berlin', country: 'de' },
  locale: 'de-DE',
  ...overrides,
});

async function count(table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params);
  return Number(rows[0]!.n);
}

describe('customer registration over HTTP', () => {
  it('registers a customer, audits it, and delivers the welcome message through the outbox', async () => {
    const input = registration();
    const res = await h.json('POST', '/v1/customers', { body: input, headers: { 'idempotency-key': uniqueId('reg') } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Jane Doe',
      email: input.email,
      phone: '+49301234567',
      locale: 'de-DE',
      status: 'active',
      version: 1,
    });
    expect(res.body.address).toEqual({ street: 'Hauptstr. 1', postalCode: '10115', city: 'Berlin', country: 'DE' });
    expect(res.headers.get('location')).toBe(`/v1/customers/${res.body.id}`);

    const got = await h.json('GET', `/v1/customers/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);

    const audit = await h.pool.query('SELECT field, new_value, actor, process FROM audit_log WHERE customer_id = $1 ORDER BY field', [res.body.id]);
    expect(audit.rows.map((r) => r.field)).toEqual(['address', 'email', 'locale', 'name', 'phone']);
    expect(audit.rows.every((r) => r.actor === h.users.agent.id && r.process === 'registration')).toBe(true);

    // Onboarding, started by the registration, sends its own messages; this is about the welcome.
    const outbox = await h.pool.query(`SELECT id, template, recipient FROM notification_outbox WHERE customer_id = $1 AND template = 'welcome'`, [res.body.id]);
    expect(outbox.rows).toHaveLength(1);
    expect(outbox.rows[0]).toMatchObject({ template: 'welcome', recipient: input.email });

    // Delivery runs in its own workflow: wait for it, then look at the mailbox and the row.
    const delivery = await h.client.workflow.getHandle(notificationWorkflowId(outbox.rows[0].id)).result();
    expect(delivery.sentAt).toBeTruthy();
    const sent = await h.pool.query('SELECT sent_at FROM notification_outbox WHERE id = $1', [outbox.rows[0].id]);
    expect(sent.rows[0].sent_at).not.toBeNull();
    const mails = (await h.mailbox(input.email)).filter((m) => m.template === 'welcome');
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ id: outbox.rows[0].id, template: 'welcome', subject: 'Welcome' });
    expect(mails[0]!.text).toContain('Jane Doe');
  });

  it('makes the registration findable in Temporal by customer, process and status, with a summary', async () => {
    const key = uniqueId('reg');
    const res = await h.json('POST', '/v1/customers', {
      body: registration({ name: 'Ada Lovelace' }),
      headers: { 'idempotency-key': key },
    });
    expect(res.status).toBe(201);
    const description = await h.client.workflow.getHandle(`customer-register-${key}`).describe();
    expect(description.type).toBe('registerCustomer');
    expect(description.typedSearchAttributes.get(CrmCustomerId)).toBe(res.body.id);
    expect(description.typedSearchAttributes.get(CrmProcess)).toBe('registration');
    expect(description.typedSearchAttributes.get(CrmStatus)).toBe('registered');
    expect(await description.staticSummary()).toBe(`Register customer ${res.body.id}`);

    const state = await h.json('GET', `/v1/registrations/${key}`);
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({ status: 'registered', customerId: res.body.id });
    expect(state.body.transitions.map((t: { status: string }) => t.status)).toEqual(['received', 'registered']);
  });

  it('answers 409 with the existing id for an e-mail already registered, in any letter case', async () => {
    const first = await h.json('POST', '/v1/customers', { body: registration() });
    expect(first.status).toBe(201);
    const again = await h.json('POST', '/v1/customers', {
      body: registration({ name: 'Someone Else', email: first.body.email.toUpperCase() }),
    });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    expect(again.body).toMatchObject({ status: 409, existingCustomerId: first.body.id });
    expect(await count('customers', 'email_normalized = $1', [first.body.email.toLowerCase()])).toBe(1);
  });

  it('lets exactly one of two concurrent registrations of the same e-mail win', async () => {
    const body = registration();
    const [a, b] = await Promise.all([h.json('POST', '/v1/customers', { body }), h.json('POST', '/v1/customers', { body: { ...body, name: 'Twin' } })]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect(await count('customers', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
  });

  it('returns the first result for a repeated Idempotency-Key and refuses the key for another body', async () => {
    const key = uniqueId('idem');
    const body = registration();
    const first = await h.json('POST', '/v1/customers', { body, headers: { 'idempotency-key': key } });
    const repeat = await h.json('POST', '/v1/customers', { body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    expect(repeat.status).toBe(201);
    expect(repeat.body.id).toBe(first.body.id);
    expect(await count('customers', 'email_normalized = $1', [body.email.toLowerCase()])).toBe(1);
    expect(await count('notification_outbox', `customer_id = $1 AND template = 'welcome'`, [first.body.id])).toBe(1);

    const other = await h.json('POST', '/v1/customers', { body: registration(), headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body.detail).toMatch(/Idempotency-Key/);
  });
});

describe('bad input is a 4xx problem that names the problem and stores nothing', () => {
  it('names every wrong field of a registration', async () => {
    const before = await count('customers');
    const res = await h.json('POST', '/v1/customers', {
      body: {
        name: '',
        email: 'not-an-email',
        phone: '0301234',
        address: { street: 'x', postalCode: 'ABC', city: 'Berlin', country: 'XX' },
        locale: 'not a locale!',
        extra: 1,
      },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.email', 'body.phone', 'body.address.country', 'body.locale']));
    expect(paths.some((p: string) => p === 'body' || p === 'body.extra')).toBe(true);
    expect(res.body.requestId).toBeTruthy();
    expect(await count('customers')).toBe(before);
  });

  it('checks postcodes against the country', async () => {
    const res = await h.json('POST', '/v1/customers', {
      body: registration({ address: { street: 'Main St 1', postalCode: '1234', city: 'Springfield', country: 'US' } }),
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'body.address.postalCode', message: 'is not a valid postcode for US' })]);
  });

  it('rejects a missing body, malformed JSON, a wrong content type and an oversized body', async () => {
    const missing = await h.json('POST', '/v1/customers', { headers: { 'content-type': 'application/json' } });
    expect(missing.status).toBe(400);
    const bare = await h.json('POST', '/v1/customers');
    expect(bare.status).toBe(400);
    expect(bare.headers.get('content-type')).toContain('application/problem+json');
    const malformed = await h.json('POST', '/v1/customers', { rawBody: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.detail).toMatch(/Malformed JSON/);
    const text = await h.json('POST', '/v1/customers', {
      rawBody: 'name=Jane',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(text.status).toBe(415);
    expect(text.body.detail).toMatch(/application\/json/);
    const huge = await h.json('POST', '/v1/customers', { body: registration({ name: 'x'.repeat(70 * 1024) }) });
    expect(huge.status).toBe(413);
    expect(huge.headers.get('content-type')).toContain('application/problem+json');
  });

  it('rejects a malformed Idempotency-Key, a malformed id and an unknown customer', async () => {
    const key = await h.json('POST', '/v1/customers', { body: registration(), headers: { 'idempotency-key': 'has spaces in it' } });
    expect(key.status).toBe(400);
    expect(key.body.errors[0].path).toBe('header.idempotency-key');
    const badId = await h.json('GET', '/v1/customers/42');
    expect(badId.status).toBe(400);
    expect(badId.body.errors[0].path).toBe('path.id');
    const unknown = await h.json('GET', '/v1/customers/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    const noRoute = await h.json('GET', '/v1/nothing-here');
    expect(noRoute.status).toBe(404);
    expect(noRoute.headers.get('content-type')).toContain('application/problem+json');
    const noRegistration = await h.json('GET', '/v1/registrations/never-started');
    expect(noRegistration.status).toBe(404);
  });
});

describe('authentication and roles', () => {
  it('answers 401 without a key, with a malformed header and with an unknown key', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer nope' }] as Array<Record<string, string>>) {
      const res = await h.json('GET', '/v1/customers/00000000-0000-4000-8000-000000000000', { as: null, headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(res.body.status).toBe(401);
    }
  });

  it('answers 403 to a role that may not register customers, and stores nothing', async () => {
    const before = await count('customers');
    const res = await h.json('POST', '/v1/customers', { as: 'analyst', body: registration() });
    expect(res.status).toBe(403);
    expect(res.body.detail).toMatch(/analyst/);
    expect(await count('customers')).toBe(before);
  });

  it('lets every operational role read a customer', async () => {
    const created = await h.json('POST', '/v1/customers', { body: registration() });
    for (const as of ['agent', 'backoffice', 'admin'] as const) {
      expect((await h.json('GET', `/v1/customers/${created.body.id}`, { as })).status).toBe(200);
    }
  });
});

describe('service endpoints', () => {
  it('reports liveness and readiness without a key', async () => {
    expect((await h.json('GET', '/healthz', { as: null })).body).toEqual({ status: 'ok' });
    const ready = await h.json('GET', '/readyz', { as: null });
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ postgres: 'ok', temporal: 'ok' });
  });

  it('publishes an OpenAPI 3.1 document generated from the schemas, and an interactive reference', async () => {
    const doc = await h.json('GET', '/openapi.json', { as: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/customers', '/v1/customers/{id}', '/v1/registrations/{key}']));
    expect(doc.body.components.schemas.RegistrationRequest.required).toEqual(expect.arrayContaining(['name', 'email']));
    expect(doc.body.components.securitySchemes.bearerAuth.scheme).toBe('bearer');
    const page = await h.request('GET', '/docs', { as: null });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/docs/assets/swagger-ui-bundle.js');
    const asset = await h.request('GET', '/docs/assets/swagger-ui-bundle.js', { as: null });
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(100_000);
  });
});
