import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The harness first: it loads the API, whose zod-openapi import must extend zod before any domain schema is built.
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { grantMarketingConsent } from './support/consent.js';
import { segmentProduct } from './support/retention.js';
import { RECORDING, recorder, replayRecorded } from './support/replay.js';
import type { Client } from '@temporalio/client';
import { offerRespondUpdate } from '../src/domain/offers.js';
import type { createApi } from '../src/api/app.js';
import { campaignRequestSchema, enrollmentStateQuery, type CampaignRunResult } from '../src/domain/retention.js';
import { CrmCampaignId, CrmProcess } from '../src/domain/search-attributes.js';
import type { EnrollmentResult } from '../workflows/retention.js';

const DAY = 86_400_000;

async function seedCustomers(
  harness: Harness,
  marker: string,
  n: number,
  extra: { timezone?: string; phone?: string } = {},
): Promise<Array<{ id: string; email: string }>> {
  const customers = Array.from({ length: n }, () => ({ id: randomUUID(), email: `${uniqueId('ret')}@example.com` }));
  for (const c of customers) {
    await harness.pool.query(
      `INSERT INTO customers (id, name, email, email_normalized, created_by, timezone, phone, created_at)
       VALUES ($1, 'Rita Retention', $2, $2, 'test', $3, $4, now() - interval '2 years')`,
      [c.id, c.email, extra.timezone ?? null, extra.phone ?? null],
    );
    await harness.pool.query(
      "INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) VALUES ($1, $2, 0, 'import', now() - interval '2 years')",
      [c.id, marker],
    );
  }
  // Campaigns message only customers who agreed to marketing on the channel.
  await grantMarketingConsent(
    harness.pool,
    customers.map((c) => c.id),
  );
  return customers;
}

const ownsMarker = (marker: string) => ({ ownsAnyOf: [marker] });

async function messages(harness: Harness, customerId: string, template?: string): Promise<Array<{ template: string; occurred_at: Date }>> {
  const { rows } = await harness.pool.query(
    `SELECT o.template, e.occurred_at FROM contact_events e JOIN notification_outbox o ON e.summary LIKE '%(message ' || o.id || ')'
     WHERE e.customer_id = $1 AND e.kind = 'campaign-message' AND ($2::text IS NULL OR o.template = $2) ORDER BY e.occurred_at`,
    [customerId, template ?? null],
  );
  return rows;
}

