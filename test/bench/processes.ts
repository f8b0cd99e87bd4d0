/**
 * The `processes` section of `npm run bench`: each CRM process driven the way a user drives it,
 * side by side in one run with
 *   - `api`:    through the HTTP API (what we ship), to the process's end point;
 *   - `direct`: the same workflow started and driven with the Temporal client on the real worker
 *               (so api / direct is what the API adds);
 *   - `noop`:   the same workflow code, driven like `direct`, on a worker whose activities are all
 *               no-ops (test/bench/noop-activities.ts): the limit, what Temporal alone costs.
 * Each at 1 and at BENCH_CONCURRENCY (32) processes in flight; the campaign run over
 * BENCH_CAMPAIGN_CUSTOMERS (5,000) customers once per variant.
 */
// First: the API's modules extend zod with .openapi() before any domain schema is made.
import { startBenchStack, type BenchStack } from './stack.js';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Client } from '@temporalio/client';
import { deskStart } from '../../src/api/routes/master-data.js';
import type { Pool } from '../../src/db/pool.js';
import { defaultConfig } from '../../src/config.js';
import { intakeOutcomeUpdate, leadFunnelStart, leadIntakeSchema, transitionUpdate, type TransitionCommand } from '../../src/domain/acquisition.js';
import { REGISTRATION_OUTCOME_UPDATE_ID, registrationOutcomeUpdate, registrationRequestSchema, registrationWorkflowId } from '../../src/domain/customers.js';
import { registrationStart } from '../../src/api/routes/customers.js';
import { changeStateQuery, decideApprovalUpdate, masterDataWorkflowId, submitChangeUpdate, type ChangeState } from '../../src/domain/master-data.js';
import { offerDecidedUpdate, offerRespondUpdate, offerWorkflowId, type OfferInput } from '../../src/domain/offers.js';
import { CRM_PROCESS } from '../../src/domain/processes.js';
import { campaignRunWorkflowId, type CampaignDefinition } from '../../src/domain/retention.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../src/domain/search-attributes.js';
import type { NoopCampaigns } from './noop-activities.js';
import { latencies, type BenchRow } from './results.js';
import { settle } from './os-processes.js';

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? fallback : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number, not ${v}`);
  return n;
};

/** The counts of the section, from BENCH_* variables (documented in test/bench/run.ts). */
export function processSettings() {
  const n = env('BENCH_N', 10);
  return {
    /** Processes measured one at a time, per process and variant. */
    single: env('BENCH_N1', n),
    /** Processes measured at `concurrency`, per process and variant. */
    parallel: env('BENCH_N32', n * 4.8),
    concurrency: env('BENCH_CONCURRENCY', 32),
    /** Wall-clock cap of one measurement: it stops starting processes after this many seconds. */
    capSeconds: env('BENCH_CAP_SECONDS', 10),
    campaignCustomers: env('BENCH_CAMPAIGN_CUSTOMERS', 5000),
    /** A campaign run still enrolling after this many seconds is stopped and measured on what it enrolled. */
    campaignCapSeconds: env('BENCH_CAMPAIGN_CAP_SECONDS', 30),
    /** Registrations timed alone (the 150 ms target), each this many ms after the previous answer. */
    pacedN: env('BENCH_PACED_N', 10),
    paceMs: env('BENCH_PACE_MS', 1500),
    only: (process.env.BENCH_PROCESSES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

type Variant = 'api' | 'direct' | 'noop';
const VARIANTS: Variant[] = ['api', 'direct', 'noop'];

const progress = (msg: string) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each variant starts on a quiet machine, not behind the previous variant's rest of the work. */
async function quiet(label: string): Promise<void> {
  const waited = await settle();
  if (waited > 2_000) progress(`${label}: waited ${(waited / 1000).toFixed(0)} s for the previous work to settle`);
}
/** How often a user (and the bench) looks again at a process that moves on by itself. */
const POLL_MS = 50;

interface Ctx {
  stack: BenchStack;
  client: Client;
  pool: Pool;
  /** User ids of the agent (requester) and the backoffice user (approver). */
  agent: string;
  approver: string;
  noop: NoopCampaigns;
  /** Customers seeded for processes that start from one, taken in turn. */
  customers: Record<'master-data' | 'offer', string[]>;
}

/** One HTTP call as a user makes it; anything but `expect` is an error with the answer in it. */
async function call(ctx: Ctx, method: string, path: string, expect: number, body?: unknown, key = ctx.stack.key): Promise<any> {
  const res = await fetch(`${ctx.stack.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`${method} ${path} answered ${res.status} (expected ${expect}): ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    // A read that fails (a query timing out on a busy worker) is asked again, as a user would.
    let v: { x: T } | undefined;
    try {
      v = { x: await read() };
    } catch (err) {
      last = err;
    }
    if (v && done(v.x)) return v.x;
    if (v) last = v.x;
    if (Date.now() > deadline)
      throw new Error(`${what}: still ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 200)} after ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

