/**
 * Pipeline analytics learns from funnels and tasks while they run: real funnels started and moved
 * through the operational API, read by the real analytics service from Temporal's visibility and
 * histories only (search-attribute upserts and event times), incrementally.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { startAnalyticsHarness, withDashboard, type AnalyticsHarness } from './support/analytics.js';
import { CrmOwner, CrmProcess } from '../src/domain/search-attributes.js';
import type { ContractTaskInput } from './support/task-contract-workflows.js';
import { createFollowActivities } from '../src/analytics/ingest/follow.js';

const PROBABILITIES = { new: 0.15, contacted: 0.25, qualified: 0.45, proposal: 0.65, nurture: 0.05, won: 1, lost: 0 };
let h: Harness;
let a: AnalyticsHarness;
let tasks: { worker: Worker; running: Promise<void>; connection: NativeConnection; taskQueue: string };

beforeAll(async () => {
  // Probabilities of our own, so the forecast can only match when learned from what the funnels publish.
  h = await startHarness('pipeline', { acquisition: { stageProbabilities: PROBABILITIES } });
  const taskQueue = `${h.taskQueue}-tasks`;
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./support/task-contract-workflows.ts', import.meta.url)),
  });
  tasks = { worker, running: worker.run(), connection, taskQueue };
  a = await startAnalyticsHarness(h.taskQueue, undefined, { filter: `TaskQueue IN ('${h.taskQueue}', '${taskQueue}')` });
});
afterAll(async () => {
  await a?.stop();
  if (tasks) {
    tasks.worker.shutdown();
    await tasks.running;
    await tasks.connection.close();
  }
  await h?.close();
});

const intake = async (deal: Record<string, unknown> = {}) => {
  const res = await h.json('POST', '/v1/leads', {
    body: { name: 'Pia Pipeline', email: `${uniqueId('pipe')}@example.com`, source: 'web', company: 'ACME', ...deal },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.leadId as string;
};
const move = async (id: string, body: Record<string, unknown>) => {
  const res = await h.json('POST', `/v1/leads/${id}/transitions`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
};
const funnel = (id: string) => h.client.workflow.getHandle(`lead-${id}`);
/** Analytics reads what visibility says changed: wait until it shows the funnel's stage. */
const visible = (id: string, stage: string) =>
  eventually(async () => {
    const { count } = await h.client.workflow.count(`WorkflowId = 'lead-${id}' AND CrmStatus = '${stage}'`);
    return count === 1;
  });
const ownerOf = async (id: string) => (await funnel(id).describe()).typedSearchAttributes.get(CrmOwner)!;
const followed = async () => (await a.report('ingest')).body.followed as { lastListed: number; lastRead: number; lastEvents: number };
const stageCounts = (report: { byStage: Array<{ stage: string; count: number }> }) => Object.fromEntries(report.byStage.map((s) => [s.stage, s.count]));

