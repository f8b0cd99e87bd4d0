/**
 * Leads (`leads`) and their timeline (`lead_transitions`): the record of every lead funnel,
 * written by its activities and read by the API. The funnel writes what it knows after each
 * change (`recordLead`), numbered by `record_seq` so that a late retry of an older write changes
 * nothing; timeline entries are keyed by their position in the funnel's lists, so a retried write
 * finds them instead of adding them again. An opportunity is a lead row of kind 'opportunity',
 * linked to its customer from the start; the deal (amount, currency, expected close, products,
 * the stage's probability) and its timeline (`lead_deal_changes`) are every lead's.
 */
import type { Pool, PoolClient } from '../pool.js';
import { inTransaction } from '../pool.js';
import { recordEvent } from './webhook-events.js';
import { after, containing, orderBy, pageOf, type Position, type SortOrder } from '../keyset.js';
import { readLeadCorrections, writeAudit, type LeadCorrectionEntry } from './audit-log.js';
import {
  weightedAmount,
  type CompanySize,
  type Deal,
  type DealChange,
  type FunnelIntake,
  type LeadKind,
  type LeadAlert,
  type LeadDeadlineKind,
  type LeadFieldChange,
  type LeadProfile,
  type LeadScore,
  type LeadSource,
  type LeadStage,
  type LeadState,
  type LeadTransition,
} from '../../domain/acquisition.js';

export interface LeadRow {
  id: string;
  kind: LeadKind;
  workflow_id: string;
  name: string;
  email: string;
  phone: string | null;
  company: string | null;
  company_size: CompanySize | null;
  source: LeadSource;
  interest: string | null;
  locale: string;
  owner_id: string;
  stage: LeadStage;
  score: number | null;
  score_grade: LeadScore['grade'] | null;
  score_reasons: LeadScore['reasons'];
  scored_at: Date | null;
  qualification_need: string | null;
  qualification_budget: string | null;
  qualification_currency: string | null;
  qualification_timeline: string | null;
  proposal_product: string | null;
  proposal_amount: string | null;
  proposal_currency: string | null;
  lost_reason: string | null;
  next_due_kind: LeadDeadlineKind | null;
  next_due_at: Date | null;
  alerts: LeadAlert[];
  last_contact_at: Date | null;
  last_activity_at: Date | null;
  customer_id: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  closed_at: Date | null;
  /** numeric: pg hands them back as strings */
  deal_amount: string | null;
  deal_currency: string | null;
  product_ids: string[];
  probability: string | null;
}

export async function readLeadRow(db: Pool | PoolClient, leadId: string): Promise<LeadRow | undefined> {
  const { rows } = await db.query<LeadRow>('SELECT * FROM leads WHERE id = $1', [leadId]);
  return rows[0];
}

export function storedScore(row: Pick<LeadRow, 'score' | 'score_grade' | 'score_reasons' | 'scored_at'>): LeadScore {
  return {
    value: row.score ?? 0,
    grade: row.score_grade ?? 'C',
    reasons: row.score_reasons,
    scoredAt: (row.scored_at ?? new Date()).toISOString(),
  };
}

