import { readdir, readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { grantMarketingConsent } from './support/consent.js';
import { startAnalyticsHarness, withDashboard, type AnalyticsHarness } from './support/analytics.js';
import { codeFor, confirmFromOldContact, registerCustomer as registerTestCustomer, waitForChange } from './support/master-data.js';

let h: Harness;
let a: AnalyticsHarness;
beforeAll(async () => {
  h = await startHarness('analytics');
  a = await startAnalyticsHarness(h.taskQueue);
});
afterAll(async () => {
  await a?.stop();
  await h?.close();
});

const register = async (email = `${uniqueId('an')}@example.com`) => {
  const res = await h.json('POST', '/v1/customers', { body: { name: 'Analytic Person', email } });
  return res;
};

describe('analytics learns from completed workflows only', () => {
  it('gives exactly the expected numbers for a scenario with known outcomes, and re-ingest changes nothing', async () => {
    const emails = [0, 1, 2].map(() => `${uniqueId('known')}@example.com`);
    for (const email of emails) expect((await register(email)).status).toBe(201);
    expect((await register(emails[0])).status).toBe(409); // a duplicate
    // A delivery of a message that does not exist fails with a typed business failure.
    const failing = h.client.workflow.start('deliverNotification', {
      taskQueue: h.taskQueue,
      workflowId: uniqueId('notify-missing'),
      args: [{ messageId: '00000000-0000-4000-8000-000000000000' }],
    });
    await expect((await failing).result()).rejects.toThrow();
    // Deliveries run as their own workflows: per registration the welcome, and onboarding's opt-in
    // code and first-contact task. Wait until all nine are queued, then until all are closed.
    const { rows } = await eventually(async () => {
      const queued = await h.pool.query<{ id: string }>('SELECT id FROM notification_outbox');
      return queued.rows.length === 3 * 3 ? queued : undefined;
    });
    // A message's row is committed before its process starts the delivery: wait for the workflow to exist, then for its end.
    await Promise.all(
      rows.map(async (r) => {
        const delivery = h.client.workflow.getHandle(`notify-${r.id}`);
        await eventually(() => delivery.describe().catch(() => undefined));
        await delivery.result();
      }),
    );

    const first = await a.ingest();
    expect(first.ingested).toBe(4 + rows.length + 1);
    const report = await a.report('processes');
    expect(report.status).toBe(200);
    const byType = Object.fromEntries(report.body.byType.map((t: { workflowType: string }) => [t.workflowType, t]));
    expect(byType.registerCustomer).toMatchObject({ total: 4, completed: 4, failed: 0, process: 'registration' });
    expect(byType.deliverNotification).toMatchObject({
      total: rows.length + 1,
      completed: rows.length,
      failed: 1,
      failuresByType: { MessageNotFound: 1 },
    });

    const statuses = await a.service.pool.query(
      `SELECT final_status, count(*)::int AS n FROM process_runs WHERE workflow_type = 'registerCustomer' GROUP BY 1 ORDER BY 1`,
    );
    expect(statuses.rows).toEqual([
      { final_status: 'duplicate', n: 1 },
      { final_status: 'registered', n: 3 },
    ]);
    const transitions = await a.service.pool.query(
      `SELECT from_status, to_status FROM status_transitions WHERE workflow_type = 'registerCustomer' AND to_status = 'registered'`,
    );
    expect(transitions.rows).toHaveLength(3);
    expect(transitions.rows.every((r) => r.from_status === 'received')).toBe(true);

    const before = await a.service.pool.query('SELECT count(*)::int AS runs, (SELECT count(*)::int FROM status_transitions) AS transitions FROM process_runs');
    const again = await a.ingest();
    expect(again.ingested).toBe(0);
    const after = await a.service.pool.query('SELECT count(*)::int AS runs, (SELECT count(*)::int FROM status_transitions) AS transitions FROM process_runs');
    expect(after.rows).toEqual(before.rows);
  });

  it('stores no personal data: no e-mail, name or customer id reaches the analytics store', async () => {
    const email = `${uniqueId('pii')}@example.com`;
    const res = await register(email);
    await a.ingest();
    const dump = await a.service.pool.query(
      `SELECT row_to_json(r)::text AS j FROM process_runs r UNION ALL SELECT row_to_json(t)::text FROM status_transitions t`,
    );
    const text = dump.rows.map((r) => r.j).join('\n');
    expect(text).not.toContain(email);
    expect(text).not.toContain('Analytic Person');
    expect(text).not.toContain(res.body.id);
  });

  it('keeps the operational side working while analytics is stopped, and catches up with nothing lost', async () => {
    await a.stop();
    const emails = [0, 1].map(() => `${uniqueId('offline')}@example.com`);
    for (const email of emails) expect((await register(email)).status).toBe(201);
    const runs = await a.service.pool.query('SELECT count(*)::int AS n FROM process_runs').catch(() => undefined);
    expect(runs).toBeUndefined(); // its pool is closed: analytics is really down

    a = await startAnalyticsHarness(h.taskQueue, a.schema);
    const caughtUp = await a.ingest();
    expect(caughtUp.ingested).toBeGreaterThanOrEqual(2);
    const report = await a.report('processes');
    const registrations = report.body.byType.find((t: { workflowType: string }) => t.workflowType === 'registerCustomer');
    expect(registrations.total).toBe(4 + 1 + 2);
  });

  it('rejects a bad range and a missing or wrong key with a problem', async () => {
    const bad = await a.report('funnel', { from: 'yesterday', groupBy: 'month' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['query.from', 'query.groupBy']));
    const reversed = await a.report('funnel', { from: '2026-02-01', to: '2026-01-01' });
    expect(reversed.status).toBe(400);
    const noKey = await a.service.app.request('/v1/analytics/funnel');
    expect(noKey.status).toBe(401);
    const wrongKey = await a.service.app.request('/v1/analytics/funnel', { headers: { authorization: 'Bearer nope' } });
    expect(wrongKey.status).toBe(401);
  });

  it('runs ingestion from its Temporal Schedule on the analytics task queue', async () => {
    const schedule = a.service.client.schedule.getHandle(`ingest-${a.schema}`);
    const description = await schedule.describe();
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'analyticsIngest', taskQueue: a.taskQueue });
    await schedule.trigger();
    let runId: string | undefined;
    for (let i = 0; i < 100 && !runId; i++) {
      runId = (await schedule.describe()).info.recentActions.at(-1)?.action.workflow.workflowId;
      if (!runId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(runId).toBeTruthy();
    const result = await a.service.client.workflow.getHandle(runId!).result();
    expect(result.ingested).toBeGreaterThanOrEqual(0);
  });
});

describe('reports from journeys with known outcomes', () => {
  const lead = async (source: string, name: string) => {
    const res = await h.json('POST', '/v1/leads', { body: { name, email: `${uniqueId('lead')}@example.com`, source, company: 'ACME' } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.leadId as string;
  };
  const move = async (id: string, body: Record<string, unknown>) => {
    const res = await h.json('POST', `/v1/leads/${id}/transitions`, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };

  it('gives exactly the expected funnel, offer and master-data change numbers', async () => {
    // Funnel: a web lead won, a web lead lost at once, a referral lost after contact.
    const [won, lostNew, lostContacted] = [await lead('web', 'Wanda Won'), await lead('web', 'Lars Lost'), await lead('referral', 'Rita Referral')];
    await move(won, { to: 'contacted' });
    await move(won, { to: 'qualified', need: 'faster internet', budget: 50, timeline: 'this month', currency: 'EUR' });
    await move(won, { to: 'proposal', product: 'internet-l', amount: 44.99, currency: 'EUR' });
    await move(won, { to: 'won' });
    await move(lostNew, { to: 'lost', reason: 'no budget' });
    await move(lostContacted, { to: 'contacted' });
    await move(lostContacted, { to: 'lost', reason: 'chose a competitor' });
    await Promise.all([won, lostNew, lostContacted].map((id) => h.client.workflow.getHandle(`lead-${id}`).result()));

    // Offers: an upsell for a customer who owns nothing is refused by rule.
    const customer = await registerTestCustomer(h);
    const refused = await h.json('POST', `/v1/customers/${customer.id}/offers`, { body: { kind: 'upsell', productId: 'internet-l' } });
    expect(refused.status).toBe(422);

    // Master data: an e-mail change verified and applied, then a name change rejected by backoffice.
    const newEmail = `${uniqueId('moved')}@example.org`;
    const emailChange = await h.json('POST', `/v1/customers/${customer.id}/changes`, { body: { changes: { email: newEmail } } });
    expect(emailChange.status, JSON.stringify(emailChange.body)).toBe(202);
    await waitForChange(h, emailChange.body.changeId, 'awaiting-verification');
    expect((await h.json('POST', `/v1/changes/${emailChange.body.changeId}/verification`, { body: { code: await codeFor(h, newEmail) } })).status).toBe(200);
    await confirmFromOldContact(h, emailChange.body.changeId, customer.email);
    await waitForChange(h, emailChange.body.changeId, 'applied');
    const nameChange = await h.json('POST', `/v1/customers/${customer.id}/changes`, { body: { changes: { name: 'Janet Doe' } } });
    await waitForChange(h, nameChange.body.changeId, 'awaiting-approval');
    expect(
      (
        await h.json('POST', `/v1/changes/${nameChange.body.changeId}/approval`, {
          as: 'backoffice',
          body: { decision: 'reject', comment: 'no proof of name change' },
        })
      ).status,
    ).toBe(200);
    await waitForChange(h, nameChange.body.changeId, 'rejected');
    // The change desk closes after a quiet spell; closing it now stands in for that wait.
    await h.client.workflow.getHandle(`master-data-${customer.id}`).terminate('test: the desk would close when idle');

    await a.ingest();
    const funnel = (await a.report('funnel')).body;
    expect(funnel.stageCounts).toMatchObject({ new: 3, contacted: 2, qualified: 1, proposal: 1, won: 1, lost: 2 });
    expect(funnel.conversion).toEqual([
      { from: 'new', to: 'contacted', rate: 0.6667 },
      { from: 'contacted', to: 'qualified', rate: 0.5 },
      { from: 'qualified', to: 'proposal', rate: 1 },
      { from: 'proposal', to: 'won', rate: 1 },
    ]);
    expect(funnel.winRateBySource).toEqual([
      { source: 'referral', won: 0, lost: 1, winRate: 0 },
      { source: 'web', won: 1, lost: 1, winRate: 0.5 },
    ]);
    expect(funnel.timeInStage.new.transitions).toBe(3);
    expect(funnel.timeInStage.new.medianMs).toBeGreaterThanOrEqual(0);

    const campaigns = (await a.report('campaigns')).body;
    expect(campaigns.offersByKind.upsell).toMatchObject({ offers: 1, ineligible: 1, accepted: 0, acceptanceRate: null });

    const changes = (await a.report('changes')).body;
    expect(changes.volumeByType).toEqual({ email: 1, name: 1 });
    expect(changes.outcomes).toMatchObject({ applied: 1, rejected: 1, failed: 0, expired: 0, cancelled: 0 });
    expect(changes.verification).toMatchObject({ requested: 1, verified: 1, failed: 0, successRate: 1 });
    expect(changes.verification.timeToVerify.medianMs).toBeGreaterThan(0);
    expect(changes.approval).toMatchObject({ requested: 1, approved: 0, rejected: 1, escalated: 0 });
    expect(changes.approval.turnaround.medianMs).toBeGreaterThan(0);
  });
});

describe('campaign reports from enrollments with known outcomes', () => {
  it('counts enrolled, messaged, goal reached and opted out exactly', async () => {
    // Three customers only this campaign selects (the only ones in the Netherlands here).
    const customers: string[] = [];
    for (const name of ['Gina Goal', 'Otto Optout', 'Carl Complete']) {
      const res = await h.json('POST', '/v1/customers', {
        body: {
          name,
          email: `${uniqueId('camp')}@example.com`,
          address: { street: 'Damrak 1', postalCode: '1012 LG', city: 'Amsterdam', country: 'NL' },
        },
      });
      expect(res.status).toBe(201);
      customers.push(res.body.id);
    }
    // Campaign messages reach only customers who agreed to marketing by e-mail.
    await grantMarketingConsent(h.pool, customers, ['email']);
    const [goal, optOut] = customers as [string, string, string];
    const created = await h.json('POST', '/v1/campaigns', {
      as: 'backoffice',
      body: {
        name: 'Check-in NL',
        segment: { countries: ['NL'] },
        schedule: { interval: '30 days', timezone: 'UTC' },
        steps: [
          { type: 'message', channel: 'email', template: 'campaign-checkin' },
          { type: 'wait', duration: '15 seconds' },
        ],
        goal: { type: 'customer-event', event: 'purchase' },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    try {
      expect((await h.json('POST', `/v1/campaigns/${id}/runs`, { as: 'backoffice' })).status).toBe(202);
      const waiting = (customerId: string) =>
        eventually(async () => {
          const res = await h.json('GET', `/v1/campaigns/${id}/enrollments/${customerId}`);
          return res.status === 200 && res.body.state?.status === 'waiting';
        });
      await Promise.all(customers.map(waiting));
      expect((await h.json('POST', `/v1/customers/${goal}/events`, { body: { type: 'purchase', productId: 'internet-m' } })).status).toBeLessThan(300);
      expect((await h.json('POST', `/v1/customers/${optOut}/events`, { body: { type: 'opt-out', channel: 'email' } })).status).toBeLessThan(300);
      const ends = await Promise.all(customers.map((c) => h.client.workflow.getHandle(`campaign-${id}-${c}`).result()));
      expect(ends.map((e: { status: string }) => e.status)).toEqual(['goal-met', 'opted-out', 'completed']);
    } finally {
      await h.client.schedule
        .getHandle(`campaign-${id}`)
        .delete()
        .catch(() => undefined);
    }

    await a.ingest();
    const report = (await a.report('campaigns')).body;
    expect(report).toMatchObject({ enrolled: 3, messaged: 3, goalReached: 1, optedOut: 1, goalRate: 0.3333, optOutRate: 0.3333 });
  });
});

describe('operational and analytical code never couple', () => {
  const root = path.resolve(import.meta.dirname, '..');
  async function sources(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(path.join(root, dir), { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts')) out.push(path.join(entry.parentPath, entry.name));
    }
    return out;
  }
  const importsOf = async (file: string) =>
    [...(await readFile(file, 'utf8')).matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => path.resolve(path.dirname(file), m[1]!));

  it('src/analytics imports nothing from the API, the operational database, activities, workflows or the worker', async () => {
    const forbidden = ['src/api', 'src/db', 'src/worker', 'activities', 'workflows', 'src/services.ts'].map((p) => path.join(root, p));
    for (const file of await sources('src/analytics')) {
      for (const target of await importsOf(file)) {
        expect(
          forbidden.some((f) => target === f || target.startsWith(f + path.sep)),
          `${path.relative(root, file)} imports ${path.relative(root, target)}`,
        ).toBe(false);
      }
    }
  });

  it('nothing outside src/analytics imports src/analytics', async () => {
    const analytics = path.join(root, 'src/analytics');
    for (const dir of ['src', 'activities', 'workflows']) {
      for (const file of await sources(dir)) {
        if (file.startsWith(analytics + path.sep)) continue;
        for (const target of await importsOf(file)) {
          expect(target.startsWith(analytics + path.sep), `${path.relative(root, file)} imports ${path.relative(root, target)}`).toBe(false);
        }
      }
    }
  });
});

describe('the dashboard', () => {
  it('renders charts with data in headless Chromium', async () => {
    await withDashboard(a, 1000, async (page) => {
      const rows = await page.locator('#processes tbody tr').allTextContents();
      expect(rows.some((r) => r.startsWith('registerCustomer'))).toBe(true);
      expect(await page.locator('canvas').count()).toBe(4);
      expect(await page.locator('#error').isHidden()).toBe(true);
      await mkdir(path.join(import.meta.dirname, '..', 'test-results'), { recursive: true });
      await page.screenshot({ path: path.join(import.meta.dirname, '..', 'test-results', 'analytics-dashboard.png'), fullPage: true });
    });
  });
});
