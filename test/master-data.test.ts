import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { secretsInHistories, trackSecrets, waitForChange, waitForMail, workflowIdsOf, type TestCustomer } from './support/master-data.js';
import { CrmCustomerId, CrmProcess } from '../src/domain/search-attributes.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('master_data');
});
afterAll(async () => {
  await h?.close();
});

/** Everything these tests put into requests that must never reach a history in clear. */
const { secrets, customers, customer, code } = trackSecrets(() => h);

async function requestChange(
  customerId: string,
  changes: Record<string, unknown>,
  as: 'agent' | 'backoffice' | 'admin' = 'agent',
  headers: Record<string, string> = {},
) {
  for (const v of Object.values(changes)) if (typeof v === 'string') secrets.add(v);
  const res = await h.json('POST', `/v1/customers/${customerId}/changes`, { as, body: { changes, reason: 'customer called' }, headers });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.headers.get('location')).toBe(`/v1/changes/${res.body.changeId}`);
  return res.body.changeId as string;
}

async function customerRow(id: string) {
  const { rows } = await h.pool.query(
    "SELECT name, email, phone, address, to_char(birth_date, 'YYYY-MM-DD') AS birth_date, bank_account_iban, version, status FROM customers WHERE id = $1",
    [id],
  );
  return rows[0];
}

const IBAN = 'DE89370400440532013000';
const IBAN_2 = 'GB82WEST12345698765432';

describe('verified changes of contact data', () => {
  it('confirms a new e-mail with a code sent to it and one sent to the old address, applies, audits and notifies', async () => {
    const c = await customer();
    const newEmail = `new.${uniqueId('m')}@example.org`;
    const changeId = await requestChange(c.id, { email: newEmail });

    const waiting = await waitForChange(h, changeId, 'awaiting-verification');
    expect(waiting.fields).toEqual(['email']);
    expect(waiting.verification.targets).toEqual([
      expect.objectContaining({ target: 'new-email', channel: 'email', verified: false }),
      expect.objectContaining({ target: 'existing-contact', channel: 'email', verified: false }),
    ]);
    expect(waiting.verification.targets[0].sentTo).not.toBe(newEmail);

    const theCode = await code(newEmail);
    const notice = await waitForMail(h, c.email, 'contact-change-notice');
    expect(notice[0]!.text).toContain(changeId);
    // Stored only as a hash; the outbox records the message but not its code.
    const stored = await h.pool.query("SELECT encode(code_hash, 'hex') AS hash FROM verification_codes WHERE subject = $1", [changeId]);
    expect(stored.rows).toHaveLength(2);
    expect(stored.rows[0].hash).not.toContain(theCode);
    const outbox = await h.pool.query("SELECT payload::text AS payload FROM notification_outbox WHERE template = 'verification-code' AND recipient = $1", [
      newEmail,
    ]);
    expect(outbox.rows).toHaveLength(1);
    expect(outbox.rows[0].payload).not.toContain(theCode);
    expect((await customerRow(c.id)).email).toBe(c.email);

    const verified = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: theCode } });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    // The new address alone is not enough: the old one confirms too.
    expect(verified.body).toMatchObject({ verified: true, status: 'pending' });
    expect((await waitForChange(h, changeId, 'awaiting-verification')).status).toBe('awaiting-verification');
    expect((await customerRow(c.id)).email).toBe(c.email);
    const old = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: await code(c.email) } });
    expect(old.body).toMatchObject({ verified: true, status: 'verified' });

    const applied = await waitForChange(h, changeId, 'applied');
    expect(applied.outcome).toEqual({ version: 2 });
    expect(applied.transitions.map((t: { status: string }) => t.status)).toEqual(['queued', 'awaiting-verification', 'verified', 'applying', 'applied']);
    const row = await customerRow(c.id);
    expect(row).toMatchObject({ email: newEmail, version: 2 });
    const audit = await h.pool.query(
      "SELECT old_value, new_value, actor, process, change_id FROM audit_log WHERE customer_id = $1 AND process = 'master-data'",
      [c.id],
    );
    expect(audit.rows).toEqual([{ old_value: c.email, new_value: newEmail, actor: h.users.agent.id, process: 'master-data', change_id: changeId }]);
    const done = await waitForMail(h, newEmail, 'master-data-applied');
    expect(done[0]!.text).toContain('email');

    const description = await h.client.workflow.getHandle(`master-data-${c.id}`).describe();
    expect(description.type).toBe('customerMasterData');
    expect(description.typedSearchAttributes.get(CrmCustomerId)).toBe(c.id);
    expect(description.typedSearchAttributes.get(CrmProcess)).toBe('master-data');
  });

  it('confirms an address and phone change with a code by SMS to the new number and one to the phone on record', async () => {
    const c = await customer();
    const newPhone = '+41 44 668 18 00';
    const changeId = await requestChange(c.id, {
      address: { street: 'Bahnhofstrasse 1', postalCode: '8001', city: 'Zürich', country: 'ch' },
      phone: newPhone,
    });
    const waiting = await waitForChange(h, changeId, 'awaiting-verification');
    expect(waiting.verification.targets.map((t: { target: string }) => t.target).sort()).toEqual(['existing-contact', 'new-phone']);

    const smsCode = await code('+41446681800');
    // A phone change is confirmed from the phone on record (which also covers the address).
    const oldPhoneCode = await code(c.phone);
    // The old phone hears of the change before it takes effect.
    await waitForMail(h, c.phone, 'contact-change-notice');
    const first = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: smsCode } });
    expect(first.body).toMatchObject({ verified: true, status: 'pending' });
    const second = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: oldPhoneCode } });
    expect(second.body).toMatchObject({ verified: true, status: 'verified' });
    await waitForChange(h, changeId, 'applied');
    const row = await customerRow(c.id);
    expect(row.phone).toBe('+41446681800');
    expect(row.address).toEqual({ street: 'Bahnhofstrasse 1', postalCode: '8001', city: 'Zürich', country: 'CH' });
  });

  it('fails the change after five wrong codes, tells the customer and takes no sixth code', async () => {
    const c = await customer();
    const changeId = await requestChange(c.id, {
      address: { street: 'Rue de Rivoli 1', postalCode: '75001', city: 'Paris', country: 'FR' },
    });
    await waitForChange(h, changeId, 'awaiting-verification');
    const right = await code(c.email);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let left = 4; left >= 1; left--) {
      const res = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: wrong } });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ attemptsLeft: left, changeStatus: 'pending' });
    }
    const fifth = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: wrong } });
    expect(fifth.status).toBe(422);
    expect(fifth.body).toMatchObject({ attemptsLeft: 0, changeStatus: 'failed' });
    const failed = await waitForChange(h, changeId, 'failed');
    expect(failed.outcome.detail).toMatch(/wrong code was entered 5 times/);

    const late = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: right } });
    expect(late.status).toBe(409);
    expect(late.headers.get('content-type')).toContain('application/problem+json');
    expect((await customerRow(c.id)).address.city).toBe('Berlin');
    const told = await waitForMail(h, c.email, 'master-data-failed');
    expect(told[0]!.text).toMatch(/wrong code/);
  });
});

