/**
 * GDPR for a person known only as a lead: export and erasure by e-mail address, confirmed with a
 * code sent to that address, through the same GDPR process and /v1/gdpr-requests routes as a
 * customer's requests. The erasure ends running funnels (reason `erased`) and leaves none of the
 * person's values in any table of the schema; an address with nothing held answers the same as
 * one with leads; a customer under the same address is not touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { codeFor, fetchExportByLink, mails, personalValuesInTables, registerCustomer, waitForGdpr, waitForMail } from './support/master-data.js';
import { DEFAULT_MASTER_DATA_POLICY, maskContact, type MasterDataPolicy } from '../src/domain/master-data.js';

const POLICY: MasterDataPolicy = {
  ...DEFAULT_MASTER_DATA_POLICY,
  codeTtl: '2 minutes',
  resendInterval: '1 minute',
  exportRetention: '2 minutes',
  erasureGracePeriod: '3 seconds',
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness('gdpr_leads', { masterDataPolicy: POLICY });
});
afterAll(async () => {
  await h?.close();
});

/** A person with values found nowhere else in the schema. */
function person() {
  const tag = uniqueId('p').slice(2, 10);
  const digits = String(parseInt(tag, 16) % 10_000_000).padStart(7, '0');
  return {
    name: `Rhea ${tag} Vance`,
    email: `rhea.${tag}@example.org`,
    phone: `+4940${digits}`,
    company: `Vance ${tag} Consulting`,
  };
}
type Person = ReturnType<typeof person>;

