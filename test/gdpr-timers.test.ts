/**
 * The GDPR paths that wait: the export's one-time retrieval and its retention, and the erasure
 * after its grace period (or its cancellation during it).
 *
 * The durations are inputs (the policy the workflows run under), set to seconds here, as in
 * master-data-timers.test.ts; see there why not the time-skipping server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { durationMs } from '../src/domain/master-data.js';
import { CrmProcess } from '../src/domain/search-attributes.js';
import {
  fetchExportByLink,
  linkFor,
  personalValuesInTables,
  secretsInHistories,
  trackSecrets,
  waitForChange,
  waitForGdpr,
  waitForMail,
  workflowIdsOf,
  TIMER_POLICY,
  within,
} from './support/master-data.js';
import { ERASURE_COVERAGE } from '../activities/gdpr.js';

let h: Harness;

const POLICY = TIMER_POLICY;

beforeAll(async () => {
  h = await startHarness('gdpr_timers', { masterDataPolicy: POLICY });
});
afterAll(async () => {
  await h?.close();
});

const { secrets, customers, customer, code } = trackSecrets(() => h);
const gdprRequests: string[] = [];
async function requestChange(customerId: string, changes: Record<string, unknown>): Promise<string> {
  for (const v of Object.values(changes)) if (typeof v === 'string') secrets.add(v);
  const res = await h.json('POST', `/v1/customers/${customerId}/changes`, { body: { changes } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.changeId;
}
async function startGdpr(kind: 'export' | 'erasure', customerId: string): Promise<string> {
  const res = await h.json('POST', `/v1/customers/${customerId}/${kind}`, { body: {} });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.headers.get('location')).toBe(`/v1/gdpr-requests/${res.body.requestId}`);
  gdprRequests.push(res.body.requestId);
  return res.body.requestId;
}
async function verifyGdpr(requestId: string, email: string, n = 1): Promise<void> {
  await waitForGdpr(h, requestId, 'awaiting-verification');
  const res = await h.json('POST', `/v1/gdpr-requests/${requestId}/verification`, { body: { code: await code(email, n) } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

describe.concurrent('GDPR export', () => {
  it('assembles every personal datum after verification, hands it out once, then it is gone', async () => {
    const c = await customer();
    await h.pool.query(
      "INSERT INTO contact_events (customer_id, channel, direction, summary, recorded_by, idempotency_key) VALUES ($1, 'call', 'inbound', $2, 'agent-actor', $3)",
      [c.id, `Called about invoice, asked for ${c.name}`, uniqueId('ce')],
    );
    const requestId = await startGdpr('export', c.id);
    expect(requestId).toMatch(/^export-/);
    // GDPR is a process of its own for operators: started and tagged as 'gdpr', not 'master-data'.
    expect((await h.client.workflow.getHandle(`gdpr-${requestId}`).describe()).typedSearchAttributes.get(CrmProcess)).toBe('gdpr');
    // Staff never get the content: not before it is ready, not after.
    const notYet = await h.json('GET', `/v1/gdpr-requests/${requestId}/export`);
    expect(notYet.status).toBe(403);
    await verifyGdpr(requestId, c.email);
    const ready = await waitForGdpr(h, requestId, 'ready');
    expect(ready.exportBytes).toBeGreaterThan(500);
    await waitForMail(h, c.email, 'gdpr-export-ready');

    const staff = await h.json('GET', `/v1/gdpr-requests/${requestId}/export`, { as: 'admin' });
    expect(staff.status).toBe(403);
    expect(staff.body.detail).toContain('/links/export/');
    const got = await fetchExportByLink(h, c.email);
    expect(got.status).toBe(200);
    expect(got.headers.get('cache-control')).toBe('no-store');
    expect(got.body.customer).toMatchObject({ id: c.id, email: c.email, name: c.name, phone: c.phone });
    expect(got.body.contact_events).toEqual([expect.objectContaining({ summary: expect.stringContaining(c.name) })]);
    expect(got.body.audit_log.map((r: { field: string }) => r.field)).toEqual(expect.arrayContaining(['name', 'email', 'phone', 'address']));
    expect(got.body.notification_outbox.map((r: { template: string }) => r.template)).toEqual(expect.arrayContaining(['welcome', 'verification-code']));
    expect(got.body.verification_codes).toBeUndefined();

    const again = await fetchExportByLink(h, c.email);
    expect(again.status).toBe(410);
    const retrieved = await waitForGdpr(h, requestId, 'retrieved');
    expect(retrieved.transitions.at(-1).actor).toBe('customer');
    const { rows } = await h.pool.query('SELECT content, retrieved_by FROM gdpr_exports WHERE request_id = $1', [requestId]);
    expect(rows[0]).toEqual({ content: null, retrieved_by: 'customer' });
    // Only the hash of the link's token is kept.
    const token = (await linkFor(h, c.email, 'gdpr-export-ready')).split('/').at(-1)!;
    const links = await h.pool.query('SELECT token_sha256, used_at FROM customer_links WHERE request_id = $1', [requestId]);
    expect(links.rows).toEqual([{ token_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), used_at: expect.any(Date) }]);
    expect(JSON.stringify(links.rows)).not.toContain(token);
  });

  it('discards an export not fetched within its retention', async () => {
    const c = await customer();
    const requestId = await startGdpr('export', c.id);
    await verifyGdpr(requestId, c.email);
    await waitForGdpr(h, requestId, 'ready');
    await waitForGdpr(h, requestId, 'discarded', within(POLICY.exportRetention).timeoutMs);
    expect((await fetchExportByLink(h, c.email)).status).toBe(410);
  });
});

describe.concurrent('GDPR erasure', () => {
  it('suppresses the customer during the grace period and lifts the suppression when cancelled', async () => {
    const c = await customer();
    const requestId = await startGdpr('erasure', c.id);
    expect(requestId).toBe(`erasure-${c.id}`);
    await verifyGdpr(requestId, c.email);
    const grace = await waitForGdpr(h, requestId, 'grace-period');
    expect(new Date(grace.dueAt).getTime() - Date.parse(grace.transitions.at(-1).at)).toBeGreaterThanOrEqual(durationMs(POLICY.erasureGracePeriod) - 1_000);
    const active = await h.pool.query("SELECT lifted_at FROM suppressions WHERE customer_id = $1 AND reason = 'erasure'", [c.id]);
    expect(active.rows).toEqual([{ lifted_at: null }]);
    await waitForMail(h, c.email, 'gdpr-erasure-scheduled');
    expect((await h.json('POST', `/v1/customers/${c.id}/erasure`, { body: {} })).status).toBe(409);

    // Verified by the customer: staff cannot cancel it (a colleague, or whoever took the account over, cannot undo it)...
    for (const as of ['agent', 'backoffice', 'admin'] as const) {
      const refused = await h.json('POST', `/v1/gdpr-requests/${requestId}/cancel`, { as, body: { reason: 'customer stays' } });
      expect(refused.status, JSON.stringify(refused.body)).toBe(409);
      expect(refused.body.detail).toContain('only they can cancel it');
    }
    // ... the customer can, through the link in the "scheduled" message, once.
    const link = await linkFor(h, c.email, 'gdpr-erasure-scheduled');
    expect(link).toMatch(/^\/links\/erasure-cancellation\//);
    const cancelled = await h.json('POST', link, { as: null });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await waitForGdpr(h, requestId, 'cancelled')).transitions.at(-1).actor).toBe('customer');
    expect((await h.json('POST', link, { as: null })).status).toBe(410);
    const lifted = await h.pool.query("SELECT lifted_at FROM suppressions WHERE customer_id = $1 AND reason = 'erasure'", [c.id]);
    expect(lifted.rows[0].lifted_at).not.toBeNull();
    await waitForMail(h, c.email, 'gdpr-erasure-cancelled');
    // The request has ended: nothing is left to erase the customer later.
    expect((await h.client.workflow.getHandle(`gdpr-${requestId}`).describe()).status.name).toBe('COMPLETED');
    const { rows } = await h.pool.query('SELECT status, email FROM customers WHERE id = $1', [c.id]);
    expect(rows[0]).toEqual({ status: 'active', email: c.email });
    expect((await h.json('POST', `/v1/gdpr-requests/${requestId}/cancel`, { body: {} })).status).toBe(409);
  });

  it('after the grace period leaves no personal value of the customer in any operational table, keeps the facts and audits the erasure', async () => {
    const c = await customer();
    const other = await customer();
    // Data in every process: a bank account and birth date by an approved change, an interaction, retention notes.
    const iban = 'GB82WEST12345698765432';
    const changeId = await requestChange(c.id, { bankAccount: iban, birthDate: '1979-03-14' });
    await waitForChange(h, changeId, 'awaiting-approval');
    await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    await waitForChange(h, changeId, 'applied');
    const summary = `Complaint by ${c.name} about ${c.email}`;
    await h.pool.query(
      "INSERT INTO contact_events (customer_id, channel, direction, summary, recorded_by, idempotency_key) VALUES ($1, 'email', 'inbound', $2, 'agent-actor', $3)",
      [c.id, summary, uniqueId('ce')],
    );
    const tables = new Set(
      (
        await h.pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'", [
          h.schema,
        ])
      ).rows.map((r) => r.table_name),
    );
    if (tables.has('customer_events')) {
      await h.pool.query(
        "INSERT INTO customer_events (id, customer_id, type, note, occurred_at, recorded_by, idempotency_key) VALUES (gen_random_uuid(), $1, 'complaint', $2, now(), 'agent-actor', $3)",
        [c.id, `${c.name} phoned from ${c.phone}`, uniqueId('ev')],
      );
    }
    if (tables.has('leads')) {
      // The lead the customer came from, and an older lead under the same address.
      await h.pool.query(
        `INSERT INTO leads (id, workflow_id, name, email, email_normalized, phone, source, owner_id, created_by, interest, customer_id, stage)
         VALUES (gen_random_uuid(), 'lead-x', $1, $2, lower($2), $3, 'web', 'owner', 'agent-actor', $4, $5, 'won'),
                (gen_random_uuid(), 'lead-y', $1, $2, lower($2), $3, 'event', 'owner', 'agent-actor', NULL, NULL, 'lost')`,
        [c.name, c.email, c.phone, `wants fibre at ${c.name}'s home`, c.id],
      );
    }
    // Every table has an erasure decision: a table added without one fails here.
    expect([...tables].filter((t) => !(t in ERASURE_COVERAGE))).toEqual([]);

    const requestId = await startGdpr('erasure', c.id);
    await verifyGdpr(requestId, c.email);
    await waitForGdpr(h, requestId, 'grace-period');
    const erased = await waitForGdpr(h, requestId, 'erased', within(POLICY.erasureGracePeriod).timeoutMs);
    expect(erased.erasedRows.customers).toBe(1);

    const street = (await h.pool.query('SELECT address FROM customers WHERE id = $1', [other.id])).rows[0].address.street;
    const hits = await personalValuesInTables(h, [c.name, c.email, c.phone, iban, summary]);
    expect(hits).toEqual([]);
    // The other customer is untouched: the scan does find values that are there.
    expect((await personalValuesInTables(h, [other.email, street])).length).toBeGreaterThan(0);

    const row = (
      await h.pool.query('SELECT name, email, phone, address, birth_date, bank_account_iban, status, erased_at FROM customers WHERE id = $1', [c.id])
    ).rows[0];
    expect(row).toMatchObject({
      name: 'Erased customer',
      phone: null,
      address: null,
      birth_date: null,
      bank_account_iban: null,
      status: 'erased',
    });
    expect(row.erased_at).not.toBeNull();
    // Facts stay: that there was an inbound e-mail, which fields changed when, by whom.
    const events = await h.pool.query('SELECT channel, direction, summary FROM contact_events WHERE customer_id = $1', [c.id]);
    expect(events.rows).toEqual([{ channel: 'email', direction: 'inbound', summary: '[erased]' }]);
    const audit = await h.json('GET', `/v1/customers/${c.id}/audit?limit=200`);
    expect(audit.body.items.some((i: { field: string; actor: string }) => i.field === 'bankAccount' && i.actor === h.users.agent.id)).toBe(true);
    const erasure = audit.body.items.find((i: { field: string }) => i.field === 'erasure');
    expect(erasure).toMatchObject({ process: 'gdpr', actor: h.users.agent.id, changeId: requestId, oldValue: null });
    expect(JSON.stringify(erasure.newValue)).not.toContain(c.email);
    expect(
      audit.body.items
        .filter((i: { field: string }) => i.field !== 'erasure')
        .every((i: { oldValue: unknown; newValue: unknown }) => i.oldValue === null && i.newValue === null),
    ).toBe(true);
    // An erased customer takes no changes and no second request.
    expect((await h.json('POST', `/v1/customers/${c.id}/changes`, { body: { changes: { name: 'Back Again' } } })).status).toBe(409);
    expect((await h.json('POST', `/v1/customers/${c.id}/export`, { body: {} })).status).toBe(409);
  });
});

describe('personal data in histories', () => {
  it('leaves no e-mail, phone, name, IBAN or code of these tests in clear in any workflow history', async () => {
    for (const s of ['FR1420041010050500013M02606', 'GB82WEST12345698765432']) secrets.add(s);
    const ids = await workflowIdsOf(
      h,
      customers.map((c) => c.id),
      gdprRequests.map((r) => `gdpr-${r}`),
    );
    const codes = [...secrets].filter((s) => /^\d{6}$/.test(s));
    // One code per request these tests confirm.
    expect(codes.length).toBeGreaterThan(3);
    expect(
      await secretsInHistories(
        h,
        ids,
        [...secrets].filter((s) => s.length >= 6),
      ),
    ).toEqual([]);
  });
});
