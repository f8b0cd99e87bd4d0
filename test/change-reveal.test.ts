import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { registerCustomer, waitForChange } from './support/master-data.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('change_reveal');
});
afterAll(async () => {
  await h?.close();
});

const IBAN = 'DE89370400440532013000';
const MASKED = 'DE89…3000';

async function requestChange(customerId: string, changes: Record<string, unknown>, as: 'agent' | 'backoffice') {
  const res = await h.json('POST', `/v1/customers/${customerId}/changes`, { as, body: { changes, reason: 'customer called' } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.changeId as string;
}

const reveal = (
  changeId: string,
  as: 'agent' | 'agent2' | 'backoffice' | 'admin' | 'analyst',
  body: unknown = { reason: 'checking the holder before approving' },
) => h.json('POST', `/v1/changes/${changeId}/reveal`, { as, body });

describe('approvers see what they approve', () => {
  it('shows an approver every new value in full, the bank account only through an audited reveal, and clears it once decided', async () => {
    const c = await registerCustomer(h);
    const newName = `Janet ${uniqueId('n').slice(2)} Doe`;
    const changeId = await requestChange(c.id, { bankAccount: IBAN, name: newName, birthDate: '1981-03-04' }, 'agent');
    await waitForChange(h, changeId, 'awaiting-approval');

    // Every read masks the IBAN, the approver's included; the other new values show in full.
    const read = await h.json('GET', `/v1/changes/${changeId}`, { as: 'backoffice' });
    expect(read.status).toBe(200);
    expect(read.body.preview).toEqual({ bankAccount: MASKED, name: newName, birthDate: '1981-03-04' });
    expect(JSON.stringify(read.body)).not.toContain(IBAN);
    const list = await h.json('GET', `/v1/customers/${c.id}/changes`, { as: 'backoffice' });
    expect(JSON.stringify(list.body)).not.toContain(IBAN);

    const shown = await reveal(changeId, 'backoffice');
    expect(shown.status, JSON.stringify(shown.body)).toBe(200);
    expect(shown.body).toMatchObject({
      changeId,
      customerId: c.id,
      values: { bankAccount: IBAN, name: newName, birthDate: '1981-03-04' },
      revealedBy: h.users.backoffice.id,
    });

    // Who, when, which change and why, in the customer's audit trail; the value itself only masked.
    const audit = await h.json('GET', `/v1/customers/${c.id}/audit?limit=200`, { as: 'backoffice' });
    const rows = audit.body.items.filter((i: { field: string }) => i.field === 'bankAccount:reveal');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor: h.users.backoffice.id,
      changeId,
      process: 'master-data',
      newValue: { shown: MASKED, reason: 'checking the holder before approving' },
    });
    expect(Date.parse(rows[0].at)).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.stringify(audit.body)).not.toContain(IBAN);
    // A second reveal is a second audit row.
    expect((await reveal(changeId, 'admin')).status).toBe(200);
    const again = await h.pool.query("SELECT actor FROM audit_log WHERE change_id = $1 AND field = 'bankAccount:reveal' ORDER BY id", [changeId]);
    expect(again.rows.map((r) => r.actor)).toEqual([h.users.backoffice.id, h.users.admin.id]);

    // The approval is bound to the user id, and once decided the full value is gone from the change.
    const approved = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const applied = await waitForChange(h, changeId, 'applied');
    expect(applied.approval).toMatchObject({ decision: 'approve', approver: h.users.backoffice.id });
    const stored = await h.pool.query('SELECT new_bank_account FROM change_requests WHERE id = $1', [changeId]);
    expect(stored.rows[0].new_bank_account).toBeNull();
    const late = await reveal(changeId, 'admin');
    expect(late.status).toBe(409);
    expect(late.body.detail).toMatch(/not awaiting approval/);
  });

  it('refuses the requester, agents and analysts with 403, an unknown change with 404, no reason with 400', async () => {
    const c = await registerCustomer(h);
    const changeId = await requestChange(c.id, { bankAccount: IBAN }, 'backoffice');
    await waitForChange(h, changeId, 'awaiting-approval');

    const self = await reveal(changeId, 'backoffice');
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/requester/);
    for (const role of ['agent', 'agent2', 'analyst'] as const) {
      const res = await reveal(changeId, role);
      expect(res.status, role).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain(IBAN);
    }
    const unknown = await reveal('00000000-0000-4000-8000-000000000000', 'admin');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/problem\+json/);
    const noReason = await reveal(changeId, 'admin', {});
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(noReason.body)).toMatch(/reason/);
    const badId = await reveal('not-a-uuid', 'admin');
    expect(badId.status).toBe(400);
    const refusedRows = await h.pool.query("SELECT count(*)::int AS n FROM audit_log WHERE change_id = $1 AND field = 'bankAccount:reveal'", [changeId]);
    expect(refusedRows.rows[0].n).toBe(0);

    // A change without a bank account has nothing masked to reveal.
    const c2 = await registerCustomer(h);
    const nameChange = await requestChange(c2.id, { name: `Jo ${uniqueId('n').slice(2)} Roe` }, 'agent');
    await waitForChange(h, nameChange, 'awaiting-approval');
    const nothing = await reveal(nameChange, 'admin');
    expect(nothing.status).toBe(409);
    expect(nothing.body.detail).toMatch(/sets no bank account/);
  });
});