interface ProcessDef {
  name: string;
  /** What ends one process (the latency's end point). */
  endPoint: string;
  /** One process, start to end point; `seq` makes its names unique across the whole run. */
  run(ctx: Ctx, variant: Variant, seq: number): Promise<unknown>;
}

const BENCH_AGENT = (ctx: Ctx) => ({ actor: ctx.agent, roles: ['agent' as const] });
const queueOf = (ctx: Ctx, v: Variant) => (v === 'noop' ? ctx.stack.noopTaskQueue : ctx.stack.taskQueue);
const takeCustomer = (ctx: Ctx, kind: keyof Ctx['customers']) => {
  const id = ctx.customers[kind].pop();
  if (!id) throw new Error(`no seeded customer left for ${kind}`);
  return id;
};

const registration: ProcessDef = {
  name: 'registration',
  endPoint: 'the 201 with the customer',
  async run(ctx, v, seq) {
    const body = { name: `Bench Customer ${seq}`, email: `reg-${seq}@bench.example` };
    if (v === 'api') return call(ctx, 'POST', '/v1/customers', 201, body);
    // As the API does it: update-with-start, answered once the customer is committed.
    const start = registrationStart(registrationWorkflowId(randomUUID()), queueOf(ctx, v), registrationRequestSchema.parse(body), BENCH_AGENT(ctx), undefined);
    const result = await ctx.client.workflow.executeUpdateWithStart(registrationOutcomeUpdate, {
      updateId: REGISTRATION_OUTCOME_UPDATE_ID,
      startWorkflowOperation: start,
    });
    if (result.outcome !== 'created') throw new Error(`registration ${seq}: ${JSON.stringify(result)}`);
  },
};

const leadBody = (seq: number) => ({ name: `Bench Lead ${seq}`, email: `lead-${seq}@bench.example`, company: 'Bench Ltd', source: 'web' });

/** Intake through the API, or a funnel started and asked for its intake outcome; the lead id. */
async function intake(ctx: Ctx, v: Variant, seq: number): Promise<string> {
  if (v === 'api') {
    const answer = await call(ctx, 'POST', '/v1/leads', 202, leadBody(seq));
    if (answer.status !== 'accepted') throw new Error(`intake ${seq}: ${JSON.stringify(answer)}`);
    return answer.leadId as string;
  }
  const leadId = randomUUID();
  const handle = await ctx.client.workflow.start('leadFunnel', {
    taskQueue: queueOf(ctx, v),
    ...leadFunnelStart(leadId, leadIntakeSchema.parse(leadBody(seq)), ctx.agent, 'bench'),
  });
  const outcome = await handle.executeUpdate(intakeOutcomeUpdate);
  if (outcome.outcome !== 'accepted') throw new Error(`intake ${seq}: ${JSON.stringify(outcome)}`);
  return leadId;
}

const leadIntake: ProcessDef = { name: 'lead intake', endPoint: 'the 202 with the lead accepted', run: intake };

const FUNNEL: Array<Omit<TransitionCommand, 'actor'>> = [
  { to: 'contacted' },
  { to: 'qualified', need: 'A CRM for 40 agents', budget: 20_000, timeline: 'this quarter' },
  { to: 'proposal', product: 'CRM Pro', amount: 18_000 },
  { to: 'won' },
];