/** The open lead of a person (by normalised e-mail), if any: a person is funnelled once at a time. */
export async function findOpenLeadId(db: Pool | PoolClient, emailNormalized: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM leads WHERE email_normalized = $1 AND kind = 'lead' AND stage NOT IN ('won', 'lost') LIMIT 1`,
    [emailNormalized],
  );
  return rows[0]?.id;
}

export async function leadExists(db: Pool | PoolClient, leadId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM leads WHERE id = $1', [leadId]);
  return (rowCount ?? 0) > 0;
}

export interface NewLead {
  leadId: string;
  workflowId: string;
  runId?: string;
  intake: FunnelIntake;
  emailNormalized: string;
  owner: string;
  score: LeadScore;
  actor: string;
  /** The funnel's first timeline entry (null → new, or null → qualified for an opportunity). */
  transition: LeadTransition;
  /** An opportunity: the customer it sells to. */
  customerId?: string;
}

/** Inserts the lead with its intake entry; false when the e-mail belongs to another open lead. */
export async function insertLead(db: PoolClient, lead: NewLead): Promise<boolean> {
  const { intake, score } = lead;
  const inserted = await db.query(
    `INSERT INTO leads (id, workflow_id, name, email, email_normalized, phone, company, company_size, source, interest, locale,
                        owner_id, score, score_grade, score_reasons, scored_at, created_by, created_at, last_activity_at,
                        kind, customer_id, stage, deal_amount, deal_currency, expected_close, product_ids, probability)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19, $20, $21, $22, $23, $24, $25, $26)
     ON CONFLICT DO NOTHING`,
    [
      lead.leadId,
      lead.workflowId,
      intake.name,
      intake.email.trim(),
      lead.emailNormalized,
      intake.phone ?? null,
      intake.company ?? null,
      intake.companySize ?? null,
      intake.source,
      intake.interest ?? null,
      intake.locale,
      lead.owner,
      score.value,
      score.grade,
      JSON.stringify(score.reasons),
      score.scoredAt,
      lead.actor,
      lead.transition.at,
      lead.customerId ? 'opportunity' : 'lead',
      lead.customerId ?? null,
      lead.transition.to,
      intake.amount ?? null,
      intake.currency ?? 'EUR',
      intake.expectedClose ?? null,
      intake.productIds ?? [],
      lead.transition.probability ?? null,
    ],
  );
  if (inserted.rowCount !== 1) return false;
  await appendStageEntries(db, lead.leadId, lead.workflowId, lead.runId, [{ ...lead.transition, seq: 0 }]);
  return true;
}

export async function updateLeadScore(db: Pool | PoolClient, leadId: string, score: LeadScore): Promise<void> {
  await db.query('UPDATE leads SET score = $2, score_grade = $3, score_reasons = $4, scored_at = $5, updated_at = now() WHERE id = $1', [
    leadId,
    score.value,
    score.grade,
    JSON.stringify(score.reasons),
    score.scoredAt,
  ]);
}

export async function linkLeadToCustomer(db: Pool | PoolClient, leadId: string, customerId: string): Promise<void> {
  await db.query('UPDATE leads SET customer_id = $2, updated_at = now() WHERE id = $1', [leadId, customerId]);
}

/** The stage mirror of funnels recorded before the full record (`seq` is their version). */
export async function mirrorLeadStage(
  db: Pool | PoolClient,
  input: { leadId: string; seq: number; stage: LeadStage; owner?: string; lostReason?: string; customerId?: string },
): Promise<void> {
  await db.query(
    `UPDATE leads SET stage = $3, stage_seq = $2, owner_id = COALESCE($6, owner_id), lost_reason = COALESCE($4, lost_reason), customer_id = COALESCE($5, customer_id),
            closed_at = CASE WHEN $3 IN ('won', 'lost') THEN COALESCE(closed_at, now()) ELSE NULL END, updated_at = now()
     WHERE id = $1 AND stage_seq < $2`,
    [input.leadId, input.seq, input.stage, input.lostReason ?? null, input.customerId ?? null, input.owner ?? null],
  );
}

export type StageEntry = LeadTransition & { seq: number };
export interface OwnerEntry {
  seq: number;
  from: string;
  to: string;
  at: string;
  actor: string;
  reason?: string;
}

/** What the funnel knows of a lead at one moment, and the timeline entries since its last write. */
export interface LeadRecordWrite {
  leadId: string;
  workflowId: string;
  runId: string;
  /** Orders the writes of one funnel: a write older than the row's is not applied. */
  seq: number;
  stage: LeadStage;
  owner: string;
  profile: LeadProfile;
  score?: LeadScore;
  qualification?: LeadState['qualification'];
  proposal?: LeadState['proposal'];
  lostReason?: string;
  customerId?: string;
  nextDue?: LeadState['nextDue'];
  alerts: LeadAlert[];
  lastContactAt?: string;
  lastActivityAt: string;
  /** When the lead closed (won or lost): the time of that transition. */
  closedAt?: string;
  stages: StageEntry[];
  owners: OwnerEntry[];
  /** The deal as it stands and the probability of the current stage (funnels started before deals: none). */
  deal?: Deal;
  probability?: number;
  /** Deal timeline entries since the last write, each with the fields it changed (audited). */
  deals?: DealEntry[];
}

export type DealEntry = DealChange & { seq: number; changes: Array<{ field: string; from: unknown; to: unknown }> };

async function appendDealEntries(db: PoolClient, w: LeadRecordWrite): Promise<void> {
  for (const e of w.deals ?? []) {
    const { rowCount } = await db.query(
      `INSERT INTO lead_deal_changes (lead_id, seq, amount, currency, expected_close, product_ids, probability, at, actor, reason, workflow_id, run_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
      [
        w.leadId,
        e.seq,
        e.amount ?? null,
        e.currency,
        e.expectedClose ?? null,
        e.productIds,
        e.probability,
        e.at,
        e.actor,
        e.reason ?? null,
        w.workflowId,
        w.runId,
      ],
    );
    // Each changed field is audited with its old and new value, once (keyed by the entry).
    if (rowCount === 1 && e.changes.length > 0) {
      await writeAudit(
        db,
        { step: `${w.workflowId}:deal:${e.seq}`, leadId: w.leadId, actor: e.actor, process: 'acquisition', workflowId: w.workflowId },
        e.changes.map((c) => ({ field: `deal.${c.field}`, oldValue: c.from, newValue: c.to })),
      );
    }
  }
}