describe('four eyes for name, birth date and bank account', () => {
  it('applies after a backoffice approval, with the approver and a masked IBAN in the audit trail', async () => {
    const c = await customer();
    const changeId = await requestChange(c.id, { bankAccount: 'de89 3704 0044 0532 0130 00', birthDate: '1980-02-29' });
    const waiting = await waitForChange(h, changeId, 'awaiting-approval');
    expect(waiting.preview).toEqual({ bankAccount: 'DE89…3000', birthDate: '1980-02-29' });
    expect(waiting.approval).toMatchObject({ required: true, escalated: false });
    await waitForMail(h, 'backoffice@localhost', 'approval-needed');

    const byAgent = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'agent', body: { decision: 'approve' } });
    expect(byAgent.status).toBe(403);
    const approved = await h.json('POST', `/v1/changes/${changeId}/approval`, {
      as: 'backoffice',
      body: { decision: 'approve', comment: 'ID checked' },
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const applied = await waitForChange(h, changeId, 'applied');
    expect(applied.approval).toMatchObject({ decision: 'approve', approver: h.users.backoffice.id });

    const row = await customerRow(c.id);
    expect(row).toMatchObject({ bank_account_iban: IBAN, birth_date: '1980-02-29', version: 2 });
    // The API shows the birth date and only a masked bank account.
    const shown = await h.json('GET', `/v1/customers/${c.id}`);
    expect(shown.body).toMatchObject({ birthDate: '1980-02-29', bankAccount: 'DE89…3000', version: 2 });
    expect(JSON.stringify(shown.body)).not.toContain(IBAN);
    const audit = await h.json('GET', `/v1/customers/${c.id}/audit?limit=2`);
    expect(audit.status).toBe(200);
    expect(audit.body.items).toHaveLength(2);
    expect(audit.body.items.map((i: { field: string }) => i.field).sort()).toEqual(['bankAccount', 'birthDate']);
    const bank = audit.body.items.find((i: { field: string }) => i.field === 'bankAccount');
    expect(bank).toMatchObject({
      oldValue: null,
      newValue: 'DE89…3000',
      actor: h.users.agent.id,
      approver: h.users.backoffice.id,
      changeId,
      process: 'master-data',
    });
    // The next page goes on with the registration's rows, and the last page says so.
    const page2 = await h.json('GET', `/v1/customers/${c.id}/audit?limit=2&cursor=${audit.body.nextCursor}`);
    expect(page2.body.items).toHaveLength(2);
    expect(page2.body.items.every((i: { process: string }) => i.process === 'registration')).toBe(true);
    const all = await h.json('GET', `/v1/customers/${c.id}/audit?limit=200`);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.items.map((i: { id: number }) => i.id)).toEqual([...all.body.items.map((i: { id: number }) => i.id)].sort((a, b) => b - a));
    const outbox = await h.pool.query('SELECT payload::text AS p FROM notification_outbox WHERE customer_id = $1', [c.id]);
    expect(outbox.rows.some((r) => r.p.includes(IBAN) || r.p.includes('0532013000'))).toBe(false);
  });

  it('refuses approval by the requester with 403, and lets another backoffice user decide', async () => {
    const c = await customer();
    const newName = `Janet ${uniqueId('n').slice(2)} Doe`;
    const changeId = await requestChange(c.id, { name: newName }, 'backoffice');
    await waitForChange(h, changeId, 'awaiting-approval');
    const self = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/second person/);
    expect((await h.json('GET', `/v1/changes/${changeId}`)).body.status).toBe('awaiting-approval');
    const other = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'admin', body: { decision: 'approve' } });
    expect(other.status).toBe(200);
    await waitForChange(h, changeId, 'applied');
    expect((await customerRow(c.id)).name).toBe(newName);
  });

  it("a second key of the same user cannot approve that user's change", async () => {
    const c = await customer();
    const secondKey = await h.issueKey(h.users.backoffice.id, 'laptop');
    const changeId = await requestChange(c.id, { name: `Joan ${uniqueId('n').slice(2)} Doe` }, 'backoffice');
    await waitForChange(h, changeId, 'awaiting-approval');
    const self = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: { key: secondKey }, body: { decision: 'approve' } });
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/second person/);
    const change = (await h.json('GET', `/v1/changes/${changeId}`)).body;
    expect(change).toMatchObject({ status: 'awaiting-approval', requestedBy: h.users.backoffice.id });
    expect((await customerRow(c.id)).name).toBe(c.name);
  });

  it('rejects with a comment, changes nothing and tells the customer; a second decision is a 409', async () => {
    const c = await customer();
    const changeId = await requestChange(c.id, { name: 'Somebody Else' });
    await waitForChange(h, changeId, 'awaiting-approval');
    const noComment = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'backoffice', body: { decision: 'reject' } });
    expect(noComment.status).toBe(400);
    expect(noComment.body.errors[0].path).toBe('body.comment');
    const rejected = await h.json('POST', `/v1/changes/${changeId}/approval`, {
      as: 'backoffice',
      body: { decision: 'reject', comment: 'no proof of name change' },
    });
    expect(rejected.status).toBe(200);
    const state = await waitForChange(h, changeId, 'rejected');
    expect(state.outcome.detail).toBe('not approved: no proof of name change');
    const again = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'admin', body: { decision: 'approve' } });
    expect(again.status).toBe(409);
    expect(await customerRow(c.id)).toMatchObject({ name: c.name, version: 1 });
    await waitForMail(h, c.email, 'master-data-failed');
  });
});