describe('the open pipeline of running funnels', () => {
  const leads: string[] = [];

  it('counts running funnels by stage and owner, as Temporal shows them', async () => {
    for (let i = 0; i < 3; i++) leads.push(await intake());
    await move(leads[1]!, { to: 'contacted' });
    await Promise.all([visible(leads[0]!, 'new'), visible(leads[1]!, 'contacted'), visible(leads[2]!, 'new')]);
    await a.ingest();

    const pipeline = await a.report('pipeline');
    expect(pipeline.status).toBe(200);
    expect(pipeline.body.open).toBe(3);
    expect(stageCounts(pipeline.body)).toEqual({ new: 2, contacted: 1 });
    const owners = await Promise.all(leads.map(ownerOf));
    const expected: Record<string, number> = {};
    for (const o of owners) expected[o] = (expected[o] ?? 0) + 1;
    expect(Object.fromEntries(pipeline.body.byOwner.map((o: { owner: string; count: number }) => [o.owner, o.count]))).toEqual(expected);
    // Learned while they run: none of them closed.
    for (const id of leads) expect((await funnel(id).describe()).status.name).toBe('RUNNING');

    const mine = await a.report('pipeline', { owner: owners[0]! });
    expect(mine.body.open).toBe(expected[owners[0]!]);
  });

  it('shows a lead that moves stage while running after the next ingest, without it closing', async () => {
    const id = leads[0]!;
    await move(id, { to: 'contacted' });
    await visible(id, 'contacted');
    await a.ingest();
    expect((await funnel(id).describe()).status.name).toBe('RUNNING');
    expect(stageCounts((await a.report('pipeline')).body)).toEqual({ new: 1, contacted: 2 });
    const changes = await a.service.pool.query(
      `SELECT from_status, to_status FROM followed_status_changes WHERE workflow_id = (SELECT pseudonym FROM pseudonyms WHERE real_id = $1) ORDER BY at, event_id`,
      [`lead-${id}`],
    );
    expect(changes.rows).toEqual([
      { from_status: null, to_status: 'new' },
      { from_status: 'new', to_status: 'contacted' },
    ]);
  });

  it('reads only new events in an incremental run: unchanged funnels not at all, a changed one from its cursor', async () => {
    await a.ingest();
    const idle = await followed();
    expect(idle.lastListed).toBeGreaterThanOrEqual(3);
    expect(idle).toMatchObject({ lastRead: 0, lastEvents: 0 });

    const id = leads[2]!;
    const before = await a.service.pool.query<{ last_event_id: string }>(
      `SELECT last_event_id FROM followed_runs WHERE workflow_id = (SELECT pseudonym FROM pseudonyms WHERE real_id = $1)`,
      [`lead-${id}`],
    );
    await move(id, { to: 'lost', reason: 'no budget' });
    await funnel(id).result();
    await a.ingest();
    const after = await a.service.pool.query<{ last_event_id: string; run_status: string }>(
      `SELECT last_event_id, run_status FROM followed_runs WHERE workflow_id = (SELECT pseudonym FROM pseudonyms WHERE real_id = $1)`,
      [`lead-${id}`],
    );
    const pass = await followed();
    expect(pass.lastRead).toBe(1);
    const cursor = Number(before.rows[0]!.last_event_id);
    expect(cursor).toBeGreaterThan(0);
    expect(pass.lastEvents).toBe(Number(after.rows[0]!.last_event_id) - cursor);
    expect(pass.lastEvents).toBeLessThan(Number(after.rows[0]!.last_event_id));
    expect(after.rows[0]!.run_status).toBe('completed');
    // Closed as lost: out of the open pipeline, into the win rate.
    expect((await a.report('pipeline')).body.open).toBe(2);
  });

  it('gives win rate and sales cycle per owner from funnels won and lost', async () => {
    const won = leads[1]!;
    await move(won, { to: 'qualified', need: 'faster internet', budget: 50, timeline: 'this month', currency: 'EUR' });
    await move(won, { to: 'proposal', product: 'internet-l', amount: 44.99, currency: 'EUR' });
    await move(won, { to: 'won' });
    await funnel(won).result();
    await a.ingest();
    const [wonBy, lostBy] = [await ownerOf(won), await ownerOf(leads[2]!)];
    const sales = (await a.report('sales')).body;
    expect(sales.total).toMatchObject({ won: 1, lost: 1, winRate: 0.5 });
    expect(sales.total.salesCycleDays.median).toBeGreaterThanOrEqual(0);
    const perOwner = Object.fromEntries(sales.byOwner.map((o: { owner: string; won: number; lost: number }) => [o.owner, [o.won, o.lost]]));
    if (wonBy === lostBy) expect(perOwner[wonBy]).toEqual([1, 1]);
    else expect(perOwner).toMatchObject({ [wonBy]: [1, 0], [lostBy]: [0, 1] });
    expect((await a.report('pipeline')).body.open).toBe(1);
  });
});

