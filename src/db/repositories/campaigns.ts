/**
 * Campaigns, their runs and enrollments, and each enrollment's log (`enrollment_events`): why a
 * customer got a message, or why a step was held back. The retention activities write the log in
 * the transaction of each step; an enrollment's offers are read from the offers record. The API
 * reads all of it here, with no workflow and no worker needed.
 */
import type { Pool, PoolClient } from '../pool.js';
import type { OfferResult } from '../../domain/offers.js';
import type {
  CampaignDefinition,
  CampaignGoal,
  CampaignRunInput,
  CampaignStep,
  EnrollmentLogEntry,
  EnrollmentState,
  EnrollmentStatus,
} from '../../domain/retention.js';

type Db = Pool | PoolClient;

export interface CampaignRow {
  id: string;
  name: string;
  status: 'active' | 'paused';
  definition: CampaignDefinition;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export async function readCampaign(db: Db, id: string): Promise<CampaignRow | undefined> {
  const { rows } = await db.query<CampaignRow>('SELECT * FROM campaigns WHERE id = $1', [id]);
  return rows[0];
}

/** Inserts a campaign unless its id exists; undefined when it did (an Idempotency-Key repeat). */
export async function insertCampaign(db: Db, c: { id: string; definition: CampaignDefinition; createdBy: string }): Promise<CampaignRow | undefined> {
  const { rows } = await db.query<CampaignRow>(
    'INSERT INTO campaigns (id, name, definition, created_by) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING *',
    [c.id, c.definition.name, JSON.stringify(c.definition), c.createdBy],
  );
  return rows[0];
}

export async function setCampaignStatus(db: Db, id: string, status: 'active' | 'paused'): Promise<CampaignRow | undefined> {
  const { rows } = await db.query<CampaignRow>('UPDATE campaigns SET status = $2, updated_at = now() WHERE id = $1 RETURNING *', [id, status]);
  return rows[0];
}

export async function listCampaigns(db: Db, limit = 200): Promise<Array<{ id: string; name: string; status: string; createdAt: string }>> {
  const { rows } = await db.query<CampaignRow>('SELECT id, name, status, created_at FROM campaigns ORDER BY created_at DESC LIMIT $1', [limit]);
  return rows.map((r) => ({ id: r.id, name: r.name, status: r.status, createdAt: r.created_at.toISOString() }));
}

export interface RunView {
  runKey: string;
  status: string;
  reason: string | null;
  pages: number;
  selected: number;
  enrolled: number;
  skipped: number;
  startedAt: string;
  finishedAt: string | null;
}

/** A campaign's recent runs, newest first, and how many of its enrollments stand in each status. */
export async function campaignActivity(db: Db, id: string, runs = 20): Promise<{ runs: RunView[]; enrollments: Record<string, number> }> {
  const r = await db.query<{
    run_key: string;
    status: string;
    reason: string | null;
    pages: number;
    selected: number;
    enrolled: number;
    skipped: number;
    started_at: Date;
    finished_at: Date | null;
  }>(
    'SELECT run_key, status, reason, pages, selected, enrolled, skipped, started_at, finished_at FROM campaign_runs WHERE campaign_id = $1 ORDER BY started_at DESC LIMIT $2',
    [id, runs],
  );
  const counts = await db.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM campaign_enrollments WHERE campaign_id = $1 GROUP BY status',
    [id],
  );
  return {
    runs: r.rows.map((x) => ({
      runKey: x.run_key,
      status: x.status,
      reason: x.reason,
      pages: x.pages,
      selected: x.selected,
      enrolled: x.enrolled,
      skipped: x.skipped,
      startedAt: x.started_at.toISOString(),
      finishedAt: x.finished_at?.toISOString() ?? null,
    })),
    enrollments: Object.fromEntries(counts.rows.map((x) => [x.status, Number(x.n)])),
  };
}

export interface EnrollmentEvent {
  campaignId: string;
  customerId: string;
  runKey: string;
  step: number | null;
  type: EnrollmentLogEntry['type'];
  outcome: string;
  detail?: string;
  at: Date | string;
  key: string;
}

export async function appendEnrollmentEvent(db: Db, e: EnrollmentEvent): Promise<void> {
  await db.query(
    `INSERT INTO enrollment_events (campaign_id, customer_id, run_key, step, type, outcome, detail, at, entry_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (entry_key) DO NOTHING`,
    [e.campaignId, e.customerId, e.runKey, e.step, e.type, e.outcome, e.detail ?? null, e.at, e.key],
  );
}

/** The "enrolled" entry of every customer a run page enrolled, keyed `<keyPrefix><customerId>:<runKey>:enrolled`. */
export async function appendEnrolled(
  db: Db,
  e: { campaignId: string; runKey: string; customerIds: string[]; at: Date | string; keyPrefix: string },
): Promise<void> {
  await db.query(
    `INSERT INTO enrollment_events (campaign_id, customer_id, run_key, step, type, outcome, detail, at, entry_key)
     SELECT $1, c, $2, NULL, 'enrolled', 'enrolled', 'run ' || $2, $3, $4 || c::text || ':' || $2 || ':enrolled' FROM unnest($5::uuid[]) AS c
     ON CONFLICT (entry_key) DO NOTHING`,
    [e.campaignId, e.runKey, e.at, e.keyPrefix, e.customerIds],
  );
}