const funnel: ProcessDef = {
  name: 'lead funnel to won',
  endPoint: 'the 200 of the move to won (the customer made)',
  async run(ctx, v, seq) {
    const leadId = await intake(ctx, v, seq);
    const handle = ctx.client.workflow.getHandle(`lead-${leadId}`);
    for (const move of FUNNEL) {
      if (v === 'api') await call(ctx, 'POST', `/v1/leads/${leadId}/transitions`, 200, move);
      else await handle.executeUpdate(transitionUpdate, { args: [{ ...move, actor: ctx.agent } as TransitionCommand] });
    }
  },
};

const masterData: ProcessDef = {
  name: 'master-data change',
  endPoint: 'the change read as applied (name change: requested, approved by backoffice, applied)',
  async run(ctx, v, seq) {
    const customerId = takeCustomer(ctx, 'master-data');
    const name = `Renamed Customer ${seq}`;
    if (v === 'api') {
      const { changeId } = await call(ctx, 'POST', `/v1/customers/${customerId}/changes`, 202, { changes: { name } });
      const read = () => call(ctx, 'GET', `/v1/changes/${changeId}`, 200);
      await until(`change ${changeId}`, read, (c) => c.status === 'awaiting-approval');
      await call(ctx, 'POST', `/v1/changes/${changeId}/approval`, 200, { decision: 'approve' }, ctx.stack.backofficeKey);
      const done = await until(`change ${changeId}`, read, (c) => c.status !== 'applying' && c.status !== 'awaiting-approval');
      if (done.status !== 'applied') throw new Error(`change ${changeId} ended ${done.status}`);
      return;
    }
    const changeId = randomUUID();
    const workflowId = masterDataWorkflowId(customerId);
    await ctx.client.workflow.executeUpdateWithStart(submitChangeUpdate, {
      updateId: changeId,
      args: [{ changeId, customerId, changes: { name }, base: { name: `Bench Seeded ${customerId}` }, baseVersion: 1, requestedBy: ctx.agent }],
      startWorkflowOperation: deskStart(customerId, queueOf(ctx, v)),
    });
    const handle = ctx.client.workflow.getHandle(workflowId);
    const read = () => handle.query(changeStateQuery, changeId);
    await until(`change ${changeId}`, read, (c: ChangeState | null) => c?.status === 'awaiting-approval');
    await handle.executeUpdate(decideApprovalUpdate, { args: [{ changeId, decision: 'approve', approver: ctx.approver }] });
    const done = await until(`change ${changeId}`, read, (c) => c?.status !== 'applying' && c?.status !== 'awaiting-approval');
    if (done?.status !== 'applied') throw new Error(`change ${changeId} ended ${done?.status}`);
  },
};

const offerAccepted: ProcessDef = {
  name: 'offer accepted',
  endPoint: 'the 200 of the accept (offer accepted, product changed)',
  async run(ctx, v, seq) {
    const customerId = takeCustomer(ctx, 'offer');
    const body = { kind: 'upsell' as const, productId: 'internet-m' };
    if (v === 'api') {
      const made = await call(ctx, 'POST', `/v1/customers/${customerId}/offers`, 201, body);
      if (made.status !== 'presented') throw new Error(`offer ${seq}: ${made.status}`);
      const answer = await call(ctx, 'POST', `/v1/offers/${made.offerId}/response`, 200, { decision: 'accept' });
      if (answer.status !== 'accepted') throw new Error(`offer ${seq}: ${answer.status}`);
      return;
    }
    const offerId = randomUUID();
    const input: OfferInput = { offerId, customerId, ...body, validUntil: new Date(Date.now() + 14 * 86_400_000).toISOString(), actor: ctx.agent };
    const handle = await ctx.client.workflow.start('offer', {
      taskQueue: queueOf(ctx, v),
      workflowId: offerWorkflowId(offerId),
      args: [input],
      typedSearchAttributes: [
        { key: CrmCustomerId, value: customerId },
        { key: CrmProcess, value: CRM_PROCESS.offers },
        { key: CrmStatus, value: 'checking' },
      ],
    });
    const made = await handle.executeUpdate(offerDecidedUpdate);
    if (made.status !== 'presented') throw new Error(`offer ${seq}: ${made.status}`);
    const answer = await handle.executeUpdate(offerRespondUpdate, { args: [{ decision: 'accept', actor: ctx.agent }] });
    if (answer.status !== 'accepted') throw new Error(`offer ${seq}: ${answer.status}`);
  },
};