describe('the forecast of real funnels', () => {
  it('equals the sum of open amounts times stage probabilities, per currency and expected-close month', async () => {
    const before = (await a.report('forecast')).body.byCurrency as Array<{ currency: string }>;
    expect(before).toEqual([]); // the funnels above carry no amount
    const newEur = await intake({ amount: 1000, currency: 'EUR', expectedClose: '2026-03-15' });
    const contactedEur = await intake({ amount: 2500.5, currency: 'EUR', expectedClose: '2026-04-01' });
    const proposalUsd = await intake({ amount: 800, currency: 'USD', expectedClose: '2026-03-20' });
    const lostEur = await intake({ amount: 400, currency: 'EUR', expectedClose: '2026-03-10' });
    await move(contactedEur, { to: 'contacted' });
    await move(proposalUsd, { to: 'contacted' });
    await move(proposalUsd, { to: 'qualified', need: 'fibre', budget: 900, timeline: 'this quarter', currency: 'USD' });
    // The proposal's price becomes the deal's amount.
    await move(proposalUsd, { to: 'proposal', product: 'internet-l', amount: 900, currency: 'USD' });
    await move(lostEur, { to: 'lost', reason: 'no budget' });
    // An opportunity: an existing customer sold to through the same funnel, from qualified.
    const customer = await h.json('POST', '/v1/customers', { body: { name: 'Otto Opportunity', email: `${uniqueId('opp')}@example.com` } });
    expect(customer.status).toBe(201);
    const opp = await h.json('POST', `/v1/customers/${customer.body.id}/opportunities`, {
      body: { amount: 1200, currency: 'EUR', expectedClose: '2026-03-31', productIds: ['internet-l'] },
    });
    expect(opp.status, JSON.stringify(opp.body)).toBeLessThan(300);
    const oppId = opp.body.leadId as string;
    await Promise.all([
      visible(newEur, 'new'),
      visible(contactedEur, 'contacted'),
      visible(proposalUsd, 'proposal'),
      visible(oppId, 'qualified'),
      funnel(lostEur).result(),
    ]);
    await eventually(async () => (await h.client.workflow.count(`WorkflowId = 'lead-${proposalUsd}' AND CrmDealAmount = 900`)).count === 1);
    await a.ingest();

    // What the record says of each open deal (PostgreSQL, through the operational API).
    const expected = new Map<string, { amount: number; forecast: number }>();
    for (const id of [newEur, contactedEur, proposalUsd, oppId, lostEur]) {
      const lead = (await h.json('GET', `/v1/leads/${id}`)).body;
      if (lead.closed) continue;
      const sum = expected.get(lead.currency) ?? { amount: 0, forecast: 0 };
      sum.amount += lead.amount;
      sum.forecast += lead.amount * lead.probability;
      expected.set(lead.currency, sum);
    }
    const forecast = (await a.report('forecast')).body;
    expect(forecast.byCurrency.map((c: { currency: string }) => c.currency)).toEqual([...expected.keys()].sort());
    // To the cent: the report rounds each sum to cents.
    for (const c of forecast.byCurrency) {
      expect(Math.abs(c.openAmount - expected.get(c.currency)!.amount)).toBeLessThanOrEqual(0.005 + 1e-9);
      expect(Math.abs(c.forecast - expected.get(c.currency)!.forecast)).toBeLessThanOrEqual(0.005 + 1e-9);
    }
    // The same by hand, with this harness's probabilities.
    const eur = forecast.byCurrency.find((c: { currency: string }) => c.currency === 'EUR');
    expect(eur).toMatchObject({ deals: 3, openAmount: 4700.5, forecast: 1315.13, withoutProbability: 0 });
    expect(eur.byExpectedClose).toEqual([
      { month: '2026-03', deals: 2, openAmount: 2200, forecast: 690 },
      { month: '2026-04', deals: 1, openAmount: 2500.5, forecast: 625.13 },
    ]);
    expect(forecast.byCurrency.find((c: { currency: string }) => c.currency === 'USD')).toMatchObject({ deals: 1, openAmount: 900, forecast: 585 });

    // The pipeline weighs the same amounts by stage.
    const pipeline = (await a.report('pipeline', { currency: 'EUR' })).body;
    expect(
      pipeline.byStage.map((s: { stage: string; amounts: Array<{ amount: number; weightedAmount: number }> }) => [
        s.stage,
        s.amounts[0]!.amount,
        s.amounts[0]!.weightedAmount,
      ]),
    ).toEqual([
      ['new', 1000, 150],
      ['contacted', 2500.5, 625.13],
      ['qualified', 1200, 540],
    ]);
    expect(pipeline.totals).toEqual([{ currency: 'EUR', deals: 3, amount: 4700.5, weightedAmount: 1315.13 }]);
    const opportunities = pipeline.byKind.find((k: { kind: string }) => k.kind === 'opportunity');
    expect(opportunities).toMatchObject({ count: 1, amounts: [{ currency: 'EUR', deals: 1, amount: 1200, weightedAmount: 540 }] });
  });
});

