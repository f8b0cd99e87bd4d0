/**
 * PostgreSQL is the record of leads, registrations, onboardings and interactions: each is driven
 * to its end through the API, then its workflows are deleted from Temporal (as the namespace
 * retention deletes them) and the worker is stopped, and every read, list and search answers the
 * same, with a timeline that says who did what and when. A retried activity writes each timeline
 * entry once. The customer search pages through thousands of customers without a duplicate or a
 * gap, and refuses page tokens it did not make.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The harness first: it loads the API, whose zod-openapi import must extend zod before any domain schema is built.
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { forget, workflowsOf } from './support/retention.js';
import { createActivities } from '../activities/index.js';
import type { LeadRecordWrite } from '../src/db/repositories/leads.js';
import type { OnboardingResult } from '../src/domain/onboarding.js';
import { FileTransport } from '../src/notifications/transport.js';

// Long enough for a loaded 2-core machine to confirm and contact before the check-in fires.
const CHECK_IN_AFTER_MS = 20_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness('record_acquisition', { acquisition: { checkInAfterMs: CHECK_IN_AFTER_MS } });
});
afterAll(async () => {
  await h?.close();
});

const ok = async (method: string, url: string, opts: Parameters<Harness['json']>[2] = {}) => {
  const res = await h.json(method, url, opts);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
};

async function count(table: string, where: string, params: unknown[]): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params);
  return Number(rows[0]!.n);
}

const onboardingEnds = (customerId: string): Promise<OnboardingResult> => h.client.workflow.getHandle(`onboarding-${customerId}`).result();

describe('every lead, registration, onboarding and interaction read from PostgreSQL once Temporal has forgotten it and no worker runs', () => {
  const marker = uniqueId('acme').replace('_', '');
  // Owners are users: the lead's first owner, and the one it is handed to.
  let owner: string;
  let successor: string;
  const startedAt = new Date().toISOString();
  let won: string;
  let lost: string;
  let wonCustomer: string;
  let registered: string;
  const key = uniqueId('reg');
  const duplicateKey = uniqueId('dup');
  const email = `${uniqueId('ada')}@example.com`;
  const reads: string[] = [];
  const before = new Map<string, unknown>();

  afterAll(async () => {
    await h.startWorker();
  });

  it('drives a lead to won, one to lost, a registration and both onboardings to their end through the API', async () => {
    owner = (await h.createUser({ name: 'Olga Owner' })).user.id;
    successor = (await h.createUser({ name: 'Sam Successor' })).user.id;
    const intake = await h.json('POST', '/v1/leads', {
      body: {
        name: 'Ada Record',
        email,
        phone: '+49 30 1111111',
        company: `${marker} Engines`,
        companySize: '11-50',
        source: 'referral',
        interest: 'CRM for 12 seats',
        ownerId: owner,
      },
    });
    expect(intake.status, JSON.stringify(intake.body)).toBe(202);
    won = intake.body.leadId;
    // An agent's call makes the new lead contacted; backoffice hands it on; an agent corrects it.
    await ok('POST', `/v1/leads/${won}/interactions`, { body: { channel: 'call', direction: 'outbound', summary: 'Intro call' } });
    await eventually(async () => (await ok('GET', `/v1/leads/${won}`)).stage === 'contacted');
    await ok('POST', `/v1/leads/${won}/owner`, { as: 'backoffice', body: { ownerId: successor, reason: 'territory change' } });
    const corrected = await ok('PATCH', `/v1/leads/${won}`, { body: { phone: '+49 30 2222222', companySize: '51-200', interest: null } });
    expect(corrected).toMatchObject({ phone: '+49302222222', companySize: '51-200', interest: null, score: { value: 60 } });
    await ok('POST', `/v1/leads/${won}/transitions`, {
      body: { to: 'qualified', need: 'one customer view', budget: 24000, currency: 'USD', timeline: 'Q3' },
    });
    await ok('POST', `/v1/leads/${won}/transitions`, {
      as: 'backoffice',
      body: { to: 'proposal', product: 'CRM Team', amount: 21000, currency: 'USD' },
    });
    wonCustomer = (await ok('POST', `/v1/leads/${won}/transitions`, { as: 'admin', body: { to: 'won', note: 'signed' } })).customerId;
    expect(wonCustomer).toBeTruthy();

    const lostIntake = await ok('POST', '/v1/leads', {
      body: { name: 'Lou Lost', email: `${uniqueId('lou')}@example.com`, company: `${marker} Lost Ltd`, source: 'event', ownerId: owner },
    });
    lost = lostIntake.leadId;
    await ok('POST', `/v1/leads/${lost}/transitions`, { body: { to: 'contacted', note: 'first call' } });
    await ok('POST', `/v1/leads/${lost}/transitions`, { as: 'backoffice', body: { to: 'lost', reason: 'chose a competitor' } });

    const customer = await ok('POST', '/v1/customers', {
      body: {
        name: `Rhea ${marker}`,
        email: `${uniqueId('rhea')}@example.com`,
        address: { street: 'Hauptstr. 1', postalCode: '10115', city: 'Berlin', country: 'DE' },
      },
      headers: { 'idempotency-key': key },
    });
    registered = customer.id;
    const duplicate = await h.json('POST', '/v1/customers', {
      body: { name: 'Someone Else', email: customer.email },
      headers: { 'idempotency-key': duplicateKey },
    });
    expect(duplicate.status).toBe(409);

    // The won lead's onboarding ends onboarded (confirmed, contacted); the registration's stalls.
    await eventually(async () => (await h.json('GET', `/v1/customers/${wonCustomer}/onboarding`)).body?.status === 'in-progress');
    const mail = await eventually(async () => (await h.mailbox(email)).find((m) => m.template === 'onboarding-opt-in'));
    await ok('POST', `/v1/customers/${wonCustomer}/onboarding/opt-in`, { body: { code: mail.payload.code } });
    await ok('POST', `/v1/customers/${wonCustomer}/interactions`, {
      as: 'backoffice',
      body: { channel: 'call', direction: 'outbound', summary: 'Welcome call' },
    });
    expect(await onboardingEnds(wonCustomer)).toMatchObject({ outcome: 'onboarded' });
    expect(await onboardingEnds(registered)).toMatchObject({ outcome: 'stalled' });

    reads.push(
      `/v1/leads/${won}`,
      `/v1/leads/${lost}`,
      `/v1/leads?q=${marker}`,
      `/v1/leads?owner=${encodeURIComponent(successor)}&stage=won`,
      `/v1/leads?q=${marker}&stage=lost&closedFrom=${encodeURIComponent(startedAt)}`,
      `/v1/leads?q=${marker.toUpperCase()}&scoreMin=50&sort=created`,
      `/v1/leads/${won}/interactions`,
      `/v1/customers/${wonCustomer}/interactions`,
      `/v1/customers/${wonCustomer}`,
      `/v1/customers?email=${encodeURIComponent(email)}`,
      `/v1/customers?q=${marker}`,
      `/v1/customers?postcode=10115&q=${marker}`,
      `/v1/registrations/${key}`,
      `/v1/registrations/${duplicateKey}`,
      `/v1/customers/${wonCustomer}/onboarding`,
      `/v1/customers/${registered}/onboarding`,
    );
    for (const url of reads) before.set(url, await ok('GET', url));
  }, 180_000);

  it('Temporal forgets every workflow of them, as retention does, and the worker stops', async () => {
    const expected = [
      `lead-${won}`,
      `lead-${lost}`,
      `customer-register-${key}`,
      `customer-register-${duplicateKey}`,
      `onboarding-${wonCustomer}`,
      `onboarding-${registered}`,
    ];
    const ids = await eventually(async () => {
      const found = await workflowsOf(h, `TaskQueue = '${h.taskQueue}'`);
      return expected.every((id) => found.includes(id)) ? found : undefined;
    });
    await h.stopWorker();
    await Promise.all(ids.map((id) => forget(h, id)));
    await expect(h.client.workflow.getHandle(`lead-${won}`).describe()).rejects.toThrow();
  });

  it('every read, list and search answers the same', async () => {
    for (const url of reads) expect(await ok('GET', url), url).toEqual(before.get(url));
  });

  it('the won lead keeps everything the funnel knew, and its timeline says who did what, when and why', async () => {
    const lead = await ok('GET', `/v1/leads/${won}`);
    expect(lead).toMatchObject({
      stage: 'won',
      closed: true,
      name: 'Ada Record',
      phone: '+49302222222',
      company: `${marker} Engines`,
      companySize: '51-200',
      interest: null,
      source: 'referral',
      owner: successor,
      qualification: { need: 'one customer view', budget: 24000, currency: 'USD', timeline: 'Q3' },
      proposal: { product: 'CRM Team', amount: 21000, currency: 'USD' },
      customerId: wonCustomer,
      onboardingWorkflowId: `onboarding-${wonCustomer}`,
      interactions: 1,
      createdBy: h.users.agent.id,
    });
    expect(lead.nextDue).toBeUndefined();
    expect(lead.closedAt).toBe(lead.transitions.at(-1).at);
    expect(lead.transitions.map((t: Record<string, unknown>) => [t.from, t.to, t.actor, t.reason])).toEqual([
      [null, 'new', h.users.agent.id, 'intake via referral'],
      ['new', 'contacted', h.users.agent.id, 'outbound call recorded'],
      ['contacted', 'qualified', h.users.agent.id, undefined],
      ['qualified', 'proposal', h.users.backoffice.id, undefined],
      ['proposal', 'won', h.users.admin.id, 'signed'],
    ]);
    const times = lead.transitions.map((t: { at: string }) => Date.parse(t.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[0]).toBeGreaterThanOrEqual(Date.parse(startedAt));
    expect(lead.transitions.every((t: { workflowId: string; runId: string }) => t.workflowId === `lead-${won}` && t.runId)).toBe(true);
    expect(lead.reassignments).toEqual([{ from: owner, to: successor, at: expect.any(String), actor: h.users.backoffice.id, reason: 'territory change' }]);
    expect(lead.corrections.map((c: Record<string, unknown>) => [c.field, c.from, c.to, c.actor])).toEqual([
      ['phone', '+49301111111', '+49302222222', h.users.agent.id],
      ['companySize', '11-50', '51-200', h.users.agent.id],
      ['interest', 'CRM for 12 seats', null, h.users.agent.id],
    ]);
    // The score follows the corrected data: size 51-200 (20), no interest any more.
    expect(lead.score.reasons.map((r: { rule: string; points: number }) => [r.rule, r.points])).toEqual([
      ['source', 30],
      ['company-size', 20],
      ['company', 5],
      ['phone', 5],
    ]);
  });

  it('the lost lead keeps its reason and who lost it; lists and searches find both from the record', async () => {
    const lead = await ok('GET', `/v1/leads/${lost}`);
    expect(lead).toMatchObject({ stage: 'lost', closed: true, lostReason: 'chose a competitor', owner });
    expect(lead.transitions.at(-1)).toMatchObject({
      from: 'contacted',
      to: 'lost',
      actor: h.users.backoffice.id,
      reason: 'chose a competitor',
    });
    const ids = (list: { items: Array<{ leadId: string }> }) => list.items.map((i) => i.leadId);
    expect(ids(await ok('GET', `/v1/leads?q=${marker}`))).toEqual([lost, won]);
    expect(ids(await ok('GET', `/v1/leads?q=${marker}&sort=created`))).toEqual([won, lost]);
    expect(ids(await ok('GET', `/v1/leads?q=${marker}&stage=lost`))).toEqual([lost]);
    expect(ids(await ok('GET', `/v1/leads?q=${marker}&source=referral`))).toEqual([won]);
    expect(ids(await ok('GET', `/v1/leads?owner=${encodeURIComponent(owner)}`))).toEqual([lost]);
    expect(ids(await ok('GET', `/v1/leads?q=${encodeURIComponent(email.toUpperCase())}`))).toEqual([won]);
    expect(ids(await ok('GET', `/v1/leads?q=${marker}&scoreMin=40&scoreMax=100`))).toEqual([won]);
    expect(ids(await ok('GET', `/v1/leads?q=${marker}&closedTo=${encodeURIComponent(startedAt)}`))).toEqual([]);
    expect(
      ids(await ok('GET', `/v1/leads?q=${marker}&createdFrom=${encodeURIComponent(startedAt)}&createdTo=${encodeURIComponent(new Date().toISOString())}`)),
    ).toEqual([lost, won]);
    const page = await ok('GET', `/v1/leads?q=${marker}&pageSize=1`);
    expect(ids(page)).toEqual([lost]);
    expect(ids(await ok('GET', `/v1/leads?q=${marker}&pageSize=1&pageToken=${page.nextPageToken}`))).toEqual([won]);
  });

  it('a registration, and a duplicate one, read as they ended, with who asked', async () => {
    const registration = await ok('GET', `/v1/registrations/${key}`);
    expect(registration).toMatchObject({ workflowId: `customer-register-${key}`, status: 'registered', customerId: registered });
    expect(registration.transitions.map((t: Record<string, unknown>) => [t.status, t.actor])).toEqual([
      ['received', h.users.agent.id],
      ['registered', 'system'],
    ]);
    expect(registration.live).toBeUndefined();
    const duplicate = await ok('GET', `/v1/registrations/${duplicateKey}`);
    expect(duplicate).toMatchObject({ status: 'duplicate', customerId: registered });
    expect(duplicate.transitions.at(-1)).toMatchObject({ status: 'duplicate', reason: 'a customer with this e-mail already exists' });
    expect((await h.json('GET', `/v1/registrations/${uniqueId('never')}`)).status).toBe(404);
    const found = await ok('GET', `/v1/customers?q=${marker}`);
    expect(found.items.map((c: { id: string }) => c.id)).toEqual([registered]);
    expect(found.items[0].customerNumber).toBeGreaterThan(100_000);
    expect((await ok('GET', `/v1/customers?customerNumber=${found.items[0].customerNumber}`)).items.map((c: { id: string }) => c.id)).toEqual([registered]);
  });

  it('both onboardings read with their steps, outcome and timeline', async () => {
    const onboarded = await ok('GET', `/v1/customers/${wonCustomer}/onboarding`);
    expect(onboarded).toMatchObject({
      status: 'onboarded',
      origin: 'lead',
      leadId: won,
      accountManager: successor,
      optIn: { status: 'confirmed', attempts: 0 },
      reasons: [],
    });
    expect(onboarded.firstContact.doneAt).toBeTruthy();
    expect(onboarded.finishedAt).toBeTruthy();
    expect(onboarded.transitions.map((t: Record<string, unknown>) => [t.status, t.actor, t.reason])).toEqual([
      ['starting', 'system', `won lead ${won}`],
      ['in-progress', 'system', `code sent to the customer, first-contact task to ${successor}`],
      ['onboarded', 'system', 'address confirmed and first contact made'],
    ]);
    const stalled = await ok('GET', `/v1/customers/${registered}/onboarding`);
    expect(stalled).toMatchObject({
      status: 'stalled',
      origin: 'registration',
      optIn: { status: 'pending' },
      reasons: ['e-mail address not confirmed', 'no first contact recorded by the account manager'],
    });
    expect(stalled.transitions.at(-1)).toMatchObject({
      status: 'stalled',
      reason: 'e-mail address not confirmed; no first contact recorded by the account manager',
    });
  });

  it('the interactions of the lead are part of the customer it became', async () => {
    const history = await ok('GET', `/v1/customers/${wonCustomer}/interactions`);
    expect(history.items.map((i: { summary: string; recordedBy: string }) => [i.summary, i.recordedBy])).toEqual([
      ['Welcome call', h.users.backoffice.id],
      ['Intro call', h.users.agent.id],
    ]);
  });

  it('a closed lead whose workflow is gone is refused a move, a hand-over and a correction with 409; an unknown lead is a 404', async () => {
    for (const [method, url, body] of [
      ['POST', `/v1/leads/${lost}/transitions`, { to: 'contacted' }],
      ['POST', `/v1/leads/${lost}/owner`, { ownerId: successor }],
      ['PATCH', `/v1/leads/${lost}`, { name: 'Lou Found' }],
    ] as Array<[string, string, unknown]>) {
      const res = await h.json(method, url, { body });
      expect(res.status, `${method} ${url}`).toBe(409);
      expect(res.body.detail).toMatch(/already lost/);
    }
    expect((await h.json('PATCH', `/v1/leads/${randomUUID()}`, { body: { name: 'Nobody' } })).status).toBe(404);
    expect(await count('audit_log', 'lead_id = $1', [lost])).toBe(0);
  });
});

describe('a lead being worked on', () => {
  it('answers its live state on request, and refuses a correction that names nothing or a bad value', async () => {
    const id = (await ok('POST', '/v1/leads', { body: { name: 'Liv Live', email: `${uniqueId('liv')}@example.com`, source: 'web' } })).leadId;
    const plain = await ok('GET', `/v1/leads/${id}`);
    expect(plain.live).toBeUndefined();
    const live = await ok('GET', `/v1/leads/${id}?live=true`);
    expect(live.live.state).toMatchObject({ leadId: id, stage: 'new', owner: plain.owner, intake: { outcome: 'accepted' } });
    const { live: _live, ...record } = live;
    expect(record).toEqual(plain);
    expect(plain.nextDue).toEqual(live.live.state.nextDue);

    for (const [body, path] of [
      [{}, 'body'],
      [{ name: '' }, 'body.name'],
      [{ phone: '12' }, 'body.phone'],
      [{ companySize: 'huge' }, 'body.companySize'],
      [{ locale: 'not a locale!' }, 'body.locale'],
      [{ email: 'new@example.com' }, 'body'],
    ] as Array<[unknown, string]>) {
      const res = await h.json('PATCH', `/v1/leads/${id}`, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    // A correction that changes nothing writes nothing.
    expect(await ok('PATCH', `/v1/leads/${id}`, { body: { name: 'Liv Live' } })).toMatchObject({ name: 'Liv Live', corrections: [] });
    expect(await count('audit_log', 'lead_id = $1', [id])).toBe(0);
  });
});

describe('a retried activity writes each record and timeline entry once', () => {
  const acts = () => createActivities({ pool: h.pool, transport: new FileTransport(h.mailDir) });

  it('intake, the lead record, a correction, a registration, an onboarding and an interaction', async () => {
    const a = acts();
    const leadId = randomUUID();
    const workflowId = `lead-${leadId}`;
    const at = new Date().toISOString();
    const intake = {
      leadId,
      workflowId,
      runId: 'run-1',
      actor: 'retry-test',
      intake: { name: 'Rita Retry', email: `${uniqueId('rita')}@example.com`, source: 'web' as const, locale: 'en' },
      transition: { from: null, to: 'new' as const, at, actor: 'retry-test', reason: 'intake via web' },
    };
    expect((await a.intakeLead(intake)).outcome).toBe('accepted');
    expect((await a.intakeLead(intake)).outcome).toBe('accepted');
    expect(await count('leads', 'id = $1', [leadId])).toBe(1);
    expect(await count('lead_transitions', 'lead_id = $1', [leadId])).toBe(1);

    const write: LeadRecordWrite = {
      leadId,
      workflowId,
      runId: 'run-1',
      seq: 10,
      stage: 'contacted',
      owner: 'second.owner@example.com',
      profile: { name: 'Rita Retry', phone: null, company: null, companySize: null, interest: null, locale: 'en' },
      alerts: [],
      lastActivityAt: at,
      stages: [
        { seq: 0, from: null, to: 'new', at, actor: 'retry-test', reason: 'intake via web' },
        { seq: 1, from: 'new', to: 'contacted', at, actor: 'retry-test' },
      ],
      owners: [{ seq: 0, from: 'first.owner@example.com', to: 'second.owner@example.com', at, actor: 'retry-test' }],
    };
    await a.recordLead(write);
    await a.recordLead(write);
    expect(await count('lead_transitions', `lead_id = $1 AND kind = 'stage'`, [leadId])).toBe(2);
    expect(await count('lead_transitions', `lead_id = $1 AND kind = 'owner'`, [leadId])).toBe(1);
    // A late retry of an older write changes nothing.
    await a.recordLead({ ...write, seq: 9, stage: 'new', stages: [], owners: [] });
    expect((await h.pool.query('SELECT stage, owner_id FROM leads WHERE id = $1', [leadId])).rows[0]).toEqual({
      stage: 'contacted',
      owner_id: 'second.owner@example.com',
    });

    const correction = {
      leadId,
      workflowId,
      actor: 'retry-test',
      correction: 1,
      changes: [
        { field: 'name' as const, from: 'Rita Retry', to: 'Rita Retried' },
        { field: 'phone' as const, from: null, to: '+4930123456' },
      ],
    };
    await a.correctLead(correction);
    await a.correctLead(correction);
    expect(await count('audit_log', 'lead_id = $1', [leadId])).toBe(2);
    expect((await h.pool.query('SELECT name, phone FROM leads WHERE id = $1', [leadId])).rows[0]).toEqual({
      name: 'Rita Retried',
      phone: '+4930123456',
    });

    const customerId = randomUUID();
    const registration = {
      customerId,
      actor: 'retry-test',
      workflowId: `customer-register-${uniqueId('retry')}`,
      runId: 'run-1',
      receivedAt: at,
      request: { name: 'Rolf Retry', email: `${uniqueId('rolf')}@example.com`, locale: 'en' },
    };
    await a.registerCustomerRecord(registration);
    await a.registerCustomerRecord(registration);
    expect(await count('customers', 'id = $1', [customerId])).toBe(1);
    expect(await count('registrations', 'workflow_id = $1', [registration.workflowId])).toBe(1);
    expect(await count('audit_log', 'customer_id = $1', [customerId])).toBe(3);

    const onboarding = {
      customerId,
      workflowId: `onboarding-${customerId}`,
      name: 'Rolf Retry',
      email: registration.request.email,
      locale: 'en',
      origin: 'registration' as const,
    };
    await a.beginOnboarding(onboarding);
    await a.beginOnboarding(onboarding);
    const steps = {
      customerId,
      workflowId: onboarding.workflowId,
      runId: 'run-1',
      seq: 5,
      status: 'in-progress' as const,
      optIn: { status: 'pending' as const, attempts: 0 },
      firstContact: {},
      reasons: [],
      withheld: [],
      transitions: [
        { seq: 0, status: 'starting' as const, at, actor: 'system' },
        { seq: 1, status: 'in-progress' as const, at, actor: 'system' },
      ],
    };
    await a.recordOnboarding(steps);
    await a.recordOnboarding(steps);
    expect(await count('customer_onboardings', 'customer_id = $1', [customerId])).toBe(1);
    expect(await count('onboarding_transitions', 'customer_id = $1', [customerId])).toBe(2);

    const interaction = {
      subject: { kind: 'customer' as const, customerId },
      interaction: { channel: 'call' as const, direction: 'inbound' as const, summary: 'Called twice?' },
      actor: 'retry-test',
      workflowId: `interaction-${uniqueId('retry')}`,
    };
    const first = await a.recordContactEvent(interaction);
    expect((await a.recordContactEvent(interaction)).id).toBe(first.id);
    expect(await count('contact_events', 'customer_id = $1', [customerId])).toBe(1);
  });
});

describe('the customer list and search over thousands of customers', () => {
  const marker = uniqueId('many').replace('_', '');
  const N = 3_000;

  beforeAll(async () => {
    await h.pool.query(
      `INSERT INTO customers (id, name, email, email_normalized, phone, address, locale, status, created_by, created_at)
       SELECT gen_random_uuid(), 'Mia ' || $2 || ' ' || lpad(i::text, 5, '0'), $2 || '.' || i || '@example.com', $2 || '.' || i || '@example.com',
              '+4940' || lpad(i::text, 7, '0'),
              jsonb_build_object('street', 'Weg ' || i, 'postalCode', CASE WHEN i % 3 = 0 THEN '20095' ELSE '80331' END, 'city', 'Hamburg', 'country', CASE WHEN i % 10 = 0 THEN 'AT' ELSE 'DE' END),
              'de', CASE WHEN i % 100 = 0 THEN 'inactive' ELSE 'active' END, 'test',
              -- Two customers share each creation time: the id breaks the tie.
              timestamptz '2026-01-01T00:00:00Z' + (i / 2) * interval '1 minute'
       FROM generate_series(1, $1::int) AS i`,
      [N, marker],
    );
    await h.pool.query('ANALYZE customers');
  });

  async function all(query: string, pageSize = 97): Promise<Array<{ id: string; name: string; createdAt: string }>> {
    const items: Array<{ id: string; name: string; createdAt: string }> = [];
    let token: string | undefined;
    do {
      const page = await ok('GET', `/v1/customers?${query}&pageSize=${pageSize}${token ? `&pageToken=${token}` : ''}`);
      expect(page.items.length).toBeLessThanOrEqual(pageSize);
      items.push(...page.items);
      token = page.nextPageToken;
    } while (token);
    return items;
  }

  it('pages through every match without a duplicate or a gap, in the order asked for', async () => {
    const newest = await all(`q=${marker}`);
    expect(newest).toHaveLength(N);
    expect(new Set(newest.map((c) => c.id)).size).toBe(N);
    const created = newest.map((c) => Date.parse(c.createdAt));
    expect(created).toEqual([...created].sort((a, b) => b - a));

    const byName = await all(`q=${marker}&sort=name`, 100);
    expect(byName.map((c) => c.name)).toEqual(newest.map((c) => c.name).sort());
    const oldest = await all(`q=${marker}&sort=created`, 61);
    expect(oldest.map((c) => c.id)).toEqual([...newest].reverse().map((c) => c.id));
  });

  it('a customer added between two pages neither repeats nor shifts a later page', async () => {
    const first = await ok('GET', `/v1/customers?q=${marker}&sort=name&pageSize=50`);
    await h.pool.query(`INSERT INTO customers (id, name, email, email_normalized, created_by) VALUES ($1, $2, $3, $3, 'test')`, [
      randomUUID(),
      `Mia ${marker} 00000`,
      `${marker}.zero@example.com`,
    ]);
    const second = await ok('GET', `/v1/customers?q=${marker}&sort=name&pageSize=50&pageToken=${first.nextPageToken}`);
    const seen = [...first.items, ...second.items].map((c: { name: string }) => c.name);
    expect(new Set(seen).size).toBe(100);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => `Mia ${marker} ${String(i + 1).padStart(5, '0')}`));
  });

  it('finds a customer by name, e-mail, phone, postcode and customer number, and filters by status, country and creation', async () => {
    const one = (await ok('GET', `/v1/customers?q=${encodeURIComponent(`Mia ${marker} 01234`)}`)).items;
    expect(one.map((c: { email: string }) => c.email)).toEqual([`${marker}.1234@example.com`]);
    const { id, customerNumber } = one[0];
    const ids = async (query: string) => (await ok('GET', `/v1/customers?${query}`)).items.map((c: { id: string }) => c.id);
    expect(await ids(`email=${encodeURIComponent(`${marker.toUpperCase()}.1234@Example.com`)}`)).toEqual([id]);
    expect(await ids(`phone=${encodeURIComponent('+49 40 000 1234')}`)).toEqual([id]);
    expect(await ids(`q=${encodeURIComponent('+49 40 0001234')}`)).toEqual([id]);
    expect(await ids(`customerNumber=${customerNumber}`)).toEqual([id]);
    expect(await ids(`q=${customerNumber}`)).toContain(id);
    expect(await ids(`name=${encodeURIComponent(`${marker} 01234`)}`)).toEqual([id]);
    expect((await all(`q=${marker}&postcode=20095`, 100)).length).toBe(N / 3);
    expect((await all(`q=${marker}&country=at`, 100)).length).toBe(N / 10);
    expect((await all(`q=${marker}&status=inactive`, 100)).length).toBe(N / 100);
    // Created on 2026-01-01 between 00:00 and 01:00 (to exclusive): customers 1 to 119.
    expect((await all(`q=${marker}&createdFrom=2026-01-01T00:00:00Z&createdTo=2026-01-01T01:00:00Z`, 100)).length).toBe(119);
  });

  it('refuses a tampered page token and a token of another listing with 400 naming query.pageToken', async () => {
    const page = await ok('GET', `/v1/customers?q=${marker}&pageSize=10`);
    const token: string = page.nextPageToken;
    const raw = Buffer.from(token, 'base64url');
    raw[raw.length - 3] = raw[raw.length - 3]! ^ 1;
    for (const url of [
      `/v1/customers?q=${marker}&pageSize=10&pageToken=${raw.toString('base64url')}`,
      `/v1/customers?q=${marker}&pageSize=10&pageToken=${token.slice(0, -2)}`,
      `/v1/customers?q=${marker}&sort=name&pageSize=10&pageToken=${token}`,
      `/v1/customers?q=${marker}x&pageSize=10&pageToken=${token}`,
      `/v1/leads?pageToken=${token}`,
    ]) {
      const res = await h.json('GET', url);
      expect(res.status, url).toBe(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        url,
      ).toEqual(['query.pageToken']);
    }
    // Another page size is the same listing.
    expect((await ok('GET', `/v1/customers?q=${marker}&pageSize=20&pageToken=${token}`)).items).toHaveLength(20);
  });
});

describe('bad input to the lists and reads is a 400 naming the parameter', () => {
  it('names each wrong query parameter', async () => {
    const cases: Array<[string, string]> = [
      ['/v1/leads?stage=maybe', 'query.stage'],
      ['/v1/leads?source=tv', 'query.source'],
      ['/v1/leads?owner=a%20b', 'query.owner'],
      ['/v1/leads?scoreMin=-1', 'query.scoreMin'],
      ['/v1/leads?scoreMax=101', 'query.scoreMax'],
      ['/v1/leads?scoreMin=abc', 'query.scoreMin'],
      ['/v1/leads?scoreMin=60&scoreMax=50', 'query.scoreMax'],
      ['/v1/leads?createdFrom=yesterday', 'query.createdFrom'],
      ['/v1/leads?createdTo=2026-13-01T00:00:00Z', 'query.createdTo'],
      ['/v1/leads?closedFrom=2026-02-01T00:00:00Z&closedTo=2026-01-01T00:00:00Z', 'query.closedTo'],
      ['/v1/leads?closedFrom=1700000000', 'query.closedFrom'],
      ['/v1/leads?q=', 'query.q'],
      [`/v1/leads?q=${'x'.repeat(201)}`, 'query.q'],
      ['/v1/leads?sort=score', 'query.sort'],
      ['/v1/leads?pageSize=0', 'query.pageSize'],
      ['/v1/leads?pageToken=***', 'query.pageToken'],
      [`/v1/leads/${randomUUID()}?live=yes`, 'query.live'],
      [`/v1/customers/${randomUUID()}/onboarding?live=1`, 'query.live'],
      ['/v1/customers?q=', 'query.q'],
      ['/v1/customers?name=', 'query.name'],
      ['/v1/customers?email=not-an-email', 'query.email'],
      ['/v1/customers?phone=12', 'query.phone'],
      ['/v1/customers?postcode=%21%21', 'query.postcode'],
      ['/v1/customers?customerNumber=abc', 'query.customerNumber'],
      ['/v1/customers?customerNumber=0', 'query.customerNumber'],
      ['/v1/customers?status=gone', 'query.status'],
      ['/v1/customers?country=XX', 'query.country'],
      ['/v1/customers?createdFrom=tomorrow', 'query.createdFrom'],
      ['/v1/customers?createdFrom=2026-02-01T00:00:00Z&createdTo=2026-01-01T00:00:00Z', 'query.createdTo'],
      ['/v1/customers?sort=email', 'query.sort'],
      ['/v1/customers?pageSize=101', 'query.pageSize'],
      ['/v1/customers?pageToken=bm9wZQ', 'query.pageToken'],
      ['/v1/customers?colour=red', 'query'],
    ];
    for (const [url, path] of cases) {
      const res = await h.json('GET', url);
      expect(res.status, url).toBe(400);
      expect(res.headers.get('content-type'), url).toContain('application/problem+json');
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        url,
      ).toContain(path);
    }
  });

  it('lets the analyst role list neither leads nor customers', async () => {
    for (const url of ['/v1/leads', '/v1/customers', `/v1/customers?q=x`]) expect((await h.json('GET', url, { as: 'analyst' })).status, url).toBe(403);
  });
});
