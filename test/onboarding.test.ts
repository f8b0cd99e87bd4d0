/**
 * Onboarding end to end over HTTP. Its timers are short inputs here (the first-contact SLA and
 * the check-in are settings handed to the worker, as its entry point hands down the config module's):
 * onboarding's updates leave the Java time-skipping server unable to skip reliably, so these
 * tests run on the dev server and await the workflow's own result instead of moving a clock.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import type { OnboardingResult } from '../src/domain/onboarding.js';
import { personalValuesInTables, secretsInHistories, workflowIdsOf } from './support/master-data.js';

// Long enough for a loaded 2-core CI machine to finish the steps before the check-in fires.
const FIRST_CONTACT_SLA_MS = 8_000;
const CHECK_IN_AFTER_MS = 25_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness('onboarding', { acquisition: { firstContactSlaMs: FIRST_CONTACT_SLA_MS, checkInAfterMs: CHECK_IN_AFTER_MS } });
});
afterAll(async () => {
  await h?.close();
});

const email = () => `${uniqueId('onb')}@example.com`;

const onboarding = async (customerId: string) => (await h.json('GET', `/v1/customers/${customerId}/onboarding`)).body;
const inProgress = (customerId: string) =>
  eventually(async () => {
    const s = await onboarding(customerId);
    return s?.status === 'in-progress' ? s : undefined;
  });
const outcome = (customerId: string): Promise<OnboardingResult> => h.client.workflow.getHandle(`onboarding-${customerId}`).result();

/** The tasks onboarding handed out for the customer, oldest first. */
const tasksOf = async (customerId: string) =>
  (await h.pool.query('SELECT id, kind, status, owner_id, title FROM tasks WHERE customer_id = $1 ORDER BY created_at, id', [customerId])).rows;

async function messages(template: string, customerId: string) {
  const { rows } = await h.pool.query('SELECT recipient, payload FROM notification_outbox WHERE template = $1 AND customer_id = $2', [template, customerId]);
  return rows;
}

