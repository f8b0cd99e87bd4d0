/**
 * Issue 14, point 3: no takeover of a customer through a contact change. A change of e-mail or
 * phone needs the contact point on record (or a four-eyes identity check), the replaced contact
 * point can stop it within the cooling-off period, and GDPR requests in that period need the
 * contact point before the change too. (Exports only by link and no staff cancel of a verified
 * erasure: test/gdpr-timers.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevUser } from '../src/dev/dev-keys.js';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { codeFor, confirmFromOldContact, linkFor, registerCustomer, waitForChange, waitForGdpr, waitForMail, TIMER_POLICY } from './support/master-data.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('contact_takeover', { masterDataPolicy: { ...TIMER_POLICY, codeTtl: '2 minutes', contactChangeCoolingOff: '5 minutes' } });
});
afterAll(async () => {
  await h?.close();
});

/** A registered customer with a change of e-mail requested (by `as`), waiting for its codes. */
async function pendingEmailChange(tag: string, as: DevUser = 'agent') {
  const c = await registerCustomer(h);
  const newEmail = `${uniqueId(tag)}@example.org`;
  const res = await h.json('POST', `/v1/customers/${c.id}/changes`, { as, body: { changes: { email: newEmail } } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const changeId: string = res.body.changeId;
  const waiting = await waitForChange(h, changeId, 'awaiting-verification');
  return { c, newEmail, changeId, waiting };
}

/** The same, with both codes given: the change applied. */
async function appliedEmailChange(tag: string) {
  const pending = await pendingEmailChange(tag);
  await confirmFromOldContact(h, pending.changeId, pending.newEmail);
  await confirmFromOldContact(h, pending.changeId, pending.c.email);
  await waitForChange(h, pending.changeId, 'applied');
  return pending;
}
const emailOf = (c: { id: string }) => h.pool.query('SELECT email FROM customers WHERE id = $1', [c.id]).then((r) => r.rows[0].email as string);

describe.concurrent('contact changes cannot take a customer over', () => {
  it('a code to the new address alone applies nothing; a lost old address needs a backoffice identity check by a second person', async () => {
    const { c, newEmail, changeId, waiting } = await pendingEmailChange('takeover');
    expect(waiting.verification.targets.map((t: { target: string }) => t.target)).toEqual(['new-email', 'existing-contact']);
    // The old address got its own code.
    await waitForMail(h, c.email, 'verification-code');
    const onlyNew = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: await codeFor(h, newEmail) } });
    expect(onlyNew.body).toMatchObject({ verified: true, status: 'pending' });
    expect((await waitForChange(h, changeId, 'awaiting-verification')).status).toBe('awaiting-verification');
    expect(await emailOf(c)).toBe(c.email);

    const url = `/v1/changes/${changeId}/identity-check`;
    const check = { identityCheck: { method: 'id-document', reference: 'passport C01X00T47' } };
    // Bad input, the wrong role, and the requester (four eyes) are refused.
    const bad = await h.json('POST', url, { as: 'backoffice', body: { identityCheck: { method: 'selfie', reference: 'x' } } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('identityCheck.method');
    expect((await h.json('POST', url, { as: 'agent', body: check })).status).toBe(403);
    const done = await h.json('POST', url, { as: 'backoffice', body: check });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.identityCheck).toMatchObject({ method: 'id-document', reference: 'passport C01X00T47', approver: h.users.backoffice.id });
    const applied = await waitForChange(h, changeId, 'applied');
    expect(applied.transitions.map((t: { reason?: string }) => t.reason ?? '').join('|')).toContain(
      'identity checked by id-document (reference passport C01X00T47)',
    );
    expect(await emailOf(c)).toBe(newEmail);
  });

  it('the requester cannot confirm the identity for their own change', async () => {
    const { changeId } = await pendingEmailChange('own', 'backoffice');
    const own = await h.json('POST', `/v1/changes/${changeId}/identity-check`, {
      as: 'backoffice',
      body: { identityCheck: { method: 'video-call', reference: 'call 4711' } },
    });
    expect(own.status, JSON.stringify(own.body)).toBe(403);
  });

  it('the replaced address stops the change within the cooling-off period: the old value is restored, audited, the new address told', async () => {
    const { c, newEmail, changeId } = await appliedEmailChange('stop');
    expect(await emailOf(c)).toBe(newEmail);

    const link = await linkFor(h, c.email, 'contact-change-stop');
    expect(link).toMatch(/^\/links\/contact-change-stop\//);
    const stopped = await h.json('POST', link, { as: null });
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(202);
    expect(stopped.body.revertOf).toBe(changeId);
    const revert = await waitForChange(h, stopped.body.changeId, 'applied');
    expect(revert.requestedBy).toBe('customer');
    expect(await emailOf(c)).toBe(c.email);
    await waitForMail(h, newEmail, 'contact-change-reverted');
    const audit = await h.pool.query("SELECT old_value, new_value, actor FROM audit_log WHERE change_id = $1 AND field = 'email'", [stopped.body.changeId]);
    expect(audit.rows).toEqual([{ old_value: newEmail, new_value: c.email, actor: 'customer' }]);
    expect((await h.json('POST', link, { as: null })).status).toBe(410);
    expect((await h.json('POST', `/links/contact-change-stop/${'a'.repeat(32)}`, { as: null })).status).toBe(404);
  });

  it('a GDPR export within the cooling-off period needs the code of the address before the change too', async () => {
    const { c, newEmail } = await appliedEmailChange('gdpr');

    const started = await h.json('POST', `/v1/customers/${c.id}/export`, { body: {} });
    expect(started.status).toBe(202);
    const requestId = started.body.requestId;
    await waitForGdpr(h, requestId, 'awaiting-verification');
    await waitForMail(h, c.email, 'verification-code', 2);
    // A second code went to the address before the change (the first was the change's own).
    // The code to the new address (whoever took it over) is not enough.
    const first = await h.json('POST', `/v1/gdpr-requests/${requestId}/verification`, { body: { code: await codeFor(h, newEmail, 2) } });
    expect(first.body).toMatchObject({ verified: true, status: 'pending' });
    expect((await waitForGdpr(h, requestId, 'awaiting-verification')).status).toBe('awaiting-verification');
    const second = await h.json('POST', `/v1/gdpr-requests/${requestId}/verification`, { body: { code: await codeFor(h, c.email, 2) } });
    expect(second.body).toMatchObject({ verified: true, status: 'verified' });
    await waitForGdpr(h, requestId, 'ready');
  });
});