export const PROCESSES = [registration, leadIntake, funnel, masterData, offerAccepted];
export const CAMPAIGN = 'retention campaign run';

interface Measurement {
  n: number;
  /** What the throughput counts when it is not processes (customers enrolled by a campaign run). */
  units?: number;
  failed: number;
  seconds: number;
  latencies: number[];
  firstError?: string;
  /** Stopped at its cap before it ended. */
  capped?: boolean;
}

/** `n` processes, `concurrency` in flight at a time, none started after `capSeconds`. */
async function measure(label: string, concurrency: number, n: number, capSeconds: number, one: (seq: number) => Promise<unknown>, next: () => number) {
  const m: Measurement = { n: 0, failed: 0, seconds: 0, latencies: [] };
  const t0 = performance.now();
  const deadline = t0 + capSeconds * 1000;
  let issued = 0;
  let reported = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (issued < n && (issued < concurrency || performance.now() < deadline)) {
        issued++;
        const s = performance.now();
        try {
          await one(next());
          m.latencies.push(performance.now() - s);
        } catch (err) {
          m.failed++;
          // A Temporal error says what failed in its cause (the refusal of an update, a timed-out activity).
          m.firstError ??= err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err);
        }
        m.n++;
        if (m.n - reported >= Math.max(1, Math.ceil(n / 4)) || m.n === n) {
          reported = m.n;
          progress(`${label}: ${m.n}/${n} done${m.failed ? `, ${m.failed} failed` : ''}`);
        }
      }
    }),
  );
  m.seconds = (performance.now() - t0) / 1000;
  if (m.firstError) progress(`${label}: first failure: ${m.firstError}`);
  return m;
}

const rate = (m: Measurement) => (m.units ?? m.latencies.length) / m.seconds || 0;
const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
/** p50/p95/p99 of the samples, in whole ms. */
const roundedLatencies = (xs: number[]) => Object.fromEntries(Object.entries(latencies(xs)).map(([k, x]) => [k, round(x, 0)]));

function rowsOf(name: string, concurrency: number, ms: Record<Variant, Measurement>, unit = 'processes/s'): BenchRow[] {
  const [api, direct, noop] = [ms.api, ms.direct, ms.noop];
  const figure = (m: Measurement) => ({
    n: m.latencies.length,
    throughputPerSec: round(rate(m)),
    ...roundedLatencies(m.latencies),
    ...(m.failed || m.capped
      ? { figures: { ...(m.failed ? { failed: m.failed } : {}), ...(m.capped ? { cappedAfterSeconds: round(m.seconds, 0) } : {}) } }
      : {}),
  });
  const vsNoop = rate(api) / rate(noop);
  // What the API adds: time per process through it over time per process with the bare client.
  const overhead = rate(direct) / rate(api);
  const rows: BenchRow[] = [
    { section: 'processes', name: `${name}: direct client`, concurrency, ...figure(direct) },
    { section: 'processes', name: `${name}: no-op limit`, concurrency, ...figure(noop) },
    {
      section: 'processes',
      name,
      concurrency,
      ...figure(api),
      limit: `no-op activities (${unit})`,
      limitValue: round(rate(noop)),
      ratio: round(vsNoop),
      target: '>= 0.7 of no-op',
      met: rate(api) > 0 && rate(noop) > 0 && vsNoop >= 0.7 && api.failed === 0,
    },
    {
      section: 'api',
      name: `${name}: API over direct client`,
      concurrency,
      throughputPerSec: round(rate(api)),
      limit: `direct client (${unit})`,
      limitValue: round(rate(direct)),
      ratio: round(overhead),
      target: '<= 1.10 (time per process)',
      met: rate(api) > 0 && rate(direct) > 0 && overhead <= 1.1 && api.failed === 0,
    },
  ];
  return rows;
}