/**
 * A won deal's products join what the customer owns, at their list price, in the transaction that
 * records `won`. Keyed by the lead: a retried or repeated write adds nothing twice.
 */
async function addWonProducts(db: PoolClient, w: LeadRecordWrite): Promise<void> {
  if (w.stage !== 'won' || !w.customerId || !w.deal?.productIds.length) return;
  await db.query(
    `INSERT INTO customer_products (customer_id, product_id, price, source, source_id, acquired_at)
     SELECT $1, p.id, p.price, 'deal', $3, $4 FROM products p
     WHERE p.id = ANY($2::text[])
       AND NOT EXISTS (SELECT 1 FROM customer_products cp WHERE cp.customer_id = $1 AND cp.product_id = p.id AND (cp.ended_at IS NULL OR (cp.source = 'deal' AND cp.source_id = $3)))`,
    [w.customerId, w.deal.productIds, w.leadId, w.closedAt ?? new Date().toISOString()],
  );
}

async function appendStageEntries(db: Pool | PoolClient, leadId: string, workflowId: string, runId: string | undefined, entries: StageEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO lead_transitions (lead_id, kind, seq, from_stage, to_stage, at, actor, reason, workflow_id, run_id, probability)
     SELECT $1, 'stage', e.seq, e."from", e."to", e.at, e.actor, e.reason, $2, $3, e.probability
     FROM jsonb_to_recordset($4::jsonb) AS e(seq integer, "from" text, "to" text, at timestamptz, actor text, reason text, probability numeric)
     ON CONFLICT DO NOTHING`,
    [leadId, workflowId, runId ?? null, JSON.stringify(entries)],
  );
}

async function appendOwnerEntries(db: Pool | PoolClient, leadId: string, workflowId: string, runId: string, entries: OwnerEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO lead_transitions (lead_id, kind, seq, from_owner, to_owner, at, actor, reason, workflow_id, run_id)
     SELECT $1, 'owner', e.seq, e."from", e."to", e.at, e.actor, e.reason, $2, $3
     FROM jsonb_to_recordset($4::jsonb) AS e(seq integer, "from" text, "to" text, at timestamptz, actor text, reason text)
     ON CONFLICT DO NOTHING`,
    [leadId, workflowId, runId, JSON.stringify(entries)],
  );
}