describe('task SLA adherence from tasks that follow the task contract', () => {
  const start = (input: ContractTaskInput) =>
    a.service.client.workflow.start('contractTask', {
      taskQueue: tasks.taskQueue,
      workflowId: uniqueId('task'),
      args: [input],
      typedSearchAttributes: [{ key: CrmProcess, value: 'task' }],
    });

  it('counts completed before due as on time, and overdue ones as late, across a continued-as-new run', async () => {
    const far = Date.now() + 3_600_000;
    const onTime = await start({ kind: 'onboarding-first-contact', owner: 'u-ada', team: 'team-north', dueAt: far });
    const late = await start({ kind: 'onboarding-first-contact', owner: 'u-bo', team: 'team-north', dueAt: Date.now() + 1_000 });
    const open = await start({ kind: 'change-approval', owner: 'u-bo', team: 'team-south', dueAt: far });
    const overdueNow = await start({ kind: 'change-approval', owner: 'u-bo', team: 'team-south', dueAt: Date.now() + 1_000 });
    await eventually(async () => (await a.service.client.workflow.count(`WorkflowId = '${late.workflowId}' AND CrmStatus = 'overdue'`)).count === 1);
    // The late task continues as new before it is completed: one task across two runs.
    await late.signal('renew');
    await eventually(async () => (await a.service.client.workflow.count(`WorkflowId = '${late.workflowId}'`)).count === 2);
    await a.ingest();
    await onTime.signal('complete');
    await a.service.client.workflow.getHandle(late.workflowId).signal('complete');
    await Promise.all([onTime.result(), a.service.client.workflow.getHandle(late.workflowId).result()]);
    await eventually(async () => (await a.service.client.workflow.count(`WorkflowId = '${overdueNow.workflowId}' AND CrmStatus = 'overdue'`)).count === 1);
    await eventually(async () => (await a.service.client.workflow.count(`TaskQueue = '${tasks.taskQueue}' AND CrmStatus = 'done'`)).count === 2);
    await a.ingest();

    const report = (await a.report('tasks')).body;
    // Real tasks of other test files run on the same server: this test's tasks are told by their teams.
    const team = (name: string) => report.byTeam.find((t: { team: string }) => t.team === name);
    expect(team('team-north')).toEqual({ team: 'team-north', done: 2, onTime: 1, late: 1, adherence: 0.5, openNow: 0, overdueNow: 0 });
    expect(team('team-south')).toEqual({ team: 'team-south', done: 0, onTime: 0, late: 0, adherence: null, openNow: 1, overdueNow: 1 });
    expect(report.total.done).toBeGreaterThanOrEqual(2);
    expect(report.byKind.find((k: { kind: string }) => k.kind === 'onboarding-first-contact')).toMatchObject({
      done: expect.any(Number),
      onTime: expect.any(Number),
    });
    const runs = await a.service.pool.query(
      `SELECT run_status FROM followed_runs WHERE workflow_id = (SELECT pseudonym FROM pseudonyms WHERE real_id = $1) ORDER BY start_time`,
      [late.workflowId],
    );
    expect(runs.rows.map((r) => r.run_status)).toEqual(['continued_as_new', 'completed']);
    await Promise.all([open, overdueNow].map((t) => t.terminate('test done')));
  });

  it('rejects bad pipeline filters and ranges with a problem naming them', async () => {
    const bad = await a.report('pipeline', { currency: 'euro', region: 'north' });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/currency/);
    expect(bad.body.detail).toMatch(/region/);
    const range = await a.report('sales', { from: '2026-02-01', to: '2026-01-01' });
    expect(range.status).toBe(400);
    expect(range.body.errors.map((e: { path: string }) => e.path)).toContain('query.from');
    expect((await a.service.app.request('/v1/analytics/forecast')).status).toBe(401);
  });
});

