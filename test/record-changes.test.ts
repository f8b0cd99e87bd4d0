/**
 * PostgreSQL is the record of master-data changes, GDPR requests, offers and campaign enrollments:
 * each is driven to its end through the API, then its workflows are deleted from Temporal (as the
 * namespace retention deletes them) and the worker is stopped, and every read and list answers the
 * same, with a timeline that says who did what and when. A retried activity writes each timeline
 * entry once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The harness first: it loads the API, whose zod-openapi import must extend zod before any domain schema is built.
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { grantMarketingConsent } from './support/consent.js';
import { forget, workflowsOf } from './support/retention.js';
import { codeFor, confirmFromOldContact, fetchExportByLink, registerCustomer, waitForChange, waitForGdpr, type TestCustomer } from './support/master-data.js';
import { createActivities } from '../activities/index.js';
import { DEFAULT_MASTER_DATA_POLICY, changeStateQuery, type MasterDataPolicy } from '../src/domain/master-data.js';
import { gdprStateQuery } from '../src/domain/gdpr.js';
import { offerStateQuery } from '../src/domain/offers.js';
import { FileTransport } from '../src/notifications/transport.js';

// Short enough to carry out an erasure inside a test, long enough for a loaded machine to act in.
const POLICY: MasterDataPolicy = { ...DEFAULT_MASTER_DATA_POLICY, erasureGracePeriod: '3 seconds' };

let h: Harness;
const workflowIds = new Set<string>();
const campaignIds: string[] = [];
beforeAll(async () => {
  h = await startHarness('record', { masterDataPolicy: POLICY });
});
afterAll(async () => {
  for (const id of campaignIds)
    await h?.client.schedule
      .getHandle(`campaign-${id}`)
      .delete()
      .catch(() => undefined);
  await h?.close();
});

async function seedCustomer(owns: string[]): Promise<string> {
  const id = randomUUID();
  const email = `${uniqueId('record')}@example.com`;
  await h.pool.query(`INSERT INTO customers (id, name, email, email_normalized, created_by) VALUES ($1, 'Rita Record', $2, $2, 'test')`, [id, email]);
  for (const product of owns) {
    await h.pool.query(
      `INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) SELECT $1, id, price, 'import', now() - interval '1 year' FROM products WHERE id = $2`,
      [id, product],
    );
  }
  // Offers and campaigns reach only customers who agreed to marketing.
  await grantMarketingConsent(h.pool, [id]);
  return id;
}

const ok = async (method: string, url: string, opts: Parameters<Harness['json']>[2] = {}) => {
  const res = await h.json(method, url, opts);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
};
/** A read as the record answers it: without what only a running workflow or schedule adds. */
const recordOf = async (url: string) => {
  const { live: _live, schedule: _schedule, ...body } = await ok('GET', url);
  return body;
};