/** Applies one write of the funnel: the row (unless a newer write got there first) and its new timeline entries. */
export async function recordLead(pool: Pool, w: LeadRecordWrite): Promise<void> {
  await inTransaction(pool, async (db) => {
    await db.query(
      `UPDATE leads SET
         stage = $3, owner_id = $4, name = $5, phone = $6, company = $7, company_size = $8, interest = $9, locale = $10,
         score = COALESCE($11, score), score_grade = COALESCE($12, score_grade), score_reasons = COALESCE($13, score_reasons), scored_at = COALESCE($14, scored_at),
         qualification_need = $15, qualification_budget = $16, qualification_currency = $17, qualification_timeline = $18,
         proposal_product = $19, proposal_amount = $20, proposal_currency = $21, lost_reason = $22,
         customer_id = COALESCE($23, customer_id), next_due_kind = $24, next_due_at = $25, alerts = $26,
         last_contact_at = $27, last_activity_at = $28, closed_at = $29, record_seq = $2, updated_at = now(),
         deal_amount = COALESCE($30, deal_amount), deal_currency = COALESCE($31, deal_currency), expected_close = COALESCE($32, expected_close),
         product_ids = COALESCE($33, product_ids), probability = COALESCE($34, probability)
       WHERE id = $1 AND record_seq < $2`,
      [
        w.leadId,
        w.seq,
        w.stage,
        w.owner,
        w.profile.name,
        w.profile.phone,
        w.profile.company,
        w.profile.companySize,
        w.profile.interest,
        w.profile.locale,
        w.score?.value ?? null,
        w.score?.grade ?? null,
        w.score ? JSON.stringify(w.score.reasons) : null,
        w.score?.scoredAt ?? null,
        w.qualification?.need ?? null,
        w.qualification?.budget ?? null,
        w.qualification?.currency ?? null,
        w.qualification?.timeline ?? null,
        w.proposal?.product ?? null,
        w.proposal?.amount ?? null,
        w.proposal?.currency ?? null,
        w.lostReason ?? null,
        w.customerId ?? null,
        w.nextDue?.kind ?? null,
        w.nextDue?.at ?? null,
        JSON.stringify(w.alerts),
        w.lastContactAt ?? null,
        w.lastActivityAt,
        w.closedAt ?? null,
        w.deal?.amount ?? null,
        w.deal?.currency ?? null,
        w.deal?.expectedClose ?? null,
        w.deal?.productIds ?? null,
        w.probability ?? null,
      ],
    );
    await appendStageEntries(db, w.leadId, w.workflowId, w.runId, w.stages);
    await appendOwnerEntries(db, w.leadId, w.workflowId, w.runId, w.owners);
    await appendDealEntries(db, w);
    await addWonProducts(db, w);
    await recordStageEvents(db, w);
  });
}

/** The outbound events of the write's stage entries: each move, and a won or lost close with its facts; keyed by the entry. */
async function recordStageEvents(db: PoolClient, w: LeadRecordWrite): Promise<void> {
  if (w.stages.length === 0) return;
  const { rows } = await db.query<{ customer_id: string | null; deal_amount: string | null; deal_currency: string | null; product_ids: string[] | null }>(
    'SELECT customer_id, deal_amount, deal_currency, product_ids FROM leads WHERE id = $1',
    [w.leadId],
  );
  const lead = rows[0];
  if (!lead) return;
  const about = { customerId: lead.customer_id, subject: `lead:${w.leadId}` };
  for (const e of w.stages) {
    const key = `lead:${w.leadId}:stage:${e.seq}`;
    const at = new Date(e.at).toISOString();
    await recordEvent(db, {
      ...about,
      type: 'lead.stage_changed',
      data: { leadId: w.leadId, customerId: lead.customer_id, from: e.from ?? null, to: e.to, at, actor: e.actor },
      idempotencyKey: `lead.stage_changed:${key}`,
    });
    if (e.to === 'won') {
      await recordEvent(db, {
        ...about,
        type: 'lead.won',
        data: {
          leadId: w.leadId,
          customerId: lead.customer_id,
          amount: lead.deal_amount === null ? null : Number(lead.deal_amount),
          currency: lead.deal_currency,
          productIds: lead.product_ids ?? [],
          at,
        },
        idempotencyKey: `lead.won:${key}`,
      });
    } else if (e.to === 'lost') {
      await recordEvent(db, {
        ...about,
        type: 'lead.lost',
        data: { leadId: w.leadId, customerId: lead.customer_id, from: e.from ?? null, at },
        idempotencyKey: `lead.lost:${key}`,
      });
    }
  }
}