describe('the dashboard', () => {
  it('shows the open pipeline, forecast, sales and task SLA, with data as text, never as markup', async () => {
    // A task kind that is markup: it must show as these characters, not as an element.
    const hostile = '<img src=x id=injected>';
    const task = await a.service.client.workflow.start('contractTask', {
      taskQueue: tasks.taskQueue,
      workflowId: uniqueId('task'),
      args: [{ kind: hostile, owner: 'u-eve', team: 'team-x', dueAt: Date.now() + 3_600_000 }],
      typedSearchAttributes: [{ key: CrmProcess, value: 'task' }],
    });
    await eventually(async () => (await a.service.client.workflow.count(`WorkflowId = '${task.workflowId}' AND CrmStatus = 'open'`)).count === 1);
    await a.ingest();
    try {
      await withDashboard(a, 1400, async (page) => {
        expect(await page.locator('#error').isHidden()).toBe(true);
        const pipeline = await page.locator('#pipeline tbody tr').allTextContents();
        expect(pipeline.some((r) => r.startsWith('qualified') && r.includes('EUR'))).toBe(true);
        const forecast = await page.locator('#forecast tbody tr').allTextContents();
        expect(forecast).toContain('EURtotal34,700.501,315.13');
        const kinds = await page.locator('#tasks tbody tr td:first-child').allTextContents();
        expect(kinds).toContain(hostile);
        expect(await page.locator('#injected').count()).toBe(0);
      });
    } finally {
      await task.terminate('test done');
    }
  });
});

describe('figures', () => {
  // PIPELINE_FUNNELS=200 npx vitest run test/pipeline-analytics.test.ts -t figures
  const N = Number(process.env.PIPELINE_FUNNELS ?? 20);

  it(`times a full and an incremental ingest over ${N} running funnels`, { timeout: 600_000 }, async () => {
    const started: string[] = [];
    const queue = Array.from({ length: N }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (queue.shift() !== undefined) started.push(await intake());
      }),
    );
    await eventually(
      async () => (await h.client.workflow.count(`TaskQueue = '${h.taskQueue}' AND CrmProcess = 'acquisition' AND CrmStatus = 'new'`)).count >= N,
      {
        timeoutMs: 60_000,
      },
    );
    const follow = createFollowActivities({ pool: a.service.pool, temporal: a.service.client });
    const opts = { ...a.ingestOptions, batch: 10_000 };
    await a.service.pool.query("BEGIN; TRUNCATE followed_runs CASCADE; UPDATE follow_state SET watermark = 'epoch'; COMMIT;");
    let t0 = performance.now();
    const full = await follow.followRunningProcesses(opts);
    const fullMs = performance.now() - t0;
    await move(started[0]!, { to: 'contacted' });
    await visible(started[0]!, 'contacted');
    t0 = performance.now();
    const incremental = await follow.followRunningProcesses(opts);
    const incrementalMs = performance.now() - t0;
    console.info(
      `[figures] ${full.listed} followed runs (${N} new funnels): full ingest ${fullMs.toFixed(0)} ms (${full.read} runs, ${full.events} events read); ` +
        `incremental after one move ${incrementalMs.toFixed(0)} ms (${incremental.read} run, ${incremental.events} events read)`,
    );
    expect(full.read).toBe(full.listed);
    expect(full.read).toBeGreaterThanOrEqual(N);
    // The moved run, and at most the few that other test files changed on the shared server meanwhile: not the whole namespace again.
    expect(incremental.read).toBeGreaterThanOrEqual(1);
    expect(incremental.read).toBeLessThan(full.read / 2);
    const cursor = await a.service.pool.query<{ last_event_id: string }>(
      'SELECT last_event_id FROM followed_runs WHERE workflow_id = (SELECT pseudonym FROM pseudonyms WHERE real_id = $1)',
      [`lead-${started[0]}`],
    );
    expect(incremental.events).toBeLessThan(Number(cursor.rows[0]!.last_event_id));
    expect(stageCounts((await a.report('pipeline')).body).contacted).toBeGreaterThanOrEqual(1);
  });
});