describe('every process read from PostgreSQL once Temporal has forgotten it and no worker runs', () => {
  let changer: TestCustomer;
  let leaver: TestCustomer;
  let buyer: string;
  let member: string;
  let applied: string;
  let rejected: string;
  let exportId: string;
  let erasureId: string;
  let accepted: string;
  let declined: string;
  let campaignId: string;
  const reads: string[] = [];
  const before = new Map<string, unknown>();

  it('drives a change, an export, an erasure, two offers and a campaign to their end through the API', async () => {
    changer = await registerCustomer(h);
    leaver = await registerCustomer(h);
    buyer = await seedCustomer(['internet-s']);
    member = await seedCustomer(['security-home']);

    // A change applied after one wrong code, and a change a second person rejected.
    const newEmail = `${uniqueId('new')}@example.com`;
    applied = (await ok('POST', `/v1/customers/${changer.id}/changes`, { body: { changes: { email: newEmail }, reason: 'new provider' } })).changeId;
    await waitForChange(h, applied, 'awaiting-verification');
    const theCode = await codeFor(h, newEmail);
    const wrong = theCode === '000000' ? '111111' : '000000';
    expect((await h.json('POST', `/v1/changes/${applied}/verification`, { body: { code: wrong } })).status).toBe(422);
    await ok('POST', `/v1/changes/${applied}/verification`, { body: { code: theCode } });
    await confirmFromOldContact(h, applied, changer.email);
    await waitForChange(h, applied, 'applied');
    rejected = (await ok('POST', `/v1/customers/${changer.id}/changes`, { body: { changes: { name: `Jane ${uniqueId('n').slice(2)} Roe` } } })).changeId;
    await waitForChange(h, rejected, 'awaiting-approval');
    await ok('POST', `/v1/changes/${rejected}/approval`, {
      as: 'backoffice',
      body: { decision: 'reject', comment: 'no proof of the new name' },
    });
    await waitForChange(h, rejected, 'rejected');

    // An export fetched, then the customer's erasure carried out.
    exportId = (await ok('POST', `/v1/customers/${leaver.id}/export`, { body: {} })).requestId;
    await waitForGdpr(h, exportId, 'awaiting-verification');
    await ok('POST', `/v1/gdpr-requests/${exportId}/verification`, { body: { code: await codeFor(h, leaver.email) } });
    await waitForGdpr(h, exportId, 'ready');
    const fetched = await fetchExportByLink(h, leaver.email);
    expect(fetched.status, JSON.stringify(fetched.body)).toBe(200);
    const content = fetched.body;
    expect(content.customer.email).toBe(leaver.email);
    await waitForGdpr(h, exportId, 'retrieved');
    {
      // While the export's workflow can still be read, the record says what it says (the retrieval is
      // recorded by the fetch itself, a moment before the workflow hears of it).
      const { workflowId: _w, requestedAt: _r, closedAt: _c, verificationLog: _v, export: _e, ...recorded } = await recordOf(`/v1/gdpr-requests/${exportId}`);
      const own = await h.client.workflow.getHandle(`gdpr-${exportId}`).query(gdprStateQuery);
      const comparable = (t: Array<{ at?: string }>) => t.map(({ at: _at, ...rest }) => rest);
      expect({ ...recorded, transitions: comparable(recorded.transitions) }).toEqual({ ...own, transitions: comparable(own.transitions) });
      expect(recorded.transitions.slice(0, -1)).toEqual(own.transitions.slice(0, -1));
    }
    erasureId = (await ok('POST', `/v1/customers/${leaver.id}/erasure`, { body: {} })).requestId;
    await waitForGdpr(h, erasureId, 'awaiting-verification');
    await ok('POST', `/v1/gdpr-requests/${erasureId}/verification`, { body: { code: await codeFor(h, leaver.email, 2) } });
    // Closed either way; the erasure's own test below says whether it was carried out, and why not.
    await eventually(async () => (await ok('GET', `/v1/gdpr-requests/${erasureId}`)).closedAt, { timeoutMs: 30_000 });

    // An upsell accepted and a cross-sell declined.
    accepted = (await ok('POST', `/v1/customers/${buyer}/offers`, { body: { kind: 'upsell', productId: 'internet-m' } })).offerId;
    declined = (await ok('POST', `/v1/customers/${buyer}/offers`, { body: { kind: 'cross-sell', productId: 'tv-basic' } })).offerId;
    expect((await ok('POST', `/v1/offers/${accepted}/response`, { body: { decision: 'accept' } })).status).toBe('accepted');
    expect((await ok('POST', `/v1/offers/${declined}/response`, { body: { decision: 'decline' } })).status).toBe('declined');

    // A campaign run that enrolls one customer and sends one message.
    const campaign = await ok('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: {
        name: `Security check-in ${uniqueId('c')}`,
        segment: { ownsAnyOf: ['security-home'] },
        schedule: { interval: '30 days', timezone: 'UTC' },
        steps: [{ type: 'message', channel: 'email', template: 'campaign-checkin' }],
      },
    });
    campaignId = campaign.id;
    campaignIds.push(campaignId);
    await ok('POST', `/v1/campaigns/${campaignId}/runs`, { as: 'backoffice' });
    await eventually(
      async () => {
        const res = await h.json('GET', `/v1/campaigns/${campaignId}/enrollments/${member}`);
        return res.status === 200 && res.body.state.status === 'completed';
      },
      { timeoutMs: 60_000 },
    );
    await eventually(async () => (await ok('GET', `/v1/campaigns/${campaignId}`)).runs[0]?.status === 'completed');

    // While the workflows are still there, the record says what they say.
    const desk = h.client.workflow.getHandle(`master-data-${changer.id}`);
    for (const id of [applied, rejected]) {
      const { workflowId: _w, closedAt: _c, verificationLog: _v, ...recorded } = await recordOf(`/v1/changes/${id}`);
      expect(recorded).toEqual(await desk.query(changeStateQuery, id));
    }
    // The leaver's export and erasure ran under the leaver's payload key, which the erasure destroyed:
    // neither workflow can be read any more (the export's record was compared before the erasure).
    for (const id of [exportId, erasureId]) {
      await expect(h.client.workflow.getHandle(`gdpr-${id}`).query(gdprStateQuery)).rejects.toThrow(/destroyed by erasure/);
    }
    for (const id of [accepted, declined]) {
      const recorded = await recordOf(`/v1/offers/${id}`);
      const own = await h.client.workflow.getHandle(`offer-${id}`).query(offerStateQuery);
      const steps = (t: Array<{ status: string; actor: string }>) => t.map((x) => `${x.status} by ${x.actor}`);
      expect(steps(recorded.transitions)).toEqual(steps(own.transitions));
      expect(recorded).toMatchObject({
        status: own.status,
        kind: own.kind,
        productId: own.productId,
        replacesProductId: own.replacesProductId,
        price: own.price,
        validUntil: own.validUntil,
      });
    }

    reads.push(
      `/v1/changes/${applied}`,
      `/v1/changes/${rejected}`,
      `/v1/customers/${changer.id}/changes`,
      `/v1/gdpr-requests/${exportId}`,
      `/v1/gdpr-requests/${erasureId}`,
      `/v1/offers/${accepted}`,
      `/v1/offers/${declined}`,
      `/v1/customers/${buyer}/offers`,
      `/v1/campaigns/${campaignId}`,
      `/v1/campaigns/${campaignId}/enrollments/${member}`,
    );
    for (const url of reads) before.set(url, await recordOf(url));
  }, 180_000);

  it('deletes every workflow of these processes from Temporal and stops the worker', async () => {
    for (const c of [changer.id, leaver.id, buyer, member]) for (const id of await workflowsOf(h, `CrmCustomerId = '${c}'`)) workflowIds.add(id);
    for (const id of await workflowsOf(h, `CrmCampaignId = '${campaignId}'`)) workflowIds.add(id);
    for (const id of [
      `master-data-${changer.id}`,
      `gdpr-${exportId}`,
      `gdpr-${erasureId}`,
      `offer-${accepted}`,
      `offer-${declined}`,
      `campaign-${campaignId}-${member}`,
    ])
      workflowIds.add(id);
    await h.stopWorker();
    for (const id of workflowIds) await forget(h, id);
    await h.client.schedule.getHandle(`campaign-${campaignId}`).delete();
    expect(workflowIds.size).toBeGreaterThanOrEqual(8);
  }, 120_000);

  it('answers every read and list the same as before', async () => {
    for (const url of reads) expect(await recordOf(url), url).toEqual(before.get(url));
    const campaign = await ok('GET', `/v1/campaigns/${campaignId}`);
    expect(campaign.schedule).toBeNull();
    expect(campaign.runs[0]).toMatchObject({ status: 'completed', selected: 1, enrolled: 1 });
    expect(campaign.enrollments).toEqual({ completed: 1 });
  });

  it('says who changed what and when: codes sent and wrong, the decision, the outcome', async () => {
    const change = await recordOf(`/v1/changes/${applied}`);
    expect(change).toMatchObject({
      status: 'applied',
      fields: ['email'],
      requestedBy: h.users.agent.id,
      reason: 'new provider',
      outcome: { version: 2 },
    });
    expect(change.transitions.map((t: { status: string }) => t.status)).toEqual(['queued', 'awaiting-verification', 'verified', 'applying', 'applied']);
    expect(change.transitions[0]).toMatchObject({ actor: h.users.agent.id, reason: 'new provider' });
    // An e-mail change sends a code to the new address and one to the address on record.
    expect(change.verificationLog.map((e: { status: string; actor: string }) => `${e.status} by ${e.actor}`)).toEqual([
      'code-sent by system',
      'code-sent by system',
      `code-wrong by ${h.users.agent.id}`,
    ]);
    expect(change.verificationLog[2].reason).toBe('wrong code; 4 attempts left');
    expect(JSON.stringify(change)).not.toContain(await codeFor(h, change.preview.email));
    for (const t of change.transitions) expect(Date.parse(t.at)).not.toBeNaN();

    const no = await recordOf(`/v1/changes/${rejected}`);
    expect(no.status).toBe('rejected');
    expect(no.approval).toMatchObject({
      required: true,
      decision: 'reject',
      approver: h.users.backoffice.id,
      comment: 'no proof of the new name',
    });
    expect(no.transitions.at(-1)).toMatchObject({
      status: 'rejected',
      actor: h.users.backoffice.id,
      reason: 'not approved: no proof of the new name',
    });
    expect(no.outcome.detail).toBe('not approved: no proof of the new name');

    const list = await ok('GET', `/v1/customers/${changer.id}/changes`);
    expect(list.items.map((c: { changeId: string; status: string; decidedBy: string | null }) => [c.changeId, c.status, c.decidedBy])).toEqual([
      [rejected, 'rejected', h.users.backoffice.id],
      [applied, 'applied', null],
    ]);
    const page = await ok('GET', `/v1/customers/${changer.id}/changes?limit=1`);
    expect(page.items.map((c: { changeId: string }) => c.changeId)).toEqual([rejected]);
    const next = await ok('GET', `/v1/customers/${changer.id}/changes?limit=1&after=${page.nextAfter}`);
    expect(next.items.map((c: { changeId: string }) => c.changeId)).toEqual([applied]);
    expect(next.nextAfter).toBeNull();
  });

  it('says who fetched the export and when the erasure was carried out', async () => {
    const exp = await recordOf(`/v1/gdpr-requests/${exportId}`);
    expect(exp).toMatchObject({
      kind: 'export',
      status: 'retrieved',
      requestedBy: h.users.agent.id,
      // Fetched by the customer, through the link sent to the verified address (staff cannot).
      export: { retrievedBy: 'customer', discardedAt: null },
    });
    expect(exp.transitions.map((t: { status: string }) => t.status)).toEqual(['awaiting-verification', 'assembling', 'ready', 'retrieved']);
    expect(exp.transitions.at(-1).actor).toBe('customer');
    expect(exp.exportBytes).toBe(exp.export.bytes);
    expect(exp.closedAt).not.toBeNull();

    const erasure = await recordOf(`/v1/gdpr-requests/${erasureId}`);
    expect(erasure, JSON.stringify(erasure.transitions.at(-1))).toMatchObject({
      kind: 'erasure',
      status: 'erased',
      requestedBy: h.users.agent.id,
    });
    expect(erasure.transitions.map((t: { status: string }) => t.status)).toEqual(['awaiting-verification', 'grace-period', 'erasing', 'erased']);
    expect(erasure.erasedRows.customers).toBe(1);
    expect(erasure.verificationLog.map((e: { status: string }) => e.status)).toEqual(['code-sent']);
  });

  it('says who answered each offer and when', async () => {
    const yes = await recordOf(`/v1/offers/${accepted}`);
    expect(yes).toMatchObject({
      status: 'accepted',
      kind: 'upsell',
      productId: 'internet-m',
      replacesProductId: 'internet-s',
      decidedBy: h.users.agent.id,
    });
    expect(yes.transitions.map((t: { status: string; actor: string }) => `${t.status} by ${t.actor}`)).toEqual([
      `checking by ${h.users.agent.id}`,
      'presented by system',
      `accepted by ${h.users.agent.id}`,
    ]);
    expect(yes.transitions.at(-1).at).toBe(yes.decidedAt);
    const no = await recordOf(`/v1/offers/${declined}`);
    expect(no.transitions.map((t: { status: string; actor: string }) => `${t.status} by ${t.actor}`)).toEqual([
      `checking by ${h.users.agent.id}`,
      'presented by system',
      `declined by ${h.users.agent.id}`,
    ]);
    const list = await ok('GET', `/v1/customers/${buyer}/offers`);
    expect(list.offers.map((o: { offerId: string; status: string }) => `${o.offerId}:${o.status}`).sort()).toEqual(
      [`${accepted}:accepted`, `${declined}:declined`].sort(),
    );
  });

  it('says why the customer got the campaign message', async () => {
    const why = await recordOf(`/v1/campaigns/${campaignId}/enrollments/${member}`);
    expect(why.workflowId).toBe(`campaign-${campaignId}-${member}`);
    expect(why.state).toMatchObject({ status: 'completed', campaignId, customerId: member, step: 1 });
    expect(why.state.log.map((l: { type: string; outcome: string }) => `${l.type}:${l.outcome}`)).toEqual([
      'enrolled:enrolled',
      'message:sent',
      'end:completed',
    ]);
    expect(why.state.log[1].detail).toMatch(/^email campaign-checkin, message [0-9a-f-]{36}$/);
    expect(why.enrollments).toEqual([expect.objectContaining({ status: 'completed', endReason: 'all steps done' })]);
  });

  it('starts the worker again', async () => {
    await h.startWorker();
  });
});