/** Customers made in one statement (not through registration, which is not what these measure). */
async function seedCustomers(pool: Pool, tag: string, count: number, country = 'DE'): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO customers (id, name, email, email_normalized, address, locale, created_by)
     SELECT id, 'Bench Seeded ' || id, e, e,
            jsonb_build_object('street', 'Benchstr. ' || i, 'postalCode', lpad((10000 + i % 89999)::text, 5, '0'), 'city', 'Bench', 'country', $3::text),
            'en', 'bench'
     FROM generate_series(1, $2::int) AS i, LATERAL (SELECT gen_random_uuid() AS id, $1::text || '-' || i || '@seed.bench.example' AS e) x
     RETURNING id`,
    [tag, count, country],
  );
  return rows.map((r) => r.id);
}

/** Offer customers own the product an upsell replaces and agreed to offers by e-mail. */
async function makeOfferable(pool: Pool, ids: string[]): Promise<void> {
  await pool.query(
    `INSERT INTO customer_products (customer_id, product_id, price, source, acquired_at)
     SELECT c, 'internet-s', 19.99, 'purchase', now() - interval '1 year' FROM unnest($1::uuid[]) AS c`,
    [ids],
  );
  await pool.query(
    `INSERT INTO consent_events (id, customer_id, channel, purpose, action, method, text_version, source, occurred_at, recorded_by, idempotency_key)
     SELECT gen_random_uuid(), c, 'email', 'marketing', 'grant', 'form', 'v1', 'bench', now() - interval '1 day', 'bench', 'bench-consent:' || c
     FROM unnest($1::uuid[]) AS c`,
    [ids],
  );
}

const campaignDefinition = (name: string): CampaignDefinition => ({
  name,
  segment: { countries: ['LU'] },
  schedule: { cron: '0 9 1 1 *', timezone: 'Europe/Berlin' },
  // A win-back that starts by waiting: each enrollment records its first step and sleeps on a timer.
  steps: [
    { type: 'wait', duration: '30 days' },
    { type: 'message', channel: 'email', template: 'campaign-winback' },
  ],
  reEnrollment: 'never',
  maxMessagesPerWeek: 3,
});

/**
 * Terminates every running run of the campaign: the one the bench started, and any the schedule
 * started (a run triggered through the API has the schedule's id with the time appended, which
 * the campaign page may not show yet). Its page activity learns of it at its next heartbeat and
 * starts no further enrollment.
 */
async function stopRuns(ctx: Ctx, campaignId: string, known?: string): Promise<void> {
  const ids = new Set(known ? [known] : []);
  for await (const run of ctx.client.workflow.list({
    query: `WorkflowType = 'campaignRun' AND CrmCampaignId = '${campaignId}' AND ExecutionStatus = 'Running'`,
  })) {
    ids.add(run.workflowId);
  }
  await Promise.all(
    [...ids].map((id) =>
      ctx.client.workflow
        .getHandle(id)
        .terminate('bench: BENCH_CAMPAIGN_CAP_SECONDS reached')
        .catch(() => undefined),
    ),
  );
}

/**
 * Waits until every enrollment started for the campaign has taken its first step (its first
 * workflow task recorded the wait in enrollment_events), so the next variant starts on a worker
 * with no backlog of this one's tasks. At most two minutes.
 */
async function drain(ctx: Ctx, campaignId: string, label: string): Promise<void> {
  const t0 = performance.now();
  const started = () =>
    ctx.client.workflow
      .count(`WorkflowType = 'campaignEnrollment' AND CrmCampaignId = '${campaignId}'`)
      .then((c) => c.count)
      .catch(() => Number.POSITIVE_INFINITY);
  const stepped = () =>
    ctx.pool
      .query<{ n: number }>("SELECT count(DISTINCT customer_id)::int AS n FROM enrollment_events WHERE campaign_id = $1 AND type = 'wait'", [campaignId])
      .then((r) => r.rows[0]!.n);
  for (;;) {
    const [s, d] = [await started(), await stepped()];
    if (d >= s || performance.now() - t0 > 120_000) {
      progress(`${label}: drained (${d} of ${s} enrollments past their first step) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      return;
    }
    await sleep(1_000);
  }
}

/**
 * One run of a fresh campaign over the seeded segment, to the run's end (every customer enrolled),
 * or stopped at `capSeconds` and counted on the customers it enrolled by then.
 */