async function intake(p: Person, overrides: Record<string, unknown> = {}): Promise<string> {
  const res = await h.json('POST', '/v1/leads', {
    body: { name: p.name, email: p.email, phone: p.phone, company: p.company, source: 'web', interest: `${p.company} wants a CRM`, ...overrides },
    headers: { 'Idempotency-Key': uniqueId('intake') },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.status).toBe('accepted');
  return res.body.leadId;
}

async function ok(method: string, url: string, body?: unknown, expected = 200): Promise<any> {
  const res = await h.json(method, url, body === undefined ? {} : { body });
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBe(expected);
  return res.body;
}

async function requestLeadGdpr(kind: 'export' | 'erasure', email: string): Promise<string> {
  const res = await h.json('POST', `/v1/lead-data/${kind}`, { body: { email } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.headers.get('location')).toBe(`/v1/gdpr-requests/${res.body.requestId}`);
  expect(res.body.requestId).toMatch(new RegExp(`^${kind}-`));
  return res.body.requestId;
}

/** The request once its code went out (or would have) and was recorded: its updates are answered from then on. */
const awaitingCode = (requestId: string) =>
  eventually(async () => {
    const r = await h.json('GET', `/v1/gdpr-requests/${requestId}`);
    return r.status === 200 && r.body.status === 'awaiting-verification' && r.body.verification?.targets?.length > 0 ? r.body : undefined;
  });

const funnelOf = (leadId: string) => h.client.workflow.getHandle(`lead-${leadId}`);

describe.concurrent('GDPR for leads', () => {
  it("a lead's erasure leaves none of their values in any table, and ends the running funnel with the reason 'erased'", async () => {
    const p = person();
    // An earlier lead of the person, lost with a reason that quotes them; then the running one.
    const earlier = await intake(p);
    await ok('POST', `/v1/leads/${earlier}/transitions`, { to: 'lost', reason: `${p.name} chose a competitor` });
    const running = await intake(p, { phone: undefined });
    await ok('POST', `/v1/leads/${running}/interactions`, { channel: 'call', direction: 'outbound', summary: `Called ${p.name} at ${p.phone}` }, 201);
    await eventually(async () => (await h.json('GET', `/v1/leads/${running}`)).body.stage === 'contacted');
    const corrected = `${p.company} AG`;
    await ok('PATCH', `/v1/leads/${running}`, { company: corrected, phone: p.phone });
    await ok('POST', `/v1/leads/${running}/transitions`, { to: 'qualified', need: `${p.name} needs a pipeline`, budget: 20000, timeline: 'Q3' });

    const values = [p.name, p.email, p.phone, p.company, corrected];
    const before = await personalValuesInTables(h, values);
    // The test can fail: the values are spread over the lead, its timeline, corrections and interactions.
    for (const table of ['leads.', 'lead_transitions.', 'audit_log.', 'contact_events.'])
      expect(
        before.some((hit) => hit.startsWith(table)),
        table,
      ).toBe(true);

    const requestId = await requestLeadGdpr('erasure', p.email.toUpperCase());
    // Idempotent: the same address while the erasure is open answers with the same request.
    expect(await requestLeadGdpr('erasure', p.email)).toBe(requestId);
    const code = await codeFor(h, p.email);
    await waitForGdpr(h, requestId, 'awaiting-verification');
    await ok('POST', `/v1/gdpr-requests/${requestId}/verification`, { code });
    const erased = await waitForGdpr(h, requestId, 'erased', 60_000);
    expect(erased).toMatchObject({ subject: 'lead', kind: 'erasure' });
    expect(erased.customerId).toBeUndefined();
    expect(erased.erasedRows.leads).toBe(2);
    expect(erased.transitions.map((t: { status: string }) => t.status)).toEqual(['awaiting-verification', 'grace-period', 'erasing', 'erased']);
    await waitForMail(h, p.email, 'gdpr-erasure-scheduled');

    // The running funnel ended, with the reason recorded in its result and the lead's timeline.
    const description = await funnelOf(running).describe();
    expect(description.status.name).toBe('COMPLETED');
    // Its result is about the lead, sealed with the lead's key, which the erasure destroyed (crypto-shredding):
    // Temporal's copy can no longer be read; the reason is in the record.
    await expect(funnelOf(running).result()).rejects.toThrow(/destroyed by erasure/);
    const lead = await ok('GET', `/v1/leads/${running}`);
    expect(lead).toMatchObject({ stage: 'lost', name: 'Erased lead', lostReason: 'erased' });
    expect(lead.transitions.at(-1)).toMatchObject({ from: 'qualified', to: 'lost', reason: 'erased' });

    // Every text and JSON column of every table of the schema.
    expect(await personalValuesInTables(h, values)).toEqual([]);

    // A second erasure of the address finds nothing left and changes nothing.
    const again = await requestLeadGdpr('erasure', p.email);
    expect(again).not.toBe(requestId);
    await awaitingCode(again);
    await ok('POST', `/v1/gdpr-requests/${again}/verification`, { code: '000000' }, 422);
  });

  it('exports every lead of the address with its timeline, interactions and messages, once', async () => {
    const p = person();
    const leadId = await intake(p);
    await ok('POST', `/v1/leads/${leadId}/interactions`, { channel: 'email', direction: 'inbound', summary: `${p.name} asked for a demo` }, 201);
    const requestId = await requestLeadGdpr('export', p.email);
    expect(await requestLeadGdpr('export', p.email)).toBe(requestId);
    // Staff never get the content, ready or not.
    await ok('GET', `/v1/gdpr-requests/${requestId}/export`, undefined, 403);
    await waitForGdpr(h, requestId, 'awaiting-verification');
    await ok('POST', `/v1/gdpr-requests/${requestId}/verification`, { code: await codeFor(h, p.email) });
    const ready = await waitForGdpr(h, requestId, 'ready');
    expect(ready.exportBytes).toBeGreaterThan(200);
    await waitForMail(h, p.email, 'gdpr-export-ready');

    await ok('GET', `/v1/gdpr-requests/${requestId}/export`, undefined, 403);
    const fetched = await fetchExportByLink(h, p.email);
    expect(fetched.status, JSON.stringify(fetched.body)).toBe(200);
    const content = fetched.body;
    expect(content.leads).toEqual([expect.objectContaining({ id: leadId, name: p.name, email: p.email, phone: p.phone, company: p.company })]);
    expect(content.lead_transitions).toEqual(expect.arrayContaining([expect.objectContaining({ lead_id: leadId, to_stage: 'new' })]));
    expect(content.contact_events).toEqual([expect.objectContaining({ summary: `${p.name} asked for a demo` })]);
    expect(content.notification_outbox).toEqual(expect.arrayContaining([expect.objectContaining({ template: 'verification-code', recipient: p.email })]));
    // The code itself is in no row.
    expect(JSON.stringify(content)).not.toMatch(/"code"/);
    expect((await fetchExportByLink(h, p.email)).status).toBe(410);
    const retrieved = await waitForGdpr(h, requestId, 'retrieved');
    expect(retrieved.subject).toBe('lead');
    // Closed: the request no longer holds the address, and a new export may be asked for.
    const { rows } = await h.pool.query('SELECT subject_email FROM gdpr_requests WHERE request_id = $1', [requestId]);
    expect(rows[0].subject_email).toBeNull();
    expect(await requestLeadGdpr('export', p.email)).not.toBe(requestId);
  });

  it('an address with nothing held answers as one with leads, and only the one with leads gets a code', async () => {
    const known = person();
    await intake(known);
    const unknown = person();
    const knownId = await requestLeadGdpr('export', known.email);
    const unknownId = await requestLeadGdpr('export', unknown.email);
    await waitForMail(h, known.email, 'verification-code');
    const a = await awaitingCode(knownId);
    const b = await awaitingCode(unknownId);
    const shape = (r: any) => ({
      status: r.status,
      subject: r.subject,
      kind: r.kind,
      targets: r.verification.targets.map((t: any) => ({ ...t, sentTo: '' })),
      attemptsLeft: r.verification.attemptsLeft,
      log: r.verificationLog.map((e: any) => ({ status: e.status, reason: e.reason.replace(/to \S+/, 'to ?') })),
    });
    expect(shape(b)).toEqual(shape(a));
    expect(b.verification.targets[0].sentTo).toBe(maskContact(unknown.email));
    expect(await mails(h, unknown.email, 'verification-code')).toEqual([]);

    // A wrong code counts for both alike; the last attempt fails the request.
    for (const [id, left] of [
      [knownId, 4],
      [unknownId, 4],
    ] as const) {
      const wrong = await h.json('POST', `/v1/gdpr-requests/${id}/verification`, { body: { code: '000000' } });
      expect(wrong.status).toBe(422);
      expect(wrong.body).toMatchObject({ attemptsLeft: left, requestStatus: 'pending' });
    }
    for (let n = 3; n >= 0; n--) {
      const wrong = await h.json('POST', `/v1/gdpr-requests/${unknownId}/verification`, { body: { code: '000000' } });
      expect(wrong.status).toBe(422);
      expect(wrong.body.attemptsLeft).toBe(n);
    }
    const failed = await waitForGdpr(h, unknownId, 'failed');
    expect(failed.verificationLog.filter((e: { status: string }) => e.status === 'code-wrong')).toHaveLength(5);
    await ok('POST', `/v1/gdpr-requests/${unknownId}/verification`, { code: '000000' }, 409);
  });

  it('erasing a lead whose address is also a customer’s leaves the customer as it was', async () => {
    const p = person();
    const leadId = await intake(p);
    const customer = await registerCustomer(h, { email: p.email, name: `${p.name} Senior` });
    const requestId = await requestLeadGdpr('erasure', p.email);
    await awaitingCode(requestId);
    await ok('POST', `/v1/gdpr-requests/${requestId}/verification`, { code: await codeFor(h, p.email) });
    const erased = await waitForGdpr(h, requestId, 'erased', 60_000);
    expect(erased.erasedRows.leads).toBe(1);
    expect(await ok('GET', `/v1/leads/${leadId}`)).toMatchObject({ name: 'Erased lead', stage: 'lost' });
    expect(await ok('GET', `/v1/customers/${customer.id}`)).toMatchObject({ name: customer.name, email: customer.email, phone: customer.phone });
    const { rows } = await h.pool.query("SELECT count(*)::int AS n FROM notification_outbox WHERE customer_id = $1 AND recipient <> 'erased'", [customer.id]);
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it('cancels a lead erasure before it runs: nothing is erased', async () => {
    const p = person();
    const leadId = await intake(p);
    const requestId = await requestLeadGdpr('erasure', p.email);
    await awaitingCode(requestId);
    await ok('POST', `/v1/gdpr-requests/${requestId}/cancel`, { reason: 'changed their mind' });
    const cancelled = await waitForGdpr(h, requestId, 'cancelled');
    expect(cancelled.transitions.at(-1)).toMatchObject({ status: 'cancelled', reason: 'changed their mind' });
    expect(await ok('GET', `/v1/leads/${leadId}`)).toMatchObject({ name: p.name, email: p.email });
    expect((await funnelOf(leadId).describe()).status.name).toBe('RUNNING');
  });

  it('answers bad lead GDPR requests with a 4xx that names the problem', async () => {
    for (const kind of ['export', 'erasure']) {
      const url = `/v1/lead-data/${kind}`;
      const missing = await h.json('POST', url, { body: {} });
      expect(missing.status).toBe(400);
      expect(JSON.stringify(missing.body)).toContain('email');
      const invalid = await h.json('POST', url, { body: { email: 'not-an-address' } });
      expect(invalid.status).toBe(400);
      expect(JSON.stringify(invalid.body)).toContain('email');
      expect((await h.json('POST', url, { body: { email: 'a@example.org', customerId: 'x' } })).status).toBe(400);
      expect((await h.json('POST', url)).status).toBe(400);
      expect((await h.json('POST', url, { as: null, body: { email: 'a@example.org' } })).status).toBe(401);
      expect((await h.json('POST', url, { as: 'analyst', body: { email: 'a@example.org' } })).status).toBe(403);
    }
    // The request routes answer a lead request as a customer's: an export cannot be cancelled, a
    // resend waits its interval, a code is six digits.
    const exportId = await requestLeadGdpr('export', person().email);
    await awaitingCode(exportId);
    await ok('POST', `/v1/gdpr-requests/${exportId}/cancel`, {}, 409);
    await ok('POST', `/v1/gdpr-requests/${exportId}/verification/resend`, undefined, 429);
    await ok('POST', `/v1/gdpr-requests/${exportId}/verification`, { code: 'abc' }, 400);
  });
});