describe('a retried activity writes each timeline entry once', () => {
  const activities = () => createActivities({ pool: h.pool, transport: new FileTransport(h.mailDir) });
  const count = async (sql: string, params: unknown[]) => Number((await h.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, params)).rows[0]!.n);

  it('records a change step once however often it is recorded', async () => {
    const acts = activities();
    const c = await registerCustomer(h);
    const changeId = randomUUID();
    const at = new Date().toISOString();
    const base = {
      changeId,
      customerId: c.id,
      fields: ['name' as const],
      requestedBy: h.users.agent.id,
      workflowId: `master-data-${c.id}`,
      preview: { name: 'X' },
    };
    const queued = [{ status: 'queued', at, actor: h.users.agent.id }];
    await acts.openChangeRequest({ ...base, status: 'queued', transitions: queued });
    await acts.openChangeRequest({ ...base, status: 'queued', transitions: queued });
    const events = () => count('request_events WHERE request_id = $1', [changeId]);
    expect(await events()).toBe(1);
    const asking = [...queued, { status: 'awaiting-approval', at, actor: 'system' }];
    for (let i = 0; i < 2; i++) await acts.recordChangeState({ ...base, status: 'awaiting-approval', transitions: asking, closed: false });
    expect(await events()).toBe(2);
    const done = [...asking, { status: 'rejected', at, actor: h.users.backoffice.id, reason: 'not approved' }];
    const record = {
      ...base,
      status: 'rejected' as const,
      transitions: done,
      approval: { required: true as const, escalated: false, decision: 'reject' as const, approver: h.users.backoffice.id },
      closed: true,
    };
    await acts.recordChangeState(record);
    await acts.recordChangeState(record);
    expect(await events()).toBe(3);
    const change = await ok('GET', `/v1/changes/${changeId}`);
    expect(change.transitions.map((t: { status: string }) => t.status)).toEqual(['queued', 'awaiting-approval', 'rejected']);
    expect(change.approval.approver).toBe(h.users.backoffice.id);
  });

  it('records a GDPR step once however often it is recorded', async () => {
    const acts = activities();
    const c = await registerCustomer(h);
    const requestId = `export-${randomUUID()}`;
    const at = new Date().toISOString();
    const record = {
      requestId,
      kind: 'export' as const,
      customerId: c.id,
      requestedBy: h.users.agent.id,
      workflowId: `gdpr-${requestId}`,
      runId: randomUUID(),
    };
    const opened = {
      ...record,
      status: 'awaiting-verification' as const,
      transitions: [{ status: 'awaiting-verification', at, actor: h.users.agent.id }],
    };
    await acts.openGdprRequestRecord(opened);
    await acts.openGdprRequestRecord(opened);
    const assembling = {
      ...opened,
      status: 'assembling' as const,
      transitions: [...opened.transitions, { status: 'assembling', at, actor: 'system' }],
    };
    await acts.recordGdprRequestState(assembling);
    await acts.recordGdprRequestState(assembling);
    expect(await count('request_events WHERE request_id = $1', [requestId])).toBe(2);
    expect((await ok('GET', `/v1/gdpr-requests/${requestId}`)).status).toBe('assembling');
  });

  it('gives a request that ran before it had a record its row at its next step', async () => {
    const acts = activities();
    const c = await registerCustomer(h);
    const requestId = `erasure-${c.id}`;
    const at = new Date().toISOString();
    const state = {
      requestId,
      kind: 'erasure' as const,
      customerId: c.id,
      requestedBy: h.users.agent.id,
      workflowId: `gdpr-${requestId}`,
      runId: randomUUID(),
      status: 'grace-period' as const,
      dueAt: at,
      transitions: [
        { status: 'awaiting-verification', at, actor: h.users.agent.id },
        { status: 'grace-period', at, actor: 'system', reason: 'erasure soon' },
      ],
    };
    await acts.recordGdprRequestState(state);
    const row = await ok('GET', `/v1/gdpr-requests/${requestId}`);
    expect(row).toMatchObject({ status: 'grace-period', requestedBy: h.users.agent.id, dueAt: at, closedAt: null });
    expect(row.transitions.map((t: { status: string }) => t.status)).toEqual(['awaiting-verification', 'grace-period']);
    // Another run of the same request id never moves this run's row.
    await acts.recordGdprRequestState({
      ...state,
      runId: randomUUID(),
      status: 'cancelled',
      transitions: [...state.transitions, { status: 'cancelled', at, actor: 'x' }],
    });
    expect((await ok('GET', `/v1/gdpr-requests/${requestId}`)).status).toBe('grace-period');
  });

  it('records an offer step once however often it is taken', async () => {
    const acts = activities();
    const customerId = await seedCustomer(['internet-s']);
    const offerId = randomUUID();
    const workflowId = `offer-${offerId}`;
    const now = new Date().toISOString();
    const input = {
      offerId,
      customerId,
      kind: 'upsell' as const,
      productId: 'internet-l',
      validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      actor: h.users.agent.id,
      workflowId,
      now,
    };
    for (let i = 0; i < 2; i++) await acts.decideOfferEligibility(input);
    for (let i = 0; i < 2; i++) expect((await acts.presentOffer({ offerId, now, workflowId })).outcome).toBe('presented');
    for (let i = 0; i < 2; i++)
      await acts.closeOffer({ offerId, status: 'declined', actor: h.users.agent.id, reason: 'declined by the customer', now, workflowId });
    expect(await count('offer_events WHERE offer_id = $1', [offerId])).toBe(3);
    const offer = await ok('GET', `/v1/offers/${offerId}`);
    expect(offer.transitions.map((t: { status: string }) => t.status)).toEqual(['checking', 'presented', 'declined']);
  });

  it('records an enrollment step once however often it is recorded', async () => {
    const acts = activities();
    const customerId = await seedCustomer([]);
    const campaign = await ok('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: {
        name: 'Retry',
        segment: { ownsAnyOf: ['mobile-l'] },
        schedule: { interval: '30 days', timezone: 'UTC' },
        steps: [{ type: 'wait', duration: '1 day' }],
      },
    });
    campaignIds.push(campaign.id);
    const runKey = `run-${randomUUID()}`;
    const now = new Date().toISOString();
    const workflowId = `campaign-${campaign.id}-${customerId}`;
    await h.pool.query(
      "INSERT INTO campaign_enrollments (campaign_id, customer_id, run_key, workflow_id, status, enrolled_at) VALUES ($1, $2, $3, $4, 'active', $5)",
      [campaign.id, customerId, runKey, workflowId, now],
    );
    const step = {
      campaignId: campaign.id,
      customerId,
      runKey,
      step: 0,
      summary: 'Step 1: waiting 1 day',
      now,
      workflowId,
      key: 'wait',
      entry: { type: 'wait' as const, outcome: 'waiting', detail: 'until tomorrow' },
    };
    await acts.recordEnrollmentStep(step);
    await acts.recordEnrollmentStep(step);
    const end = { campaignId: campaign.id, customerId, runKey, status: 'completed' as const, reason: 'all steps done', now, workflowId };
    await acts.closeEnrollment(end);
    await acts.closeEnrollment(end);
    expect(await count('enrollment_events WHERE campaign_id = $1 AND customer_id = $2', [campaign.id, customerId])).toBe(2);
    const why = await ok('GET', `/v1/campaigns/${campaign.id}/enrollments/${customerId}`);
    expect(why.state.log.map((l: { type: string; outcome: string }) => `${l.type}:${l.outcome}`)).toEqual(['wait:waiting', 'end:completed']);
  });
});

