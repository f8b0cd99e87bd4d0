/**
 * The master-data paths that wait: code expiry, the resend limit, approval escalation and expiry.
 * The GDPR paths that wait (export retention, erasure grace period) are in gdpr-timers.test.ts.
 *
 * The durations are inputs (the policy the API hands each workflow), set to seconds here. The
 * time-skipping test server (Java 1.31) stalls intermittently on workflows driven by Updates
 * (update-with-start, validators): skips turn into wall-clock waits. The defaults (24 hours,
 * 48 hours, 30 days, ...) are checked against the config module below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { loadConfig } from '../src/config.js';
import { DEFAULT_MASTER_DATA_POLICY, durationMs } from '../src/domain/master-data.js';
import { mails, secretsInHistories, trackSecrets, waitForChange, waitForMail, workflowIdsOf, TIMER_POLICY, within } from './support/master-data.js';

let h: Harness;

const POLICY = TIMER_POLICY;

it('defaults to 24-hour codes, 5 attempts, 3 resends a minute apart, 48-hour approvals, 30 days of grace', () => {
  expect(loadConfig({}).masterData).toEqual(DEFAULT_MASTER_DATA_POLICY);
  expect(DEFAULT_MASTER_DATA_POLICY).toMatchObject({
    codeTtl: '24 hours',
    maxAttempts: 5,
    maxResends: 3,
    resendInterval: '1 minute',
    approvalTimeout: '48 hours',
    erasureGracePeriod: '30 days',
  });
});
beforeAll(async () => {
  h = await startHarness('md_timers', { masterDataPolicy: POLICY });
});
afterAll(async () => {
  await h?.close();
});

const { secrets, customers, customer, code } = trackSecrets(() => h);
async function requestChange(customerId: string, changes: Record<string, unknown>): Promise<string> {
  for (const v of Object.values(changes)) if (typeof v === 'string') secrets.add(v);
  const res = await h.json('POST', `/v1/customers/${customerId}/changes`, { body: { changes } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.changeId;
}
describe.concurrent('verification codes in workflow time', () => {
  it('expires an unconfirmed change when the code is not entered in time, and tells the customer', async () => {
    const c = await customer();
    const changeId = await requestChange(c.id, {
      address: { street: 'Kalverstraat 1', postalCode: '1012 NX', city: 'Amsterdam', country: 'NL' },
    });
    const waiting = await waitForChange(h, changeId, 'awaiting-verification');
    const theCode = await code(c.email);
    expect((await h.json('GET', `/v1/changes/${changeId}`)).body.status).toBe('awaiting-verification');
    const expired = await waitForChange(h, changeId, 'expired', within(POLICY.codeTtl).timeoutMs);
    const ttl = new Date(waiting.verification.expiresAt).getTime() - new Date(waiting.transitions.at(-1).at).getTime();
    expect(ttl).toBeGreaterThan(durationMs(POLICY.codeTtl) - 2_000);
    expect(ttl).toBeLessThanOrEqual(durationMs(POLICY.codeTtl));
    expect(expired.outcome.detail).toMatch(/not entered in time/);
    await waitForMail(h, c.email, 'master-data-failed');
    const late = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: theCode } });
    expect(late.status).toBe(409);
    const { rows } = await h.pool.query('SELECT address FROM customers WHERE id = $1', [c.id]);
    expect(rows[0].address.city).toBe('Berlin');
  });

  it('limits resends to three, spaced by the resend interval, and accepts only the latest code', async () => {
    const c = await customer();
    const changeId = await requestChange(c.id, {
      address: { street: 'Kärntner Straße 1', postalCode: '1010', city: 'Wien', country: 'AT' },
    });
    await waitForChange(h, changeId, 'awaiting-verification');
    const first = await code(c.email);

    const tooSoon = await h.json('POST', `/v1/changes/${changeId}/verification/resend`, { body: {} });
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.body.detail).toMatch(/a new code can be sent from/);
    for (let left = 2; left >= 0; left--) {
      // Refused (429) until the interval has passed, then sent.
      const resent = await eventually(async () => {
        const r = await h.json('POST', `/v1/changes/${changeId}/verification/resend`, { body: {} });
        if (r.status === 429) return undefined;
        return r;
      }, within(POLICY.resendInterval));
      expect(resent.status, JSON.stringify(resent.body)).toBe(200);
      expect(resent.body.resendsLeft).toBe(left);
    }
    const exhausted = await h.json('POST', `/v1/changes/${changeId}/verification/resend`, { body: {} });
    expect(exhausted.status).toBe(429);
    expect(exhausted.body.detail).toMatch(/already resent 3 times/);

    const latest = await code(c.email, 4);
    if (first !== latest) {
      const old = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: first } });
      expect(old.status).toBe(422);
    }
    const ok = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: latest } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    await waitForChange(h, changeId, 'applied');
  });
});

describe.concurrent('approval in workflow time', () => {
  it('escalates an approval not given in time to backoffice, and still applies once approved', async () => {
    const c = await customer();
    const changeId = await requestChange(c.id, { name: `Jane ${uniqueId('e').slice(2)} Roe` });
    await waitForChange(h, changeId, 'awaiting-approval');
    expect((await h.json('GET', `/v1/changes/${changeId}`)).body.status).toBe('awaiting-approval');
    const escalated = await waitForChange(h, changeId, 'escalated', within(POLICY.approvalTimeout).timeoutMs);
    expect(escalated.approval.escalated).toBe(true);
    const overdue = await eventually(async () => {
      const found = (await mails(h, 'backoffice@localhost', 'approval-needed')).filter((m) => m.text.includes(changeId));
      return found.length === 2 ? found : undefined;
    });
    expect(overdue.map((m) => m.subject.startsWith('Overdue')).sort()).toEqual([false, true]);

    const approved = await h.json('POST', `/v1/changes/${changeId}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    expect(approved.status).toBe(200);
    const applied = await waitForChange(h, changeId, 'applied');
    expect(applied.transitions.map((t: { status: string }) => t.status)).toEqual(['queued', 'awaiting-approval', 'escalated', 'applying', 'applied']);
  });

  it('expires a change nobody approves before the approval expiry', async () => {
    const c = await customer();
    const changeId = await requestChange(c.id, { bankAccount: 'FR1420041010050500013M02606' });
    await waitForChange(h, changeId, 'awaiting-approval');
    const expired = await waitForChange(h, changeId, 'expired', within(POLICY.approvalExpiry).timeoutMs);
    expect(expired.outcome.detail).toBe(`no approval within ${POLICY.approvalExpiry}`);
    const { rows } = await h.pool.query('SELECT bank_account_iban FROM customers WHERE id = $1', [c.id]);
    expect(rows[0].bank_account_iban).toBeNull();
  });
});

describe('personal data in histories', () => {
  it('leaves no e-mail, phone, name, IBAN or code of these tests in clear in any workflow history', async () => {
    for (const s of ['FR1420041010050500013M02606', 'GB82WEST12345698765432']) secrets.add(s);
    const ids = await workflowIdsOf(
      h,
      customers.map((c) => c.id),
    );
    const codes = [...secrets].filter((s) => /^\d{6}$/.test(s));
    // The codes these tests read (the GDPR tests, which read more, moved to gdpr-timers.test.ts).
    expect(codes.length).toBeGreaterThan(2);
    expect(
      await secretsInHistories(
        h,
        ids,
        [...secrets].filter((s) => s.length >= 6),
      ),
    ).toEqual([]);
  });
});