const PROFILE_COLUMNS: Record<keyof LeadProfile, string> = {
  name: 'name',
  phone: 'phone',
  company: 'company',
  companySize: 'company_size',
  interest: 'interest',
  locale: 'locale',
};

/**
 * Applies a correction to the row and audits each changed field with its old and new value, in
 * one transaction; `key` (the workflow id and the correction's number) makes a retry a no-op.
 * Answers with the corrected row.
 */
export async function correctLead(
  pool: Pool,
  input: { leadId: string; workflowId: string; actor: string; key: string; changes: LeadFieldChange[] },
  rescore: (db: PoolClient, row: LeadRow) => Promise<LeadScore>,
): Promise<LeadScore> {
  return inTransaction(pool, async (db) => {
    const fresh = await writeAudit(
      db,
      { step: input.key, leadId: input.leadId, actor: input.actor, process: 'acquisition', workflowId: input.workflowId },
      input.changes.map((c) => ({ field: c.field, oldValue: c.from, newValue: c.to })),
    );
    if (fresh > 0) {
      const sets = input.changes.map((c, i) => `${PROFILE_COLUMNS[c.field]} = $${i + 2}`);
      await db.query(`UPDATE leads SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, [input.leadId, ...input.changes.map((c) => c.to)]);
    }
    const row = (await readLeadRow(db, input.leadId))!;
    if (fresh === 0) return storedScore(row);
    const score = await rescore(db, row);
    await updateLeadScore(db, input.leadId, score);
    return score;
  });
}

// Reads -----------------------------------------------------------------------------------------

export interface LeadOwnerChange {
  from: string;
  to: string;
  at: string;
  actor: string;
  reason?: string;
}

/** The deal of a lead or opportunity as reads show it: what it is worth and what it adds to the forecast. */
export interface DealView {
  amount: number | null;
  currency: string | null;
  expectedClose: string | null;
  productIds: string[];
  /** The probability of the current stage, as the funnel recorded it. */
  probability: number | null;
  /** amount × probability: what the deal adds to the forecast. */
  weightedAmount: number | null;
}

type DealColumns = Pick<LeadRow, 'deal_amount' | 'deal_currency' | 'product_ids' | 'probability'> & { expected_close_date: string | null };
const DEAL_SELECT = 'expected_close::text AS expected_close_date';

function dealView(r: DealColumns): DealView {
  const amount = r.deal_amount === null ? null : Number(r.deal_amount);
  const probability = r.probability === null ? null : Number(r.probability);
  return {
    amount,
    currency: r.deal_currency,
    expectedClose: r.expected_close_date,
    productIds: r.product_ids,
    probability,
    weightedAmount: amount !== null && probability !== null ? weightedAmount(amount, probability) : null,
  };
}

export interface DealChangeEntry {
  amount: number | null;
  currency: string | null;
  expectedClose: string | null;
  productIds: string[];
  probability: number | null;
  at: string;
  actor: string;
  reason?: string;
  workflowId: string;
}

/** A lead as the API shows it: the record and its timeline. */
export interface LeadRecord extends DealView {
  leadId: string;
  kind: LeadKind;
  workflowId: string;
  stage: LeadStage;
  closed: boolean;
  name: string;
  email: string;
  phone: string | null;
  company: string | null;
  companySize: CompanySize | null;
  source: LeadSource;
  interest: string | null;
  locale: string;
  owner: string;
  score?: LeadScore;
  qualification?: LeadState['qualification'];
  proposal?: LeadState['proposal'];
  lostReason?: string;
  customerId?: string;
  onboardingWorkflowId?: string;
  nextDue?: LeadState['nextDue'];
  alerts: LeadAlert[];
  interactions: number;
  lastContactAt?: string;
  lastActivityAt?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  closedAt?: string;
  transitions: Array<LeadTransition & { workflowId: string; runId: string | null }>;
  reassignments: LeadOwnerChange[];
  corrections: LeadCorrectionEntry[];
  dealChanges: DealChangeEntry[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : undefined);

export async function readLead(db: Pool | PoolClient, leadId: string): Promise<LeadRecord | undefined> {
  const { rows } = await db.query<LeadRow & DealColumns & { interactions: string; onboarding_workflow_id: string | null }>(
    `SELECT l.*, l.${DEAL_SELECT}, (SELECT count(*) FROM contact_events e WHERE e.lead_id = l.id::text) AS interactions, o.workflow_id AS onboarding_workflow_id
     FROM leads l LEFT JOIN customer_onboardings o ON o.customer_id = l.customer_id AND o.lead_id = l.id
     WHERE l.id = $1`,
    [leadId],
  );
  const r = rows[0];
  if (!r) return undefined;
  const [timeline, corrections, deals] = await Promise.all([
    db.query<{
      kind: 'stage' | 'owner';
      from_stage: LeadStage | null;
      to_stage: LeadStage | null;
      from_owner: string | null;
      to_owner: string | null;
      at: Date;
      actor: string;
      reason: string | null;
      workflow_id: string;
      run_id: string | null;
    }>(
      'SELECT kind, from_stage, to_stage, from_owner, to_owner, at, actor, reason, workflow_id, run_id FROM lead_transitions WHERE lead_id = $1 ORDER BY kind, seq',
      [leadId],
    ),
    readLeadCorrections(db, leadId),
    db.query<{
      amount: string | null;
      currency: string | null;
      expected_close: string | null;
      product_ids: string[];
      probability: string | null;
      at: Date;
      actor: string;
      reason: string | null;
      workflow_id: string;
    }>(
      `SELECT amount, currency, expected_close::text AS expected_close, product_ids, probability, at, actor, reason, workflow_id
       FROM lead_deal_changes WHERE lead_id = $1 ORDER BY seq`,
      [leadId],
    ),
  ]);
  const reason = (t: { reason: string | null }) => (t.reason !== null ? { reason: t.reason } : {});
  return {
    leadId: r.id,
    kind: r.kind,
    workflowId: r.workflow_id,
    stage: r.stage,
    closed: r.stage === 'won' || r.stage === 'lost',
    name: r.name,
    email: r.email,
    phone: r.phone,
    company: r.company,
    companySize: r.company_size,
    source: r.source,
    interest: r.interest,
    locale: r.locale,
    owner: r.owner_id,
    ...(r.score !== null ? { score: storedScore(r) } : {}),
    ...(r.qualification_need !== null
      ? {
          qualification: {
            need: r.qualification_need,
            budget: Number(r.qualification_budget),
            currency: r.qualification_currency ?? 'EUR',
            timeline: r.qualification_timeline ?? '',
          },
        }
      : {}),
    ...(r.proposal_product !== null
      ? { proposal: { product: r.proposal_product, amount: Number(r.proposal_amount), currency: r.proposal_currency ?? 'EUR' } }
      : {}),
    ...(r.lost_reason !== null ? { lostReason: r.lost_reason } : {}),
    ...(r.customer_id !== null ? { customerId: r.customer_id } : {}),
    ...(r.onboarding_workflow_id !== null ? { onboardingWorkflowId: r.onboarding_workflow_id } : {}),
    ...(r.next_due_kind !== null && r.next_due_at !== null ? { nextDue: { kind: r.next_due_kind, at: r.next_due_at.toISOString() } } : {}),
    alerts: r.alerts,
    interactions: Number(r.interactions),
    ...(r.last_contact_at ? { lastContactAt: iso(r.last_contact_at) } : {}),
    ...(r.last_activity_at ? { lastActivityAt: iso(r.last_activity_at) } : {}),
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    ...(r.closed_at ? { closedAt: iso(r.closed_at) } : {}),
    transitions: timeline.rows
      .filter((t) => t.kind === 'stage')
      .map((t) => ({
        from: t.from_stage,
        to: t.to_stage!,
        at: t.at.toISOString(),
        actor: t.actor,
        ...reason(t),
        workflowId: t.workflow_id,
        runId: t.run_id,
      })),
    reassignments: timeline.rows
      .filter((t) => t.kind === 'owner')
      .map((t) => ({ from: t.from_owner!, to: t.to_owner!, at: t.at.toISOString(), actor: t.actor, ...reason(t) })),
    // Deal changes are audited too (`deal.<field>`); they read as the deal's timeline, not as corrections.
    corrections: corrections.filter((c) => !c.field.startsWith('deal.')),
    ...dealView(r),
    dealChanges: deals.rows.map((d) => ({
      amount: d.amount === null ? null : Number(d.amount),
      currency: d.currency,
      expectedClose: d.expected_close,
      productIds: d.product_ids,
      probability: d.probability === null ? null : Number(d.probability),
      at: d.at.toISOString(),
      actor: d.actor,
      ...reason(d),
      workflowId: d.workflow_id,
    })),
  };
}

export interface LeadFilter {
  kind?: LeadKind;
  /** The customer an opportunity sells to, or a won lead became. */
  customerId?: string;
  stage?: LeadStage;
  owner?: string;
  source?: LeadSource;
  scoreMin?: number;
  scoreMax?: number;
  createdFrom?: string;
  createdTo?: string;
  closedFrom?: string;
  closedTo?: string;
  /** Free text: contained in the name, e-mail or company, in any case. */
  q?: string;
  sort: 'created' | '-created';
}

export interface LeadListItem extends DealView {
  leadId: string;
  kind: LeadKind;
  workflowId: string;
  name: string;
  email: string;
  company: string | null;
  stage: LeadStage;
  owner: string;
  source: LeadSource;
  score: number | null;
  customerId: string | null;
  createdAt: string;
  closedAt: string | null;
}

/** A page of leads matching `filter`, after `position`, newest (or oldest) first. */
export async function listLeads(
  db: Pool | PoolClient,
  filter: LeadFilter,
  position: Position | undefined,
  limit: number,
): Promise<{ items: LeadListItem[]; next?: Position }> {
  const order: SortOrder = { expression: 'created_at', cast: 'timestamptz', direction: filter.sort === 'created' ? 'asc' : 'desc' };
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.kind) add((p) => `kind = ${p}`, filter.kind);
  if (filter.customerId) add((p) => `customer_id = ${p}::uuid`, filter.customerId);
  if (filter.stage) add((p) => `stage = ${p}`, filter.stage);
  if (filter.owner) add((p) => `owner_id = ${p}`, filter.owner);
  if (filter.source) add((p) => `source = ${p}`, filter.source);
  if (filter.scoreMin !== undefined) add((p) => `score >= ${p}`, filter.scoreMin);
  if (filter.scoreMax !== undefined) add((p) => `score <= ${p}`, filter.scoreMax);
  if (filter.createdFrom) add((p) => `created_at >= ${p}::timestamptz`, filter.createdFrom);
  if (filter.createdTo) add((p) => `created_at < ${p}::timestamptz`, filter.createdTo);
  if (filter.closedFrom) add((p) => `closed_at >= ${p}::timestamptz`, filter.closedFrom);
  if (filter.closedTo) add((p) => `closed_at < ${p}::timestamptz`, filter.closedTo);
  if (filter.q) add((p) => `lower(name || ' ' || email || ' ' || COALESCE(company, '')) LIKE ${p}`, containing(filter.q));
  if (position) where.push(after(order, position, params));
  params.push(limit + 1);
  const { rows } = await db.query<LeadRow & DealColumns & { sort_value: string }>(
    `SELECT id, kind, workflow_id, name, email, company, stage, owner_id, source, score, customer_id, created_at, closed_at, created_at::text AS sort_value,
            deal_amount, deal_currency, product_ids, probability, ${DEAL_SELECT}
     FROM leads ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${orderBy(order)} LIMIT $${params.length}`,
    params,
  );
  const page = pageOf(rows, limit);
  return {
    items: page.rows.map((r) => ({
      leadId: r.id,
      kind: r.kind,
      workflowId: r.workflow_id,
      name: r.name,
      email: r.email,
      company: r.company,
      stage: r.stage,
      owner: r.owner_id,
      source: r.source,
      score: r.score,
      customerId: r.customer_id,
      createdAt: r.created_at.toISOString(),
      closedAt: r.closed_at ? r.closed_at.toISOString() : null,
      ...dealView(r),
    })),
    ...(page.next ? { next: page.next } : {}),
  };
}