describe('live details of a running process', () => {
  it("adds the running desk's own view only when asked for, and answers without it when no worker runs", async () => {
    const c = await registerCustomer(h);
    const changeId = (
      await ok('POST', `/v1/customers/${c.id}/changes`, {
        body: { changes: { address: { street: 'Kalverstraat 1', postalCode: '1012 NX', city: 'Amsterdam', country: 'NL' } } },
      })
    ).changeId;
    await waitForChange(h, changeId, 'awaiting-verification');
    const wrong = (await codeFor(h, c.email)) === '000000' ? '111111' : '000000';
    expect((await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: wrong } })).status).toBe(422);

    const plain = await ok('GET', `/v1/changes/${changeId}`);
    expect(plain.live).toBeUndefined();
    const live = await ok('GET', `/v1/changes/${changeId}?live=true`);
    expect(live.live.state).toMatchObject({ changeId, status: 'awaiting-verification', verification: { attemptsLeft: 4 } });
    expect(Date.parse(live.live.at)).not.toBeNaN();
    const { live: _live, ...record } = live;
    expect(record).toEqual(plain);

    await h.stopWorker();
    try {
      const started = Date.now();
      const without = await ok('GET', `/v1/changes/${changeId}?live=true`);
      expect(without).toEqual(plain);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await h.startWorker();
    }
    await ok('POST', `/v1/changes/${changeId}/cancel`, { body: { reason: 'test done' } });
    const cancelled = await waitForChange(h, changeId, 'cancelled');
    expect(cancelled.transitions.at(-1)).toMatchObject({ status: 'cancelled', actor: h.users.agent.id, reason: 'test done' });
    expect((await ok('GET', `/v1/changes/${changeId}?live=true`)).live).toBeUndefined();
  });
});