export interface EnrollmentHistory {
  runKey: string;
  status: string;
  endReason: string | null;
  enrolledAt: string;
  endedAt: string | null;
}

export type EnrollmentView = { workflowId: string; state: EnrollmentState; enrollments: EnrollmentHistory[] };

const FINAL_OFFER = ['ineligible', 'accepted', 'declined', 'expired', 'withdrawn'];

/**
 * The customer's latest enrollment in the campaign as its workflow's state would show it (steps
 * and goal as frozen by its run), with every earlier enrollment; undefined if never enrolled.
 */
export async function readEnrollment(db: Db, campaignId: string, customerId: string): Promise<EnrollmentView | undefined> {
  const { rows } = await db.query<{
    run_key: string;
    status: EnrollmentStatus;
    end_reason: string | null;
    enrolled_at: Date;
    ended_at: Date | null;
    workflow_id: string;
  }>(
    'SELECT run_key, status, end_reason, enrolled_at, ended_at, workflow_id FROM campaign_enrollments WHERE campaign_id = $1 AND customer_id = $2 ORDER BY enrolled_at DESC, id DESC',
    [campaignId, customerId],
  );
  const latest = rows[0];
  if (!latest) return undefined;
  const campaign = (await readCampaign(db, campaignId))!;
  const run = await db.query<{ snapshot: CampaignRunInput['snapshot'] | null }>('SELECT snapshot FROM campaign_runs WHERE run_key = $1', [latest.run_key]);
  const frozen: { campaignName: string; steps: CampaignStep[]; goal?: CampaignGoal } = run.rows[0]?.snapshot ?? {
    ...campaign.definition,
    campaignName: campaign.name,
  };
  const events = await db.query<{
    step: number | null;
    type: EnrollmentLogEntry['type'];
    outcome: string;
    detail: string | null;
    at: Date;
  }>('SELECT step, type, outcome, detail, at FROM enrollment_events WHERE campaign_id = $1 AND customer_id = $2 AND run_key = $3 ORDER BY at, id', [
    campaignId,
    customerId,
    latest.run_key,
  ]);
  const log: EnrollmentLogEntry[] = events.rows.map((e) => ({
    at: e.at.toISOString(),
    step: e.step,
    type: e.type,
    outcome: e.outcome,
    ...(e.detail !== null ? { detail: e.detail } : {}),
  }));

  // Offer steps are the offers this enrollment made: their record says when and how each ended.
  const offers = await db.query<{
    id: string;
    kind: string;
    product_id: string;
    valid_until: Date;
    status: string;
    rule: OfferResult['rule'] | null;
    reason: string | null;
    created_at: Date;
    decided_at: Date | null;
  }>(
    `SELECT id, kind, product_id, valid_until, status, rule, reason, created_at, decided_at FROM offers
     WHERE campaign_id = $1 AND customer_id = $2 AND created_at >= $3 AND ($4::timestamptz IS NULL OR created_at <= $4)
     ORDER BY created_at, id`,
    [campaignId, customerId, latest.enrolled_at, latest.ended_at],
  );
  let lastOffer: OfferResult | undefined;
  for (const o of offers.rows) {
    const step = frozen.steps.findIndex((s) => s.type === 'offer' && s.kind === o.kind && s.productId === o.product_id);
    const at = o.created_at.toISOString();
    log.push({
      at,
      step: step < 0 ? null : step,
      type: 'offer',
      outcome: 'started',
      detail: `${o.kind} ${o.product_id}, offer ${o.id} valid until ${o.valid_until.toISOString()}`,
    });
    if (FINAL_OFFER.includes(o.status)) {
      lastOffer = {
        offerId: o.id,
        status: o.status as OfferResult['status'],
        ...(o.rule ? { rule: o.rule } : {}),
        ...(o.reason !== null ? { reason: o.reason } : {}),
      };
      log.push({
        at: (o.decided_at ?? o.created_at).toISOString(),
        step: step < 0 ? null : step,
        type: 'offer',
        outcome: o.status,
        detail: o.reason ?? `offer ${o.id}`,
      });
    }
  }
  // A stable sort: entries of the same instant keep the order they were written in.
  log.sort((a, b) => a.at.localeCompare(b.at));

  const last = log.filter((l) => l.type !== 'event').at(-1);
  const status: EnrollmentStatus =
    latest.status !== 'active'
      ? latest.status
      : last?.type === 'wait' && last.outcome === 'waiting'
        ? 'waiting'
        : last?.type === 'message' && last.outcome === 'deferred'
          ? 'deferred'
          : 'active';
  const steps = log.map((l) => l.step).filter((s): s is number => s !== null);
  return {
    workflowId: latest.workflow_id,
    state: {
      campaignId,
      campaignName: frozen.campaignName,
      customerId,
      runKey: latest.run_key,
      status,
      step: latest.status !== 'active' ? frozen.steps.length : steps.length ? Math.max(...steps) : 0,
      steps: frozen.steps,
      ...(frozen.goal ? { goal: frozen.goal } : {}),
      log,
      ...(lastOffer ? { lastOffer } : {}),
    },
    enrollments: rows.map((r) => ({
      runKey: r.run_key,
      status: r.status,
      endReason: r.end_reason,
      enrolledAt: r.enrolled_at.toISOString(),
      endedAt: r.ended_at?.toISOString() ?? null,
    })),
  };
}