async function campaignRunOnce(ctx: Ctx, v: Variant, seq: number, customerIds: string[], capSeconds: number): Promise<Measurement> {
  const def = campaignDefinition(`Bench win-back ${seq} (${v})`);
  const backoffice = ctx.stack.backofficeKey;
  const created = await call(ctx, 'POST', '/v1/campaigns', 201, def, backoffice);
  const campaignId = created.id as string;
  const m: Measurement = { n: 1, failed: 0, seconds: 0, latencies: [], units: 0 };
  const { pageSize, enrollConcurrency } = defaultConfig().retention;
  const label = `${CAMPAIGN} ${v}`;
  const t0 = performance.now();
  const deadline = t0 + capSeconds * 1000;
  let runWorkflowId: string | undefined;
  let finished: Promise<unknown>;
  // Enrollments started so far, from the server's visibility (the run's own totals move a page at a time).
  const count = () =>
    ctx.client.workflow
      .count(`WorkflowType = 'campaignEnrollment' AND CrmCampaignId = '${campaignId}'`)
      .then((c) => c.count)
      .catch(() => 0);
  try {
    if (v === 'api') {
      await call(ctx, 'POST', `/v1/campaigns/${campaignId}/runs`, 202, undefined, backoffice);
      // As a user follows it: the campaign's page, until its run reads completed.
      finished = (async () => {
        for (;;) {
          const c = await call(ctx, 'GET', `/v1/campaigns/${campaignId}`, 200, undefined, backoffice);
          runWorkflowId ??= c.schedule?.recentActions?.[0]?.workflowId;
          if (c.runs?.[0]?.status === 'completed') return c.runs[0];
          if (performance.now() > deadline) return undefined;
          await sleep(250);
        }
      })();
    } else {
      if (v === 'noop') ctx.noop.campaigns.set(campaignId, { definition: def, customerIds: [...customerIds].sort() });
      runWorkflowId = `${campaignRunWorkflowId(campaignId)}-${v}`;
      const handle = await ctx.client.workflow.start('campaignRun', {
        taskQueue: queueOf(ctx, v),
        workflowId: runWorkflowId,
        args: [{ campaignId, pageSize, concurrency: enrollConcurrency }],
      });
      finished = handle.result();
    }
    const capped = Symbol('capped');
    for (;;) {
      const tick = new Promise((r) => setTimeout(() => r(capped), Math.max(0, Math.min(10_000, deadline - performance.now()))));
      const outcome = await Promise.race([finished, tick]);
      // Enrollments started so far, from the server's visibility (the run's own totals move a page at a time).
      const started = await count();
      if (outcome !== capped && outcome !== undefined) {
        m.units = customerIds.length;
        m.latencies.push(performance.now() - t0);
        break;
      }
      if (performance.now() >= deadline) {
        m.units = started;
        m.capped = true;
        progress(`${label}: still enrolling after ${capSeconds} s (${m.units} enrolled); stopped, measured on those`);
        await stopRuns(ctx, campaignId, runWorkflowId);
        if (v !== 'noop') await drain(ctx, campaignId, label);
        break;
      }
      progress(`${label}: ${started}/${customerIds.length} enrolled`);
    }
  } catch (err) {
    m.failed = 1;
    m.firstError = err instanceof Error ? err.message : String(err);
    progress(`${label}: failed: ${m.firstError}`);
  }
  m.seconds = (performance.now() - t0) / 1000;
  progress(`${label}: ${m.units} customers in ${m.seconds.toFixed(1)} s`);
  return m;
}

/**
 * The registration's answer to a caller who is alone on the system: `pacedN` registrations through
 * the API, each `paceMs` after the previous answer, so the previous one's rest (welcome delivery,
 * onboarding and its first task, which run on after the answer) is done. Back to back, as in the
 * c=1 throughput rows, each answer also waits behind the previous one's rest on the same two cores;
 * that p50 is in the row's figures.
 */
async function registrationAlone(ctx: Ctx, s: ReturnType<typeof processSettings>, ms: Record<Variant, Measurement>, next: () => number): Promise<BenchRow> {
  const paced: number[] = [];
  for (let i = 0; i < s.pacedN; i++) {
    await sleep(s.paceMs);
    const t0 = performance.now();
    await registration.run(ctx, 'api', next());
    paced.push(performance.now() - t0);
  }
  const p50 = latencies(paced).p50Ms;
  progress(`registration alone, ${s.paceMs} ms apart: p50 ${p50.toFixed(0)} ms over ${paced.length}`);
  return {
    section: 'processes',
    name: `registration answered, one at a time (${s.paceMs} ms apart)`,
    concurrency: 1,
    n: paced.length,
    ...roundedLatencies(paced),
    figures: { backToBackP50Ms: round(latencies(ms.api.latencies).p50Ms, 0), noopBackToBackP50Ms: round(latencies(ms.noop.latencies).p50Ms, 0) },
    limit: 'target p50 (ms)',
    limitValue: 150,
    ratio: round(p50 / 150),
    target: 'p50 <= 150 ms',
    met: paced.length > 0 && p50 <= 150,
  };
}