describe('one change at a time per customer', () => {
  it('queues two concurrent requests and applies both, in order, without either overwriting the other', async () => {
    const c = await customer();
    const [a, b] = await Promise.all([
      h.json('POST', `/v1/customers/${c.id}/changes`, { body: { changes: { bankAccount: IBAN } } }),
      h.json('POST', `/v1/customers/${c.id}/changes`, { body: { changes: { birthDate: '1975-06-01' } } }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect([a.body.position, b.body.position].sort()).toEqual([0, 1]);
    const [first, second] = a.body.position === 0 ? [a.body.changeId, b.body.changeId] : [b.body.changeId, a.body.changeId];
    await waitForChange(h, first, 'awaiting-approval');
    expect((await h.json('GET', `/v1/changes/${second}`)).body.status).toBe('queued');
    // The queued one cannot be decided yet.
    expect((await h.json('POST', `/v1/changes/${second}/approval`, { as: 'backoffice', body: { decision: 'approve' } })).status).toBe(409);

    await h.json('POST', `/v1/changes/${first}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    await waitForChange(h, first, 'applied');
    await waitForChange(h, second, 'awaiting-approval');
    await h.json('POST', `/v1/changes/${second}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    const last = await waitForChange(h, second, 'applied');
    // The second was based on version 1; the first moved the row on, so it was re-validated and applied on top.
    expect(last.transitions.some((t: { reason?: string }) => /version conflict/.test(t.reason ?? ''))).toBe(true);
    expect(await customerRow(c.id)).toMatchObject({ bank_account_iban: IBAN, birth_date: '1975-06-01', version: 3 });
  });

  it('returns the same change for a repeated Idempotency-Key', async () => {
    const c = await customer();
    const key = uniqueId('chg');
    const one = await requestChange(c.id, { name: 'Jane Q. Public' }, 'agent', { 'idempotency-key': key });
    const two = await requestChange(c.id, { name: 'Jane Q. Public' }, 'agent', { 'idempotency-key': key });
    expect(two).toBe(one);
    const rows = await h.pool.query('SELECT id FROM change_requests WHERE customer_id = $1', [c.id]);
    expect(rows.rows).toHaveLength(1);
    const cancelled = await h.json('POST', `/v1/changes/${one}/cancel`, { body: { reason: 'customer changed their mind' } });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await h.json('POST', `/v1/changes/${one}/cancel`, { body: {} })).status).toBe(409);
  });
});

describe('without a worker', () => {
  it('answers 503 instead of hanging, and the same request goes through once a worker is back', async () => {
    const c = await customer();
    const key = uniqueId('down');
    await h.stopWorker();
    try {
      const down = await h.json('POST', `/v1/customers/${c.id}/changes`, {
        body: { changes: { name: 'Jane Patient' }, reason: 'customer called' },
        headers: { 'idempotency-key': key },
      });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
    } finally {
      await h.startWorker();
    }
    const changeId = await requestChange(c.id, { name: 'Jane Patient' }, 'agent', { 'idempotency-key': key });
    await waitForChange(h, changeId, 'awaiting-approval');
    const rows = await h.pool.query('SELECT id FROM change_requests WHERE customer_id = $1', [c.id]);
    expect(rows.rows.map((r) => r.id)).toEqual([changeId]);
  }, 90_000); // the 503 comes after the harness's result wait (30 s)
});

describe('version conflicts', () => {
  it('re-validates when another writer moved the row: applies when our fields are untouched, fails without overwriting when they are not', async () => {
    const c = await customer();
    const untouched = await requestChange(c.id, { name: 'Jane Untouched Doe' });
    await waitForChange(h, untouched, 'awaiting-approval');
    // Another process writes the row meanwhile (a different field).
    await h.pool.query("UPDATE customers SET locale = 'fr-FR', version = version + 1 WHERE id = $1", [c.id]);
    await h.json('POST', `/v1/changes/${untouched}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    const applied = await waitForChange(h, untouched, 'applied');
    expect(applied.outcome.version).toBe(3);
    expect(applied.transitions.find((t: { reason?: string }) => /version conflict/.test(t.reason ?? '')).reason).toMatch(/from version 1 to 2/);
    expect(await customerRow(c.id)).toMatchObject({ name: 'Jane Untouched Doe', version: 3 });

    const conflicting = await requestChange(c.id, { birthDate: '1990-01-01' });
    await waitForChange(h, conflicting, 'awaiting-approval');
    await h.pool.query("UPDATE customers SET birth_date = '1991-12-31', version = version + 1 WHERE id = $1", [c.id]);
    await h.json('POST', `/v1/changes/${conflicting}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    const failed = await waitForChange(h, conflicting, 'failed');
    expect(failed.outcome.detail).toMatch(/version conflict: birthDate changed since the request.*nothing was overwritten/);
    expect(await customerRow(c.id)).toMatchObject({ birth_date: '1991-12-31', version: 4 });
  });
});

describe('bad input is a problem that names the field and stores nothing', () => {
  let c: TestCustomer;
  beforeAll(async () => {
    c = await customer();
  });
  const post = (body: unknown, id = c.id) => h.json('POST', `/v1/customers/${id}/changes`, { body });
  const paths = (res: { body: { errors?: Array<{ path: string }> } }) => (res.body.errors ?? []).map((e) => e.path);

  it('checks every field of a change request with its real format', async () => {
    const res = await post({
      changes: {
        email: 'nope',
        phone: '0301234',
        address: { street: 'x', postalCode: '1234', city: 'Springfield', country: 'US' },
        birthDate: '2999-01-01',
        bankAccount: 'DE89370400440532013001',
        name: '',
      },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(paths(res).sort()).toEqual([
      'body.changes.address.postalCode',
      'body.changes.bankAccount',
      'body.changes.birthDate',
      'body.changes.email',
      'body.changes.name',
      'body.changes.phone',
    ]);
    expect(res.body.errors.find((e: { path: string }) => e.path === 'body.changes.bankAccount').message).toMatch(/mod-97/);

    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ bankAccount: 'DE8937040044053201300' }, 'body.changes.bankAccount', /wrong length for DE \(22/],
      [{ bankAccount: 'XX89370400440532013000' }, 'body.changes.bankAccount', /country/],
      [{ birthDate: '1850-05-05' }, 'body.changes.birthDate', /plausible/],
      [{ birthDate: '2001-02-29' }, 'body.changes.birthDate', /calendar date/],
      [{ birthDate: '01.02.1990' }, 'body.changes.birthDate', /YYYY-MM-DD/],
      [{ address: { street: 'Damrak 1', postalCode: '1012', city: 'Amsterdam', country: 'NL' } }, 'body.changes.address.postalCode', /NL/],
      [{ address: { street: 'High St 1', postalCode: 'XYZ', city: 'London', country: 'GB' } }, 'body.changes.address.postalCode', /GB/],
      [{ address: { street: 'Ring 1', postalCode: '123', city: 'Wien', country: 'AT' } }, 'body.changes.address.postalCode', /AT/],
      [{ address: { street: 'Main 1', postalCode: '10115', city: 'Berlin', country: 'ZZ' } }, 'body.changes.address.country', /ISO 3166/],
      [{ nickname: 'JD' }, 'body.changes', /nickname|Unrecognized/i],
      [{}, 'body.changes', /at least one field/],
    ];
    for (const [changes, path, message] of cases) {
      const r = await post({ changes });
      expect(r.status, JSON.stringify(changes)).toBe(400);
      const error = r.body.errors.find((e: { path: string }) => e.path === path);
      expect(error, `${JSON.stringify(changes)} → ${JSON.stringify(r.body.errors)}`).toBeTruthy();
      expect(error.message).toMatch(message);
    }
    expect((await post({})).status).toBe(400);
    expect((await post({ changes: { name: 'x' }, extra: 1 })).status).toBe(400);
    expect((await post({ changes: { name: 'x' }, reason: 'r'.repeat(501) })).status).toBe(400);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM change_requests WHERE customer_id = $1', [c.id])).rows[0].n).toBe(0);
  });

  it('answers a no-op change with 400, and an unknown or malformed customer with 404 and 400', async () => {
    const noop = await post({
      changes: {
        email: c.email.toUpperCase(),
        phone: c.phone,
        address: { street: (await customerRow(c.id)).address.street, postalCode: '10115', city: 'Berlin', country: 'de' },
      },
    });
    expect(noop.status).toBe(400);
    expect(noop.body.errors[0]).toMatchObject({ path: 'body.changes', code: 'no_op' });
    expect((await post({ changes: { name: 'New Name' } }, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const malformed = await post({ changes: { name: 'New Name' } }, 'not-a-uuid');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors[0].path).toBe('path.id');
  });

  it('checks the other endpoints: codes, decisions, ids, pagination and roles', async () => {
    const unknown = '00000000-0000-4000-8000-000000000001';
    const badCode = await h.json('POST', `/v1/changes/${unknown}/verification`, { body: { code: '12ab' } });
    expect(badCode.status).toBe(400);
    expect(badCode.body.errors[0].path).toBe('body.code');
    expect((await h.json('POST', `/v1/changes/${unknown}/verification`, { body: { code: '123456' } })).status).toBe(404);
    expect((await h.json('POST', `/v1/changes/${unknown}/verification/resend`, { body: {} })).status).toBe(404);
    expect((await h.json('GET', `/v1/changes/${unknown}`)).status).toBe(404);
    expect((await h.json('GET', '/v1/changes/nope')).status).toBe(400);
    const badDecision = await h.json('POST', `/v1/changes/${unknown}/approval`, { as: 'backoffice', body: { decision: 'maybe' } });
    expect(badDecision.status).toBe(400);
    expect(badDecision.body.errors[0].path).toBe('body.decision');
    expect((await h.json('POST', `/v1/changes/${unknown}/approval`, { as: 'backoffice', body: { decision: 'approve' } })).status).toBe(404);
    expect((await h.json('POST', `/v1/changes/${unknown}/cancel`, { body: { reason: 5 } })).status).toBe(400);
    expect((await h.json('GET', `/v1/customers/${c.id}/audit?limit=0`)).status).toBe(400);
    expect((await h.json('GET', `/v1/customers/${c.id}/audit?limit=500`)).status).toBe(400);
    expect((await h.json('GET', `/v1/customers/${c.id}/audit?cursor=abc`)).status).toBe(400);
    expect((await h.json('GET', `/v1/customers/${unknown}/audit`)).status).toBe(404);
    expect((await h.json('POST', `/v1/customers/${unknown}/export`, { body: {} })).status).toBe(404);
    expect((await h.json('POST', `/v1/customers/${unknown}/erasure`, { body: {} })).status).toBe(404);
    expect((await h.json('POST', '/v1/customers/x/erasure', { body: {} })).status).toBe(400);
    expect((await h.json('GET', '/v1/gdpr-requests/export-123')).status).toBe(400);
    expect((await h.json('GET', `/v1/gdpr-requests/export-${unknown}`)).status).toBe(404);
    expect((await h.json('GET', `/v1/gdpr-requests/export-${unknown}/export`)).status).toBe(404);
    expect((await h.json('GET', '/links/export/not-a-token', { as: null })).status).toBe(404);
    expect((await h.json('POST', `/links/erasure-cancellation/${'x'.repeat(32)}`, { as: null })).status).toBe(404);
    expect((await h.json('POST', `/v1/gdpr-requests/erasure-${unknown}/verification`, { body: { code: 'abc' } })).status).toBe(400);
    expect((await h.json('POST', `/v1/gdpr-requests/export-${unknown}/cancel`, { body: {} })).status).toBe(409);
    // Roles: analysts read reports, not customers; no key is a 401.
    expect((await h.json('POST', `/v1/customers/${c.id}/changes`, { as: 'analyst', body: { changes: { name: 'X Y' } } })).status).toBe(403);
    expect((await h.json('GET', `/v1/customers/${c.id}/audit`, { as: 'analyst' })).status).toBe(403);
    expect((await h.json('POST', `/v1/customers/${c.id}/export`, { as: null, body: {} })).status).toBe(401);
    const text = await h.json('POST', `/v1/customers/${c.id}/changes`, { rawBody: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
  });
});

describe('payload encryption', () => {
  it("stores payloads sealed with AES-256-GCM under the customer's own key, and decodes them only with a codec token, audited", async () => {
    const c = customers[0]!;
    const workflowId = `master-data-${c.id}`;
    const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
    const update = history.events!.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)!.workflowExecutionUpdateAcceptedEventAttributes!;
    const payload = update.acceptedRequest!.input!.args!.payloads![0]!;
    const meta = Object.fromEntries(Object.entries(payload.metadata!).map(([k, v]) => [k, Buffer.from(v).toString()]));
    // About one customer: sealed with that customer's own key (a random id naming nobody), which erasure destroys.
    expect(meta).toEqual({
      encoding: 'binary/encrypted',
      'encryption-cipher': 'AES-256-GCM',
      'encryption-key-id': expect.stringMatching(/^sk-[A-Za-z0-9_-]{16}$/),
      'encryption-key-kind': 'subject',
    });
    expect(meta['encryption-key-id']).not.toContain(c.id);

    const wire = {
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(payload.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(payload.data!).toString('base64'),
        },
      ],
    };
    const codec = { key: h.codecToken };
    const ns = { 'x-namespace': 'default' };
    const decoded = await h.json('POST', '/codec/decode', { as: codec, headers: { ...ns, 'x-workflow-id': workflowId }, body: wire });
    expect(decoded.status).toBe(200);
    const clear = JSON.parse(Buffer.from(decoded.body.payloads[0].data, 'base64').toString());
    expect(clear).toMatchObject({ customerId: c.id, requestedBy: h.users.agent.id });
    expect(Buffer.from(decoded.body.payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
    // Who decoded how many payloads of which workflow is recorded; the payloads are not.
    const audit = await h.pool.query('SELECT actor, namespace, payloads FROM codec_decodes WHERE workflow_id = $1', [workflowId]);
    expect(audit.rows).toEqual([{ actor: 'test-codec', namespace: 'default', payloads: 1 }]);

    // No API key decodes, not even an admin's; another namespace and a missing one are refused.
    expect((await h.json('POST', '/codec/decode', { as: 'admin', headers: ns, body: wire })).status).toBe(401);
    expect((await h.json('POST', '/codec/decode', { as: null, headers: ns, body: wire })).status).toBe(401);
    expect((await h.json('POST', '/codec/decode', { as: codec, headers: { 'x-namespace': 'other' }, body: wire })).status).toBe(403);
    const noNamespace = await h.json('POST', '/codec/decode', { as: codec, body: wire });
    expect(noNamespace.status).toBe(400);
    expect(noNamespace.body.detail).toMatch(/X-Namespace/);
    // The key-in-the-path endpoint is gone, and nothing answered echoes a key.
    const byPathKey = await h.request('POST', `/codec/key/${h.keys.admin}/decode`, { as: null, headers: ns, body: wire });
    expect(byPathKey.status).toBe(404);
    expect(await byPathKey.text()).not.toContain(h.keys.admin);
    // A codec token opens nothing else.
    expect((await h.json('GET', `/v1/customers/${c.id}`, { as: codec })).status).toBe(401);
    expect((await h.json('POST', '/codec/decode', { as: codec, headers: ns, body: { payloads: 'x' } })).status).toBe(400);
    const tampered = {
      payloads: [{ ...wire.payloads[0]!, data: Buffer.from('garbage that is long enough to look sealed').toString('base64') }],
    };
    expect((await h.json('POST', '/codec/decode', { as: codec, headers: ns, body: tampered })).status).toBe(422);

    // Encoding (the CLI starting a workflow with clear input) takes an admin's API key, never the decode-only token.
    const clearPayloads = {
      payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"hi"').toString('base64') }],
    };
    expect((await h.json('POST', '/codec/encode', { as: codec, headers: ns, body: clearPayloads })).status).toBe(401);
    expect((await h.json('POST', '/codec/encode', { as: 'agent', headers: ns, body: clearPayloads })).status).toBe(403);
    const encoded = await h.json('POST', '/codec/encode', { as: 'admin', headers: ns, body: clearPayloads });
    expect(encoded.status).toBe(200);
    expect(Buffer.from(encoded.body.payloads[0].metadata['encryption-key-id'], 'base64').toString()).toBe(h.keyring.activeKeyId);
  });

  it('answers the Temporal UI’s CORS preflight for its origin only, without credentials', async () => {
    const preflight = (origin: string) =>
      h.request('OPTIONS', '/codec/decode', {
        as: null,
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace,authorization',
        },
      });
    const ok = await preflight('http://localhost:8233');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    for (const origin of ['https://evil.example', 'http://127.0.0.1:8233', 'http://localhost:8080']) {
      expect((await preflight(origin)).headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('leaves no e-mail, phone, name, IBAN or code of these tests in clear in any workflow history', async () => {
    for (const s of [IBAN, IBAN_2, 'DE89 3704 0044 0532 0130 00', '0532013000']) secrets.add(s);
    const ids = await workflowIdsOf(
      h,
      customers.map((c) => c.id),
    );
    expect(ids.length).toBeGreaterThan(customers.length);
    expect(ids.some((id) => id.startsWith('customer-register-'))).toBe(true);
    const codes = [...secrets].filter((s) => /^\d{6}$/.test(s));
    expect(codes.length).toBeGreaterThan(3);
    expect(
      await secretsInHistories(
        h,
        ids,
        [...secrets].filter((s) => s.length >= 6),
      ),
    ).toEqual([]);
    // The scan does find what is stored in clear: customer ids sit in the search attributes.
    expect(await secretsInHistories(h, ids.slice(0, 1), [customers[0]!.id])).toHaveLength(1);
  });
});