describe('bad input to the record reads', () => {
  it('answers 400 naming the field, and 404 for what does not exist', async () => {
    const bad = await h.json('GET', '/v1/customers/not-a-uuid/changes');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.stringify(bad.body)).toContain('id');
    const limit = await h.json('GET', `/v1/customers/${randomUUID()}/changes?limit=0`);
    expect(limit.status).toBe(400);
    expect(JSON.stringify(limit.body)).toContain('limit');
    const after = await h.json('GET', `/v1/customers/${randomUUID()}/changes?after=page-2`);
    expect(after.status).toBe(400);
    expect(JSON.stringify(after.body)).toContain('after');
    expect((await h.json('GET', `/v1/customers/${randomUUID()}/changes`)).status).toBe(404);
    expect((await h.json('GET', `/v1/changes/${randomUUID()}`)).status).toBe(404);
    expect((await h.json('GET', `/v1/gdpr-requests/export-${randomUUID()}`)).status).toBe(404);
    expect((await h.json('GET', '/v1/gdpr-requests/nonsense')).status).toBe(400);
    expect((await h.json('GET', `/v1/offers/${randomUUID()}`)).status).toBe(404);
    expect((await h.json('GET', `/v1/campaigns/${randomUUID()}/enrollments/${randomUUID()}`)).status).toBe(404);
    expect((await h.json('GET', `/v1/customers/${randomUUID()}/changes`, { as: null })).status).toBe(401);
    const live = await h.json('GET', `/v1/changes/${randomUUID()}?live=maybe`);
    expect(live.status).toBe(400);
    expect(JSON.stringify(live.body)).toContain('live');
    expect((await h.json('GET', `/v1/campaigns/${randomUUID()}/enrollments/${randomUUID()}?live=1`)).status).toBe(400);
  });
});