describe('campaigns on the dev server: schedules, runs, segments', () => {
  let h: Harness;
  const schedules: string[] = [];
  beforeAll(async () => {
    h = await startHarness('retention');
  });
  afterAll(async () => {
    for (const id of schedules)
      await h.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    await h?.close();
  });

  const campaign = (marker: string, overrides: Record<string, unknown> = {}) => ({
    name: `Win-back ${marker}`,
    segment: ownsMarker(marker),
    schedule: { cron: '0 9 * * MON', timezone: 'Europe/Berlin' },
    steps: [{ type: 'message', channel: 'email', template: 'campaign-checkin' }],
    ...overrides,
  });
  const create = async (body: unknown) => {
    const res = await h.json('POST', '/v1/campaigns', { as: 'backoffice', body });
    if (res.status === 201) schedules.push(res.body.scheduleId);
    return res;
  };

  it('creates a campaign as a Temporal Schedule in its time zone, and pauses and resumes it', async () => {
    const marker = await segmentProduct(h);
    const res = await create(campaign(marker, { quietHours: { start: '21:00', end: '08:00' }, maxMessagesPerWeek: 2, reEnrollment: { afterDays: 30 } }));
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v1/campaigns/${res.body.id}`);
    expect(res.body).toMatchObject({ status: 'active', scheduleId: `campaign-${res.body.id}`, createdBy: h.users.backoffice.id, runs: [] });
    expect(res.body.definition).toMatchObject({
      maxMessagesPerWeek: 2,
      reEnrollment: { afterDays: 30 },
      quietHours: { start: '21:00', end: '08:00' },
    });

    const schedule = await h.client.schedule.getHandle(`campaign-${res.body.id}`).describe();
    expect(schedule.spec.timezone).toBe('Europe/Berlin');
    expect(schedule.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'campaignRun',
      workflowId: `campaign-${res.body.id}-run`,
      taskQueue: h.taskQueue,
    });
    expect(schedule.typedSearchAttributes.get(CrmCampaignId)).toBe(res.body.id);
    // Mondays 09:00 in Berlin are 07:00 or 08:00 UTC, whatever the season.
    const next = schedule.info.nextActionTimes[0]!;
    expect(next.getUTCDay()).toBe(1);
    expect([7, 8]).toContain(next.getUTCHours());
    expect(res.body.schedule.nextActionTimes[0]).toBe(next.toISOString());

    const paused = await h.json('PATCH', `/v1/campaigns/${res.body.id}`, {
      as: 'backoffice',
      body: { status: 'paused', note: 'budget review' },
    });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ status: 'paused', schedule: { paused: true, note: 'budget review' } });
    expect((await h.client.schedule.getHandle(`campaign-${res.body.id}`).describe()).state.paused).toBe(true);
    const resumed = await h.json('PATCH', `/v1/campaigns/${res.body.id}`, { as: 'admin', body: { status: 'active' } });
    expect(resumed.body).toMatchObject({ status: 'active', schedule: { paused: false } });

    const listed = await h.json('GET', '/v1/campaigns');
    expect(listed.body.campaigns.map((c: { id: string }) => c.id)).toContain(res.body.id);
  });

  it('creates a campaign once for a repeated Idempotency-Key, and refuses the key for another definition', async () => {
    const marker = await segmentProduct(h);
    const key = uniqueId('campaign');
    const body = campaign(marker);
    const first = await h.json('POST', '/v1/campaigns', { as: 'backoffice', body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    schedules.push(first.body.scheduleId);
    const again = await h.json('POST', '/v1/campaigns', { as: 'backoffice', body, headers: { 'idempotency-key': key } });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(Number((await h.pool.query("SELECT count(*) AS n FROM campaigns WHERE definition->'segment'->'ownsAnyOf'->>0 = $1", [marker])).rows[0].n)).toBe(1);
    const other = await h.json('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: { ...body, name: 'Another' },
      headers: { 'idempotency-key': key },
    });
    expect(other.status).toBe(422);
    expect(other.body.detail).toMatch(/Idempotency-Key/);
  });

  it("sets a customer's churn-risk score and time zone, audited, for backoffice and admins only, based on the version read", async () => {
    const marker = await segmentProduct(h);
    const [c] = await seedCustomers(h, marker, 1);
    const url = `/v1/customers/${c!.id}/retention-profile`;
    const version = (await h.json('GET', `/v1/customers/${c!.id}`, { as: 'backoffice' })).body.version as number;
    const set = await h.json('PATCH', url, { as: 'backoffice', body: { churnRisk: 0.82, timezone: 'Europe/Vienna', version } });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ customerId: c!.id, churnRisk: 0.82, timezone: 'Europe/Vienna', version: version + 1 });
    const cleared = await h.json('PATCH', url, { as: 'admin', body: { timezone: null }, headers: { 'if-match': `"${version + 1}"` } });
    expect(cleared.body).toEqual({ customerId: c!.id, churnRisk: 0.82, timezone: null, version: version + 2 });
    const audit = await h.pool.query('SELECT field, old_value, new_value, actor FROM audit_log WHERE customer_id = $1 ORDER BY id', [c!.id]);
    expect(audit.rows).toEqual([
      { field: 'churn_risk', old_value: null, new_value: 0.82, actor: h.users.backoffice.id },
      { field: 'timezone', old_value: null, new_value: 'Europe/Vienna', actor: h.users.backoffice.id },
      { field: 'timezone', old_value: 'Europe/Vienna', new_value: null, actor: h.users.admin.id },
    ]);
    const bad = await h.json('PATCH', url, { as: 'admin', body: { churnRisk: 1.5, timezone: 'Mars/Olympus', version } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['body.churnRisk', 'body.timezone']));
    expect((await h.json('PATCH', url, { as: 'admin', body: {} })).status).toBe(400);
    expect((await h.json('PATCH', url, { as: 'agent', body: { churnRisk: 0.1, version } })).status).toBe(403);
    expect((await h.json('PATCH', `/v1/customers/${randomUUID()}/retention-profile`, { as: 'admin', body: { churnRisk: 0.1, version: 1 } })).status).toBe(404);
  });

  it('a schedule triggered now runs: the segment is enrolled, messaged and visible per customer', async () => {
    const marker = await segmentProduct(h);
    const customers = await seedCustomers(h, marker, 3);
    const outsider = await seedCustomers(h, await segmentProduct(h), 1);
    const res = await create(campaign(marker, { schedule: { interval: '30 days', timezone: 'UTC' } }));
    const id = res.body.id;

    const triggered = await h.json('POST', `/v1/campaigns/${id}/runs`, { as: 'backoffice', body: {} });
    expect(triggered.status).toBe(202);
    const done = await eventually(async () => {
      const got = await h.json('GET', `/v1/campaigns/${id}`);
      // The Schedule is a live detail (left out when Temporal is slow to answer): wait for it too.
      return got.body.runs[0]?.status === 'completed' && (got.body.enrollments.completed ?? 0) === 3 && got.body.schedule?.recentActions.length
        ? got.body
        : undefined;
    });
    expect(done.runs[0]).toMatchObject({ pages: 1, selected: 3, enrolled: 3, skipped: 0 });
    expect(done.schedule.recentActions[0].workflowId).toMatch(new RegExp(`^campaign-${id}-run`));
    const run = await h.client.workflow.getHandle(done.schedule.recentActions[0].workflowId).describe();
    expect(run.type).toBe('campaignRun');
    expect(run.typedSearchAttributes.get(CrmProcess)).toBe('retention');

    for (const c of customers) {
      expect(await messages(h, c.id)).toHaveLength(1);
      await eventually(async () => (await h.mailbox(c.email)).find((m) => m.template === 'campaign-checkin'));
    }
    expect(await messages(h, outsider[0]!.id)).toHaveLength(0);

    const why = await h.json('GET', `/v1/campaigns/${id}/enrollments/${customers[0]!.id}`);
    expect(why.status).toBe(200);
    expect(why.body.workflowId).toBe(`campaign-${id}-${customers[0]!.id}`);
    expect(why.body.state.status).toBe('completed');
    expect(why.body.state.log.map((l: { type: string; outcome: string }) => `${l.type}:${l.outcome}`)).toEqual([
      'enrolled:enrolled',
      'message:sent',
      'end:completed',
    ]);
    expect(why.body.enrollments).toEqual([expect.objectContaining({ status: 'completed', endReason: 'all steps done' })]);
    const enrollment = await h.client.workflow.getHandle(why.body.workflowId).describe();
    expect(enrollment.typedSearchAttributes.get(CrmCampaignId)).toBe(id);
    expect(await enrollment.staticSummary()).toContain(`Win-back ${marker}`);

    // A paused campaign's manual run records itself as skipped and enrolls no one.
    await h.json('PATCH', `/v1/campaigns/${id}`, { as: 'backoffice', body: { status: 'paused' } });
    await h.json('POST', `/v1/campaigns/${id}/runs`, { as: 'backoffice', body: {} });
    const skipped = await eventually(async () => {
      const got = await h.json('GET', `/v1/campaigns/${id}`);
      return got.body.runs.find((r: { status: string }) => r.status === 'skipped');
    });
    expect(skipped).toMatchObject({ reason: 'campaign is paused', enrolled: 0 });
  });

  it('a segment of 5,000 customers enrolls page by page with the run history bounded', async () => {
    const marker = await segmentProduct(h);
    const n = 5_000;
    await h.pool.query(
      `WITH c AS (
         INSERT INTO customers (id, name, email, email_normalized, created_by)
         SELECT gen_random_uuid(), 'Bulk ' || i, 'bulk-' || $1 || '-' || i || '@example.com', 'bulk-' || $1 || '-' || i || '@example.com', 'test'
         FROM generate_series(1, $2) AS i RETURNING id)
       INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) SELECT id, $1, 0, 'import', now() FROM c`,
      [marker, n],
    );
    // Throttled to 10 enrollments a minute, as a campaign protecting its mail server would be: the
    // run enrolls all 5,000 at once, their journeys start over the next eight hours. The test
    // measures the run; the enrollments are terminated at the end.
    const res = await create(campaign(marker, { name: 'Bulk', throttle: { perMinute: 10 }, steps: [{ type: 'wait', duration: '1 second' }] }));
    const id = res.body.id;
    const t0 = Date.now();
    await h.json('POST', `/v1/campaigns/${id}/runs`, { as: 'admin', body: {} });
    try {
      const run = await eventually(
        async () => {
          const got = await h.json('GET', `/v1/campaigns/${id}`);
          return got.body.runs[0]?.status === 'completed' ? got.body : undefined;
        },
        { timeoutMs: 300_000, intervalMs: 2_000 },
      );
      const enrolledMs = Date.now() - t0;
      expect(run.runs[0]).toMatchObject({ selected: n, enrolled: n, skipped: 0, pages: 10 });
      expect(run.enrollments.active).toBeGreaterThan(n - 50);
      const last = await h.client.workflow
        .getHandle(
          `campaign-${id}-${(await h.pool.query('SELECT customer_id FROM campaign_enrollments WHERE campaign_id = $1 ORDER BY customer_id DESC LIMIT 1', [id])).rows[0].customer_id}`,
        )
        .describe();
      expect(last.status.name).toBe('RUNNING');

      // Follow the chain of executions: each one page, each with the same small history.
      const action = (await h.client.schedule.getHandle(`campaign-${id}`).describe()).info.recentActions[0]!.action.workflow;
      const lengths = await historyLengths(h.client, action.workflowId, action.firstExecutionRunId);
      expect(lengths).toHaveLength(10);
      const longest = Math.max(...lengths);
      expect(longest).toBeLessThan(40);
      // Every enrollment exists in Temporal under its business id, findable by campaign.
      const started = await eventually(
        async () => {
          const { count } = await h.client.workflow.count(`CrmCampaignId = '${id}' AND WorkflowType = 'campaignEnrollment'`);
          return count === n ? count : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
      expect(started).toBe(n);
      console.log(
        `[retention] 5,000-customer run: ${lengths.length} executions (continue-as-new per page of 500), ` +
          `history events per execution ${lengths.join(', ')} (max ${longest}, ${lengths.reduce((a, b) => a + b, 0)} in all); all enrolled in ${(enrolledMs / 1000).toFixed(1)} s`,
      );
    } finally {
      await h.client.workflowService.startBatchOperation({
        namespace: 'default',
        jobId: randomUUID(),
        reason: 'retention test cleanup',
        visibilityQuery: `CrmCampaignId = '${id}' AND ExecutionStatus = 'Running'`,
        terminationOperation: {},
      });
    }
  }, 420_000);

  it('answers bad campaign and event input with 400 naming each field, and keeps roles apart', async () => {
    const marker = await segmentProduct(h);
    const before = Number((await h.pool.query('SELECT count(*) AS n FROM campaigns')).rows[0].n);
    const bad = await h.json('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: {
        name: '',
        segment: { countries: ['XX'], tenureDays: { min: 10, max: 5 }, churnRisk: { min: 2 }, favouriteColour: 'blue' },
        schedule: { cron: '0 9 * * MON', interval: '1 day', timezone: 'Mars/Olympus_Mons' },
        steps: [
          { type: 'wait-for-response', timeout: '2 days' },
          { type: 'wait', duration: 'forever' },
          { type: 'message', channel: 'pigeon', template: 'nope' },
        ],
        goal: { type: 'offer-accepted' },
        reEnrollment: 'sometimes',
        quietHours: { start: '25:00', end: '08:00' },
        maxMessagesPerWeek: 0,
      },
    });
    expect(bad.status).toBe(400);
    const paths = bad.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'body.name',
        'body.segment.countries.0',
        'body.segment.tenureDays',
        'body.segment.churnRisk.min',
        'body.schedule.timezone',
        'body.steps.1.duration',
        'body.steps.2.channel',
        'body.steps.2.template',
        'body.reEnrollment',
        'body.quietHours.start',
        'body.maxMessagesPerWeek',
      ]),
    );
    expect(paths.some((p: string) => p === 'body.segment' || p === 'body.segment.favouriteColour')).toBe(true);
    const rules = await h.json('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: {
        ...campaign(marker),
        schedule: { cron: '0 9 * * MON', interval: '1 day', timezone: 'UTC' },
        steps: [{ type: 'wait-for-response', timeout: '2 days' }],
        goal: { type: 'offer-accepted' },
      },
    });
    expect(rules.status).toBe(400);
    expect(rules.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['body.schedule.cron', 'body.steps.0', 'body.goal']));
    const noSteps = await h.json('POST', '/v1/campaigns', { as: 'backoffice', body: { ...campaign(marker), steps: [] } });
    expect(noSteps.body.errors[0]).toMatchObject({ path: 'body.steps', message: 'a campaign needs at least one step' });
    const unknownProduct = await h.json('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: { ...campaign(marker), steps: [{ type: 'offer', kind: 'upsell', productId: 'no-such-product' }] },
    });
    expect(unknownProduct.status).toBe(400);
    expect(unknownProduct.body.detail).toMatch(/no-such-product/);
    const badCron = await h.json('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: { ...campaign(marker), schedule: { cron: '99 99 * * *', timezone: 'UTC' } },
    });
    expect(badCron.status).toBe(400);
    expect(badCron.body.errors[0].path).toBe('body.schedule');
    expect(Number((await h.pool.query('SELECT count(*) AS n FROM campaigns')).rows[0].n)).toBe(before);

    expect((await h.json('POST', '/v1/campaigns', { as: 'agent', body: campaign(marker) })).status).toBe(403);
    expect((await h.json('GET', '/v1/campaigns', { as: 'analyst' })).status).toBe(403);
    const unknown = randomUUID();
    expect((await h.json('GET', `/v1/campaigns/${unknown}`)).status).toBe(404);
    expect((await h.json('GET', '/v1/campaigns/not-a-uuid')).body.errors[0].path).toBe('path.id');
    expect((await h.json('PATCH', `/v1/campaigns/${unknown}`, { as: 'backoffice', body: { status: 'paused' } })).status).toBe(404);
    expect((await h.json('PATCH', `/v1/campaigns/${unknown}`, { as: 'backoffice', body: { status: 'stopped' } })).status).toBe(400);
    expect((await h.json('POST', `/v1/campaigns/${unknown}/runs`, { as: 'backoffice', body: {} })).status).toBe(404);
    expect((await h.json('GET', `/v1/campaigns/${unknown}/enrollments/${randomUUID()}`)).status).toBe(404);

    const [c] = await seedCustomers(h, marker, 1);
    const event = (body: unknown, customerId = c!.id) => h.json('POST', `/v1/customers/${customerId}/events`, { body });
    const badEvent = await event({ type: 'birthday', channel: 'fax', occurredAt: 'yesterday' });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['body.type', 'body.channel', 'body.occurredAt']));
    expect((await event({ type: 'login', productId: 'internet-s' })).body.errors[0].path).toBe('body.productId');
    expect((await event({ type: 'login', occurredAt: new Date(Date.now() + DAY).toISOString() })).body.errors[0]).toMatchObject({
      path: 'body.occurredAt',
      message: 'must not be in the future',
    });
    expect((await event({ type: 'purchase', productId: 'no-such-product' })).status).toBe(400);
    expect((await event({ type: 'login' }, randomUUID())).status).toBe(404);
    expect((await h.json('POST', `/v1/customers/${c!.id}/events`, { as: 'analyst', body: { type: 'login' } })).status).toBe(403);
    expect(Number((await h.pool.query('SELECT count(*) AS n FROM customer_events WHERE customer_id = $1', [c!.id])).rows[0].n)).toBe(0);

    const purchase = await event({ type: 'purchase', productId: 'tv-basic', channel: 'call' });
    expect(purchase.status).toBe(201);
    expect(purchase.body).toMatchObject({ type: 'purchase', suppression: null, notifiedEnrollments: [] });
    expect((await h.pool.query('SELECT product_id FROM customer_products WHERE customer_id = $1 AND source = $2', [c!.id, 'purchase'])).rows).toEqual([
      { product_id: 'tv-basic' },
    ]);
  });
});

/** Events per execution of a run that continued-as-new, first to last. */
async function historyLengths(client: Client, workflowId: string, firstRunId: string): Promise<number[]> {
  const lengths: number[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>> = await client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    const events = history.events ?? [];
    lengths.push(events.length);
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return lengths;
}

describe('enrollments over days (time skipping)', () => {
  let ts: Harness;
  // A plain client and an API over it: the time-skipping client unlocks time whenever it waits for a
  // result, and then the test server may jump past the moments these tests look at. Here time moves
  // only by env.sleep().
  let plain: Client;
  let api: ReturnType<typeof createApi>;
  beforeAll(async () => {
    ts = await startHarness('retention_days', { timeSkipping: true });
    ({ plain, api } = ts.plainApi());
  });
  const post = async (url: string, body: unknown) => {
    const res = await api.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${ts.keys.agent}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  afterAll(async () => {
    await ts?.close();
  });

  /** The test server has no Schedules: the campaign row is written as the API would, and its run started as the Schedule would. */
  async function defineCampaign(def: Record<string, unknown>): Promise<string> {
    const parsed = campaignRequestSchema.parse({ schedule: { interval: '7 days', timezone: 'UTC' }, ...def });
    const id = randomUUID();
    await ts.pool.query('INSERT INTO campaigns (id, name, definition, created_by) VALUES ($1, $2, $3, $4)', [id, parsed.name, JSON.stringify(parsed), 'test']);
    return id;
  }
  let runs = 0;
  /** Starts a run and waits for its row to close, without unlocking time: enrollments it starts are seen before any timer fires. */
  async function run(campaignId: string): Promise<Pick<CampaignRunResult, 'status' | 'selected' | 'enrolled' | 'skipped' | 'pages'>> {
    const workflowId = `campaign-${campaignId}-run-${++runs}`;
    await plain.workflow.start('campaignRun', {
      taskQueue: ts.taskQueue,
      workflowId,
      args: [{ campaignId, pageSize: 50, concurrency: 5 }],
    });
    return eventually(async () => {
      const { rows } = await ts.pool.query('SELECT status, selected, enrolled, skipped, pages FROM campaign_runs WHERE run_key = $1', [workflowId]);
      return rows[0] && rows[0].status !== 'running' ? rows[0] : undefined;
    });
  }
  const enrollment = (campaignId: string, customerId: string) => plain.workflow.getHandle(`campaign-${campaignId}-${customerId}`);
  /** The latest enrollment's outcome, once it has closed (without moving time). */
  async function finished(campaignId: string, customerId: string): Promise<EnrollmentResult> {
    await eventually(async () => {
      const { rows } = await ts.pool.query(
        'SELECT status FROM campaign_enrollments WHERE campaign_id = $1 AND customer_id = $2 ORDER BY enrolled_at DESC, id DESC LIMIT 1',
        [campaignId, customerId],
      );
      return rows[0] && rows[0].status !== 'active';
    });
    return enrollment(campaignId, customerId).result();
  }
  const stateOf = (campaignId: string, customerId: string) => enrollment(campaignId, customerId).query(enrollmentStateQuery);
  /** The enrollment's log as the API answers it from PostgreSQL: it must say what the workflow says (its times are the activities'). */
  const withoutTimes = (log: Array<{ at: string }>) => log.map(({ at: _at, ...entry }) => entry);
  const recordedLog = async (campaignId: string, customerId: string) =>
    withoutTimes((await ts.json('GET', `/v1/campaigns/${campaignId}/enrollments/${customerId}`)).body.state.log);

  it('a three-step campaign over 30 days sends its messages on day 0, 15 and 30 and records every step', async () => {
    const marker = await segmentProduct(ts);
    const [c] = await seedCustomers(ts, marker, 1);
    const id = await defineCampaign({
      name: 'Thirty days',
      segment: ownsMarker(marker),
      steps: [
        { type: 'message', channel: 'email', template: 'campaign-checkin' },
        { type: 'wait', duration: '15 days' },
        { type: 'message', channel: 'email', template: 'campaign-loyalty' },
        { type: 'wait', duration: '15 days' },
        { type: 'message', channel: 'email', template: 'campaign-winback' },
      ],
    });
    const result = await run(id);
    expect(result).toMatchObject({ status: 'completed', selected: 1, enrolled: 1, pages: 1 });
    await ts.env!.sleep('1 day');
    expect((await messages(ts, c!.id)).map((m) => m.template)).toEqual(['campaign-checkin']);
    expect((await stateOf(id, c!.id)).status).toBe('waiting');
    await ts.env!.sleep('15 days');
    expect((await messages(ts, c!.id)).map((m) => m.template)).toEqual(['campaign-checkin', 'campaign-loyalty']);

    await ts.env!.sleep('15 days');
    const end = await finished(id, c!.id);
    expect(end).toEqual({ status: 'completed', reason: 'all steps done', messagesSent: 3 });
    const sent = await messages(ts, c!.id);
    expect(sent.map((m) => m.template)).toEqual(['campaign-checkin', 'campaign-loyalty', 'campaign-winback']);
    const day = (d: Date) => Math.round((d.getTime() - sent[0]!.occurred_at.getTime()) / DAY);
    expect(sent.map((m) => day(m.occurred_at))).toEqual([0, 15, 30]);

    const steps = await ts.pool.query("SELECT summary FROM contact_events WHERE customer_id = $1 AND kind = 'campaign-step' ORDER BY occurred_at, summary", [
      c!.id,
    ]);
    expect(steps.rows.map((r) => r.summary)).toEqual([
      expect.stringMatching(/^Enrolled in campaign "Thirty days"/),
      expect.stringMatching(/^Step 2: waiting 15 days/),
      expect.stringMatching(/^Step 4: waiting 15 days/),
      'Enrollment ended (completed): all steps done',
    ]);
    const state = await stateOf(id, c!.id);
    expect(state.log.map((l) => `${l.step ?? '-'}:${l.type}:${l.outcome}`)).toEqual([
      '-:enrolled:enrolled',
      '0:message:sent',
      '1:wait:waiting',
      '2:message:sent',
      '3:wait:waiting',
      '4:message:sent',
      '-:end:completed',
    ]);
    expect(await recordedLog(id, c!.id)).toEqual(withoutTimes(state.log));
    expect((await ts.pool.query('SELECT status FROM campaign_enrollments WHERE campaign_id = $1', [id])).rows).toEqual([{ status: 'completed' }]);
  });

  it('a goal met early ends the enrollment at once: a purchase, or an accepted campaign offer', async () => {
    const marker = await segmentProduct(ts);
    const [c] = await seedCustomers(ts, marker, 1);
    const id = await defineCampaign({
      name: 'Buy again',
      segment: ownsMarker(marker),
      goal: { type: 'customer-event', event: 'purchase' },
      steps: [
        { type: 'message', channel: 'email', template: 'campaign-winback' },
        { type: 'wait', duration: '10 days' },
        { type: 'message', channel: 'email', template: 'campaign-winback' },
      ],
    });
    await run(id);
    await eventually(async () => (await messages(ts, c!.id)).length === 1);
    const event = await post(`/v1/customers/${c!.id}/events`, { type: 'purchase', productId: 'tv-basic' });
    expect(event.status).toBe(201);
    expect(event.body.notifiedEnrollments).toEqual([`campaign-${id}-${c!.id}`]);
    const result = await finished(id, c!.id);
    expect(result).toMatchObject({ status: 'goal-met', messagesSent: 1 });
    expect(result.reason).toMatch(/goal: purchase/);
    // The event's entry is timed by the workflow that recorded it, so it may sort before the step the enrollment was in.
    const sorted = (log: unknown[]) => log.map((e) => JSON.stringify(e)).sort();
    expect(sorted(await recordedLog(id, c!.id))).toEqual(sorted(withoutTimes((await stateOf(id, c!.id)).log)));
    await ts.env!.sleep('12 days');
    expect(await messages(ts, c!.id)).toHaveLength(1);

    // Offer-accepted goal: the campaign's own offer, accepted through the API.
    const offerMarker = await segmentProduct(ts);
    const [d] = await seedCustomers(ts, offerMarker, 1);
    await ts.pool.query(
      "INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) VALUES ($1, 'internet-s', 19.99, 'import', now())",
      [d!.id],
    );
    const offerCampaign = await defineCampaign({
      name: 'Upgrade',
      segment: ownsMarker(offerMarker),
      goal: { type: 'offer-accepted' },
      steps: [
        { type: 'offer', kind: 'upsell', productId: 'internet-m', validFor: '7 days' },
        { type: 'wait-for-response', timeout: '7 days' },
        { type: 'message', channel: 'email', template: 'campaign-checkin' },
      ],
    });
    await run(offerCampaign);
    const offerRow = await eventually(
      async () => (await ts.pool.query("SELECT id FROM offers WHERE customer_id = $1 AND status = 'presented'", [d!.id])).rows[0],
    );
    const accepted = await post(`/v1/offers/${offerRow.id}/response`, { decision: 'accept' });
    expect(accepted.body.status).toBe('accepted');
    const offerResult = await finished(offerCampaign, d!.id);
    expect(offerResult.status).toBe('goal-met');
    expect(await messages(ts, d!.id)).toHaveLength(0);
    const log = (await stateOf(offerCampaign, d!.id)).log.map((l) => `${l.type}:${l.outcome}`);
    expect(log).toEqual(['enrolled:enrolled', 'offer:started', 'offer:accepted', 'wait-for-response:offer accepted', 'end:goal-met']);
    expect(await recordedLog(offerCampaign, d!.id)).toEqual(withoutTimes((await stateOf(offerCampaign, d!.id)).log));
    expect(
      (await ts.pool.query('SELECT product_id FROM customer_products WHERE customer_id = $1 AND ended_at IS NULL ORDER BY product_id', [d!.id])).rows.map(
        (r) => r.product_id,
      ),
    ).toContain('internet-m');
  });

  it('an opt-out mid-campaign ends the enrollment, writes a suppression and nothing more is sent', async () => {
    const marker = await segmentProduct(ts);
    const [c] = await seedCustomers(ts, marker, 1);
    const id = await defineCampaign({
      name: 'Newsletter',
      segment: ownsMarker(marker),
      steps: [
        { type: 'message', channel: 'email', template: 'campaign-checkin' },
        { type: 'wait', duration: '7 days' },
        { type: 'message', channel: 'email', template: 'campaign-loyalty' },
        { type: 'wait', duration: '7 days' },
        { type: 'message', channel: 'email', template: 'campaign-winback' },
      ],
    });
    await run(id);
    await ts.env!.sleep('8 days');
    expect(await messages(ts, c!.id)).toHaveLength(2);
    const optOut = await post(`/v1/customers/${c!.id}/events`, { type: 'opt-out', channel: 'email', note: 'unsubscribe link' });
    expect(optOut.status).toBe(201);
    expect(optOut.body.suppression).toBe('opt-out');
    const result = await finished(id, c!.id);
    expect(result).toMatchObject({ status: 'opted-out', messagesSent: 2 });
    await ts.env!.sleep('14 days');
    expect(await messages(ts, c!.id)).toHaveLength(2);
    expect((await ts.pool.query('SELECT reason, lifted_at FROM suppressions WHERE customer_id = $1', [c!.id])).rows).toEqual([
      { reason: 'opt-out', lifted_at: null },
    ]);
    expect((await ts.pool.query('SELECT status, end_reason FROM campaign_enrollments WHERE campaign_id = $1', [id])).rows[0]).toMatchObject({
      status: 'opted-out',
    });

    // A later run does not enrol a suppressed customer at all.
    const again = await run(id);
    expect(again).toMatchObject({ selected: 0, enrolled: 0 });
  });

  it('an erasure request written by master data stops the next message (suppression checked before every message)', async () => {
    const marker = await segmentProduct(ts);
    const [c] = await seedCustomers(ts, marker, 1);
    const id = await defineCampaign({
      name: 'Two messages',
      segment: ownsMarker(marker),
      steps: [
        { type: 'message', channel: 'email', template: 'campaign-checkin' },
        { type: 'wait', duration: '3 days' },
        { type: 'message', channel: 'email', template: 'campaign-loyalty' },
      ],
    });
    await run(id);
    await eventually(async () => (await messages(ts, c!.id)).length === 1);
    await ts.pool.query("INSERT INTO suppressions (customer_id, reason, created_by, idempotency_key) VALUES ($1, 'erasure', 'master-data', $2)", [
      c!.id,
      uniqueId('erasure'),
    ]);
    await ts.env!.sleep('3 days');
    const result = await finished(id, c!.id);
    expect(result).toMatchObject({ status: 'suppressed', reason: 'suppressed: erasure', messagesSent: 1 });
    expect(await messages(ts, c!.id)).toHaveLength(1);
  });

  it('the weekly frequency cap holds across two campaigns: the second message waits a week', async () => {
    const marker = await segmentProduct(ts);
    const [c] = await seedCustomers(ts, marker, 1);
    const def = (name: string, template: string) => ({
      name,
      segment: ownsMarker(marker),
      maxMessagesPerWeek: 1,
      steps: [{ type: 'message', channel: 'email', template }],
    });
    const a = await defineCampaign(def('Campaign A', 'campaign-checkin'));
    const b = await defineCampaign(def('Campaign B', 'campaign-loyalty'));
    await run(a);
    await finished(a, c!.id);
    await run(b);
    const deferred = await eventually(async () => {
      const s = await stateOf(b, c!.id);
      return s.status === 'deferred' ? s : undefined;
    });
    expect(deferred.log.at(-1)).toMatchObject({
      type: 'message',
      outcome: 'deferred',
      detail: expect.stringMatching(/^frequency-cap until /),
    });
    const recorded = (await ts.json('GET', `/v1/campaigns/${b}/enrollments/${c!.id}`)).body.state;
    expect(recorded.status).toBe('deferred');
    expect(recorded.log.at(-1)).toMatchObject({ type: 'message', outcome: 'deferred', detail: deferred.log.at(-1)!.detail });
    expect(await messages(ts, c!.id)).toHaveLength(1);

    await ts.env!.sleep('8 days');
    const result = await finished(b, c!.id);
    expect(result).toMatchObject({ status: 'completed', messagesSent: 1 });
    const sent = await messages(ts, c!.id);
    expect(sent.map((m) => m.template)).toEqual(['campaign-checkin', 'campaign-loyalty']);
    const gap = sent[1]!.occurred_at.getTime() - sent[0]!.occurred_at.getTime();
    expect(gap).toBeGreaterThanOrEqual(7 * DAY);
    expect(gap).toBeLessThan(7 * DAY + 60_000);
  });

  it("keeps quiet hours in the customer's own time zone: the message waits for the window to end", async () => {
    const marker = await segmentProduct(ts);
    // Kolkata is UTC+05:30: a half-hour offset shows the window is kept in local time, not UTC.
    const tz = 'Asia/Kolkata';
    const [c] = await seedCustomers(ts, marker, 1, { timezone: tz });
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date());
    const [hh, mm] = local.split(':').map(Number);
    const at = (minutes: number) => {
      const m = (((hh! * 60 + mm! + minutes) % 1440) + 1440) % 1440;
      return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    };
    const quietHours = { start: at(-60), end: at(180) };
    const id = await defineCampaign({
      name: 'Quiet',
      segment: ownsMarker(marker),
      quietHours,
      steps: [{ type: 'message', channel: 'email', template: 'campaign-checkin' }],
    });
    const started = Date.now();
    await run(id);
    const deferred = await eventually(async () => {
      const s = await stateOf(id, c!.id);
      return s.status === 'deferred' ? s : undefined;
    });
    expect(deferred.log.at(-1)!.detail).toMatch(/^quiet-hours until /);
    expect(await messages(ts, c!.id)).toHaveLength(0);

    await ts.env!.sleep('4 hours');
    await finished(id, c!.id);
    const [sent] = await messages(ts, c!.id);
    const sentLocal = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(sent!.occurred_at);
    expect(sentLocal).toBe(quietHours.end);
    expect(sent!.occurred_at.getTime() - started).toBeGreaterThan(2.9 * 3_600_000);
  });

  it('re-enrollment "never" enrolls a customer once; "after N days" again only N days after the last enrollment ended', async () => {
    const marker = await segmentProduct(ts);
    const [c] = await seedCustomers(ts, marker, 1);
    const steps = [{ type: 'message', channel: 'email', template: 'campaign-checkin' }];
    const never = await defineCampaign({ name: 'Once', segment: ownsMarker(marker), reEnrollment: 'never', steps });
    expect(await run(never)).toMatchObject({ enrolled: 1, skipped: 0 });
    await finished(never, c!.id);
    await ts.env!.sleep('30 days');
    expect(await run(never)).toMatchObject({ selected: 1, enrolled: 0, skipped: 1 });

    const after = await defineCampaign({ name: 'Every ten days', segment: ownsMarker(marker), reEnrollment: { afterDays: 10 }, steps });
    expect(await run(after)).toMatchObject({ enrolled: 1 });
    await finished(after, c!.id);
    await ts.env!.sleep('5 days');
    expect(await run(after)).toMatchObject({ enrolled: 0, skipped: 1 });
    await ts.env!.sleep('6 days');
    expect(await run(after)).toMatchObject({ enrolled: 1, skipped: 0 });
    await eventually(
      async () =>
        (await ts.pool.query("SELECT count(*) AS n FROM campaign_enrollments WHERE campaign_id = $1 AND status = 'completed'", [after])).rows[0].n === '2',
    );
    const rows = await ts.pool.query('SELECT run_key FROM campaign_enrollments WHERE campaign_id = $1 ORDER BY enrolled_at', [after]);
    expect(rows.rows).toHaveLength(2);
    expect(await messages(ts, c!.id)).toHaveLength(3);
  });
});

/**
 * Replay: histories of a run, an enrollment through every kind of step, and an accepted offer,
 * recorded under test/histories/, must replay on today's workflow code. A change that running
 * enrollments would see needs patched() and fails here without it.
 *
 * Recording (once, and after a deliberate, patched change):
 * RECORD_HISTORIES=1 npx vitest run test/retention.test.ts -t histories
 * Recorded without payload encryption, so they replay with any key.
 */
describe.runIf(RECORDING)('recording retention histories', () => {
  const r = recorder('retention_record');

  it('records a run, an enrollment through message, wait, offer, wait-for-response, message, and the accepted offer', async () => {
    const { h, client } = r;
    const taskQueue = uniqueId('record-retention');
    const worker = await r.worker(taskQueue);
    await worker.runUntil(async () => {
      const marker = await segmentProduct(h);
      const [c] = await seedCustomers(h, marker, 1);
      await h.pool.query(
        "INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at) VALUES ($1, 'internet-s', 19.99, 'import', now())",
        [c!.id],
      );
      const definition = campaignRequestSchema.parse({
        name: 'Recorded',
        segment: ownsMarker(marker),
        schedule: { interval: '7 days', timezone: 'UTC' },
        steps: [
          { type: 'message', channel: 'email', template: 'campaign-checkin' },
          { type: 'wait', duration: '2 seconds' },
          { type: 'offer', kind: 'upsell', productId: 'internet-m', validFor: '1 day' },
          { type: 'wait-for-response', timeout: '1 minute' },
          { type: 'message', channel: 'email', template: 'campaign-loyalty' },
        ],
      });
      const id = randomUUID();
      await h.pool.query('INSERT INTO campaigns (id, name, definition, created_by) VALUES ($1, $2, $3, $4)', [
        id,
        definition.name,
        JSON.stringify(definition),
        'recorder',
      ]);
      const runId = `campaign-${id}-run-recorded`;
      await client.workflow.execute('campaignRun', { taskQueue, workflowId: runId, args: [{ campaignId: id }] });
      const offerRow = await eventually(
        async () => (await h.pool.query("SELECT id FROM offers WHERE customer_id = $1 AND status = 'presented'", [c!.id])).rows[0],
      );
      await client.workflow.getHandle(`offer-${offerRow.id}`).executeUpdate(offerRespondUpdate, { args: [{ decision: 'accept', actor: 'recorder' }] });
      const enrollmentId = `campaign-${id}-${c!.id}`;
      expect((await client.workflow.getHandle(enrollmentId).result()).status).toBe('completed');
      await client.workflow.getHandle(`offer-${offerRow.id}`).result();
      await r.save('campaign-run-one-page', runId);
      await r.save('campaign-enrollment-all-steps', enrollmentId);
      await r.save('offer-accepted-in-campaign', `offer-${offerRow.id}`);
    });
  });
});

describe('replaying recorded retention histories on the current code', () => {
  it('replays every recorded campaign run, enrollment and offer without non-determinism', async () => {
    expect((await replayRecorded(/^(campaign-|offer-)/)).length).toBeGreaterThanOrEqual(3);
  });
});