describe.concurrent('onboarding', () => {
  it('a registered customer who confirms the code and is contacted is onboarded at the check-in', async () => {
    const address = email();
    const registered = await h.json('POST', '/v1/customers', { body: { name: 'Olga Onboard', email: address } });
    expect(registered.status).toBe(201);
    const customerId = registered.body.id;
    const started = await inProgress(customerId);
    expect(started).toMatchObject({ origin: 'registration', optIn: { status: 'pending', attempts: 0 }, reasons: [] });
    // The account manager is the next active agent of the account-manager team; their tasks go to their e-mail.
    const manager = [h.users.agent, h.users.agent2].find((u) => u.id === started.accountManager)!;
    expect(manager).toBeDefined();
    expect(Date.parse(started.checkInAt) - Date.parse(started.optIn.sentAt)).toBeGreaterThanOrEqual(CHECK_IN_AFTER_MS - 1_000);
    // The first contact is a task of the account manager, announced to their e-mail.
    const firstContact = await eventually(async () => (await tasksOf(customerId)).find((t) => t.kind === 'onboarding-first-contact'));
    expect(firstContact).toMatchObject({ owner_id: manager.id, status: 'open', title: 'First contact with Olga Onboard' });
    const task = await eventually(async () =>
      (await h.mailbox(manager.email)).find((m) => m.template === 'task-assigned' && m.payload.taskId === firstContact.id),
    );
    expect(task.subject).toContain('Olga Onboard');

    const mail = await eventually(async () => (await h.mailbox(address)).find((m) => m.template === 'onboarding-opt-in'));
    const code = String(mail.payload.code);
    expect(code).toMatch(/^\d{6}$/);
    expect(mail.text).toContain(code);
    // Only a salted hash of the code is kept, as every one-time code is.
    const stored = await h.pool.query("SELECT code_hash, salt FROM verification_codes WHERE subject = 'opt-in:' || $1", [customerId]);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0].salt).toHaveLength(16);
    expect(stored.rows[0].code_hash.toString('hex')).not.toContain(code);

    // The customer lost the e-mail: a new code replaces the old one.
    const resent = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in/resend`);
    expect(resent.status).toBe(200);
    expect(resent.body.optIn).toMatchObject({ status: 'pending', resends: 1 });
    const second = await eventually(async () => (await h.mailbox(address)).filter((m) => m.template === 'onboarding-opt-in').find((m) => m.id !== mail.id));
    const newCode = String(second.payload.code);
    expect(newCode).not.toBe(code);
    const wrong = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.attemptsLeft).toBe(4);
    const right = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: newCode } });
    expect(right.status).toBe(200);
    expect(right.body.optIn).toMatchObject({ status: 'confirmed', attempts: 1 });
    const again = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: newCode } });
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/already confirmed/);
    expect((await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in/resend`, { body: {} })).status).toBe(409);
    const welcome = await eventually(async () => (await h.mailbox(address)).find((m) => m.template === 'onboarding-welcome'));
    expect(welcome.text).toContain(`${manager.name} <${manager.email}>`);

    const call = await h.json('POST', `/v1/customers/${customerId}/interactions`, {
      as: 'backoffice',
      body: { channel: 'call', direction: 'outbound', summary: 'Welcome call' },
    });
    expect(call.status).toBe(201);
    await eventually(async () => (await onboarding(customerId)).firstContact.doneAt);

    expect(await outcome(customerId)).toEqual({ outcome: 'onboarded', customerId, reasons: [] });
    const done = await onboarding(customerId);
    expect(done.status).toBe('onboarded');
    expect(done.transitions.map((t: { status: string }) => t.status)).toEqual(['starting', 'in-progress', 'onboarded']);
    await eventually(async () => (await h.mailbox(address)).find((m) => m.template === 'onboarding-check-in'));
    const row = await h.pool.query('SELECT status, opt_in_confirmed_at, account_manager FROM customer_onboardings WHERE customer_id = $1', [customerId]);
    expect(row.rows[0]).toMatchObject({ status: 'onboarded', account_manager: started.accountManager });
    expect(row.rows[0].opt_in_confirmed_at).not.toBeNull();

    const late = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: newCode } });
    expect(late.status).toBe(409);
  });

  it('withholds its messages from a customer who must not be contacted, and says so', async () => {
    const address = email();
    const registered = await h.json('POST', '/v1/customers', { body: { name: 'Otto Optout', email: address } });
    const customerId = registered.body.id;
    await inProgress(customerId);
    const mail = await eventually(async () => (await h.mailbox(address)).find((m) => m.template === 'onboarding-opt-in'));
    // The opt-out a campaign would record: from now on no process may e-mail this customer.
    await h.pool.query(`INSERT INTO suppressions (customer_id, reason, channel, created_by, idempotency_key) VALUES ($1, 'opt-out', 'email', 'test', $2)`, [
      customerId,
      uniqueId('optout'),
    ]);
    expect((await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: mail.payload.code } })).status).toBe(200);
    expect(
      (
        await h.json('POST', `/v1/customers/${customerId}/interactions`, {
          body: { channel: 'call', direction: 'inbound', summary: 'Called us' },
        })
      ).status,
    ).toBe(201);

    expect((await outcome(customerId)).outcome).toBe('onboarded');
    const state = await onboarding(customerId);
    expect(state.withheld.map((w: { step: string; reason: string }) => [w.step, w.reason])).toEqual([
      ['welcome', 'suppressed: opt-out'],
      ['check-in', 'suppressed: opt-out'],
    ]);
    expect(await messages('onboarding-welcome', customerId)).toEqual([]);
    expect(await messages('onboarding-check-in', customerId)).toEqual([]);
  });

  it('twenty concurrent wrong codes count five at most and lock the confirmation; the code is never stored in clear', async () => {
    const address = email();
    const registered = await h.json('POST', '/v1/customers', { body: { name: 'Gus Guesser', email: address } });
    const customerId = registered.body.id;
    await inProgress(customerId);
    const mail = await eventually(async () => (await h.mailbox(address)).find((m) => m.template === 'onboarding-opt-in'));
    const code = String(mail.payload.code);
    expect(mail.text).toContain(code);
    const wrongCode = code === '000000' ? '111111' : '000000';

    const answers = await Promise.all(
      Array.from({ length: 20 }, () => h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: wrongCode } })),
    );
    const wrong = answers.filter((a) => a.status === 422);
    expect(
      answers.every((a) => a.status === 422 || a.status === 409),
      JSON.stringify(answers.map((a) => a.status)),
    ).toBe(true);
    expect(wrong.length).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status === 409).every((a) => /locked/.test(a.body.detail))).toBe(true);
    // The database counted every compared code, and compared no more than the limit.
    const subject = await h.pool.query("SELECT attempts, checks, max_attempts FROM verification_subjects WHERE subject = 'opt-in:' || $1", [customerId]);
    expect(subject.rows[0]).toEqual({ attempts: 5, checks: 5, max_attempts: 5 });

    const locked = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code } });
    expect(locked.status).toBe(409);
    expect(locked.body.detail).toMatch(/locked/);
    const state = await eventually(async () => {
      const s = await onboarding(customerId);
      return s.optIn.status === 'locked' ? s : undefined;
    });
    expect(state.optIn.attempts).toBe(5);
    const confirmed = await h.pool.query('SELECT opt_in_confirmed_at FROM customer_onboardings WHERE customer_id = $1', [customerId]);
    expect(confirmed.rows[0].opt_in_confirmed_at).toBeNull();

    // A guess with an Idempotency-Key: not even a hash of a body that holds the code is kept.
    const keyed = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, {
      body: { code },
      headers: { 'Idempotency-Key': uniqueId('guess') },
    });
    expect(keyed.status).toBe(409);
    const hashes = await h.pool.query('SELECT request_hash FROM idempotency_keys');
    const codeHash = createHash('sha256').update(JSON.stringify({ code })).digest('hex');
    expect(hashes.rows.map((r) => r.request_hash)).not.toContain(codeHash);

    // Neither the outbox payload nor any other table or workflow history holds the code.
    const outbox = await h.pool.query("SELECT payload::text AS payload FROM notification_outbox WHERE template = 'onboarding-opt-in' AND customer_id = $1", [
      customerId,
    ]);
    expect(outbox.rows).toHaveLength(1);
    expect(outbox.rows[0].payload).not.toContain(code);
    expect(await personalValuesInTables(h, [code])).toEqual([]);
    expect(await secretsInHistories(h, await workflowIdsOf(h, [customerId], [`onboarding-${customerId}`]), [code])).toEqual([]);
  });

  it('an onboarding whose code was mailed before codes became one-time codes still confirms with it, its attempts counted on', async () => {
    const address = email();
    const registered = await h.json('POST', '/v1/customers', { body: { name: 'Lena Legacy', email: address } });
    const customerId = registered.body.id;
    await inProgress(customerId);
    // What the earlier release left behind: an unsalted hash on the row, two wrong codes counted by the workflow, no subject.
    const code = '424242';
    await h.pool.query("DELETE FROM verification_subjects WHERE subject = 'opt-in:' || $1", [customerId]);
    await h.pool.query('UPDATE customer_onboardings SET opt_in_code_hash = $2, opt_in_attempts = 2 WHERE customer_id = $1', [
      customerId,
      createHash('sha256').update(`${customerId}:${code}`).digest('hex'),
    ]);
    const wrong = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: '000001' } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.attemptsLeft).toBe(2);
    const right = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code } });
    expect(right.status).toBe(200);
    expect(right.body.optIn.status).toBe('confirmed');
    const row = await h.pool.query('SELECT opt_in_code_hash, opt_in_confirmed_at FROM customer_onboardings WHERE customer_id = $1', [customerId]);
    expect(row.rows[0].opt_in_code_hash).toBeNull();
    expect(row.rows[0].opt_in_confirmed_at).not.toBeNull();
  });

  it('a won lead that never confirms and is never contacted stalls at the check-in, and its account manager gets a task for it', async () => {
    const lead = { name: 'Silent Sam', email: email(), company: 'Quiet Ltd', source: 'partner' };
    const intake = await h.json('POST', '/v1/leads', { body: lead });
    expect(intake.status).toBe(202);
    const { leadId, owner } = intake.body;
    for (const step of [
      { to: 'contacted' },
      { to: 'qualified', need: 'x', budget: 1, timeline: 'now' },
      { to: 'proposal', product: 'CRM Solo', amount: 500 },
      { to: 'won' },
    ]) {
      expect((await h.json('POST', `/v1/leads/${leadId}/transitions`, { body: step })).status).toBe(200);
    }
    const customerId = (await h.json('GET', `/v1/leads/${leadId}`)).body.customerId;
    const started = await inProgress(customerId);
    expect(started).toMatchObject({ origin: 'lead', leadId, accountManager: owner });

    // Five wrong codes lock the confirmation; the right code is refused after that.
    const mail = await eventually(async () => (await h.mailbox(lead.email)).find((m) => m.template === 'onboarding-opt-in'));
    const wrongCode = mail.payload.code === '000000' ? '111111' : '000000';
    for (let left = 4; left >= 0; left--) {
      const res = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: wrongCode } });
      expect(res.status).toBe(422);
      expect(res.body.attemptsLeft).toBe(left);
    }
    const locked = await h.json('POST', `/v1/customers/${customerId}/onboarding/opt-in`, { body: { code: mail.payload.code } });
    expect(locked.status).toBe(409);
    expect(locked.body.detail).toMatch(/locked/);

    // The owner has the first-contact task (it escalates along the team by itself: no reminder e-mail).
    const ownerEmail = [h.users.agent, h.users.agent2].find((u) => u.id === owner)!.email;
    const firstContact = await eventually(async () => (await tasksOf(customerId)).find((t) => t.kind === 'onboarding-first-contact'));
    // It was opened for the owner; under load it may already be overdue and with the team lead.
    const opened = await h.pool.query("SELECT to_owner FROM task_events WHERE task_id = $1 AND kind = 'opened'", [firstContact.id]);
    expect(opened.rows).toEqual([{ to_owner: owner }]);
    expect((await messages('task-assigned', customerId)).map((m) => m.recipient)).toContain(ownerEmail);

    const result = await outcome(customerId);
    expect(result).toEqual({
      outcome: 'stalled',
      customerId,
      reasons: ['e-mail address not confirmed: too many wrong codes', 'no first contact recorded by the account manager'],
    });
    const state = await onboarding(customerId);
    expect(state.status).toBe('stalled');
    expect(state.firstContact.reminderSentAt).toBeUndefined();
    expect(state.transitions.at(-1)).toMatchObject({
      status: 'stalled',
      reason: 'e-mail address not confirmed: too many wrong codes; no first contact recorded by the account manager',
    });
    // Stalled: the first-contact task is withdrawn and the account manager gets a task to pick it up.
    const tasks = await eventually(async () => {
      const all = await tasksOf(customerId);
      return all.some((t) => t.kind === 'onboarding-stalled') ? all : undefined;
    });
    // (The first-contact task may have gone to the team lead meanwhile: it escalates when overdue.)
    expect(tasks.map((t) => [t.kind, t.status])).toEqual([
      ['onboarding-first-contact', 'cancelled'],
      ['onboarding-stalled', 'open'],
    ]);
    expect(tasks[1].owner_id).toBe(owner);
    const row = await h.pool.query('SELECT status, reasons FROM customer_onboardings WHERE customer_id = $1', [customerId]);
    expect(row.rows[0]).toEqual({ status: 'stalled', reasons: result.reasons });
    const search = await h.client.workflow.getHandle(`onboarding-${customerId}`).describe();
    expect(await search.staticSummary()).toBe(`Onboarding of customer ${customerId} (won lead)`);
  });

  it("a won lead whose owner was deactivated meanwhile gets the account-manager team's next active agent", async () => {
    const { user: owner } = await h.createUser({ name: 'Olaf Leaving', teamId: null });
    const lead = { name: 'Orphan Olga', email: email(), company: 'Left Ltd', source: 'web', ownerId: owner.id };
    const intake = await h.json('POST', '/v1/leads', { body: lead });
    expect(intake.body.owner).toBe(owner.id);
    for (const step of [
      { to: 'contacted' },
      { to: 'qualified', need: 'x', budget: 1, timeline: 'now' },
      { to: 'proposal', product: 'CRM Solo', amount: 500 },
    ]) {
      expect((await h.json('POST', `/v1/leads/${intake.body.leadId}/transitions`, { body: step })).status).toBe(200);
    }
    expect((await h.json('POST', `/v1/users/${owner.id}/deactivation`, { as: 'admin' })).status).toBe(200);
    expect((await h.json('POST', `/v1/leads/${intake.body.leadId}/transitions`, { body: { to: 'won' } })).status).toBe(200);
    const customerId = (await h.json('GET', `/v1/leads/${intake.body.leadId}`)).body.customerId;
    const started = await inProgress(customerId);
    expect([h.users.agent.id, h.users.agent2.id]).toContain(started.accountManager);
    const manager = [h.users.agent, h.users.agent2].find((u) => u.id === started.accountManager)!;
    const firstContact = await eventually(async () => (await tasksOf(customerId)).find((t) => t.kind === 'onboarding-first-contact'));
    expect(firstContact.owner_id).toBe(manager.id);
    await eventually(async () => (await h.mailbox(manager.email)).find((m) => m.template === 'task-assigned' && m.payload.taskId === firstContact.id));
  });
});