export async function runProcesses(): Promise<BenchRow[]> {
  const s = processSettings();
  const wanted = (name: string) => s.only.length === 0 || s.only.some((o) => name.includes(o));
  const processes = PROCESSES.filter((p) => wanted(p.name));
  const noop: NoopCampaigns = { campaigns: new Map() };
  progress(`starting Temporal, PostgreSQL, the worker, the no-op worker and the API (${os.cpus().length} cores)`);
  const stack = await startBenchStack({ taskQueue: 'bench', poolMax: 20, resultWaitMs: 120_000, noop });
  const rows: BenchRow[] = [];
  try {
    const users = await stack.pool.query<{ id: string; email: string }>(
      `SELECT id, email FROM users WHERE email IN ('bench@localhost', 'bench-backoffice@localhost')`,
    );
    const idOf = (email: string) => users.rows.find((u) => u.email === email)?.id ?? email;
    // Enough customers for every run of every variant, plus a warm-up each.
    const perVariant = s.single + s.parallel + 1;
    const ctx: Ctx = {
      stack,
      client: stack.client,
      pool: stack.pool,
      agent: idOf('bench@localhost'),
      approver: idOf('bench-backoffice@localhost'),
      noop,
      customers: {
        'master-data': wanted(masterData.name) ? await seedCustomers(stack.pool, 'md', perVariant * 3) : [],
        offer: wanted(offerAccepted.name) ? await seedCustomers(stack.pool, 'offer', perVariant * 3) : [],
      },
    };
    await makeOfferable(stack.pool, ctx.customers.offer);
    let seq = 0;
    const next = () => ++seq;

    for (const p of processes) {
      progress(`${p.name} (end point: ${p.endPoint})`);
      try {
        // One warm-up per variant: the first run of a workflow type pays for loading its code.
        for (const v of VARIANTS) await p.run(ctx, v, next());
        for (const concurrency of [1, s.concurrency]) {
          const n = concurrency === 1 ? s.single : Math.max(s.parallel, concurrency);
          const ms = {} as Record<Variant, Measurement>;
          for (const v of VARIANTS) {
            await quiet(`${p.name} ${v} c=${concurrency}`);
            ms[v] = await measure(`${p.name} ${v} c=${concurrency}`, concurrency, n, s.capSeconds, (i) => p.run(ctx, v, i), next);
          }
          rows.push(...rowsOf(p.name, concurrency, ms));
          if (p === registration && concurrency === 1) rows.push(await registrationAlone(ctx, s, ms, next));
        }
      } catch (err) {
        // A process that cannot run at all (its warm-up failed) says so in its row; the others still run.
        const reason = err instanceof Error ? err.message : String(err);
        progress(`${p.name}: ${reason}`);
        rows.push({ section: 'processes', name: p.name, figures: { failed: 1 }, target: '>= 0.7 of no-op', met: false, bound: `did not run: ${reason}` });
      }
    }

    if (wanted(CAMPAIGN) && s.campaignCustomers > 0) {
      progress(`${CAMPAIGN}: seeding ${s.campaignCustomers} customers`);
      const ids = await seedCustomers(stack.pool, 'campaign', s.campaignCustomers, 'LU');
      await stack.pool.query('ANALYZE customers');
      const ms = {} as Record<Variant, Measurement>;
      for (const v of VARIANTS) ms[v] = await campaignRunOnce(ctx, v, next(), ids, s.campaignCapSeconds);
      // Throughput in customers enrolled per second; latency is the run from its trigger to its end.
      rows.push(...rowsOf(`${CAMPAIGN} (${ids.length} customers)`, 1, ms, 'customers/s'));
    }
  } finally {
    progress('stopping the stack');
    await stack.stop();
  }
  return rows;
}
