/**
 * Side effects of the lead funnel: intake (dedupe, score, assign), the stage mirror in `leads`,
 * owner reminders through the outbox, and conversion into a customer through registration's own
 * idempotent path. Every write is keyed by the lead id or the workflow id and a step name, so a
 * retried activity finds its earlier write instead of repeating it.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { loadConfig } from '../src/config.js';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { normaliseEmail } from '../src/domain/contact-data.js';
import type { RegistrationResult } from '../src/domain/customers.js';
import {
  scoreLead,
  type AcquisitionPolicy,
  type CompanySize,
  type Engagement,
  type LeadIntake,
  type LeadScore,
  type LeadSource,
  type LeadStage,
} from '../src/domain/acquisition.js';
import type { TemplateName } from '../src/domain/notifications.js';
import { createCustomerActivities } from './customers.js';

export interface AcquisitionSettings {
  owners: string[];
  escalationEmail: string;
  contactSlaMs: number;
  idleToNurtureMs: number;
  nurtureReactivationMs: number;
  firstContactSlaMs: number;
  checkInAfterMs: number;
}

export interface AcquisitionActivityDeps {
  pool: Pool;
  /** From the config module unless a test hands in its own. */
  acquisition?: AcquisitionSettings;
}

export type IntakeResult =
  | { outcome: 'accepted'; owner: string; score: LeadScore; policy: AcquisitionPolicy }
  | { outcome: 'duplicate'; existingLeadId?: string; existingCustomerId?: string };

/** Next owner of a round-robin rotation; the cursor row serialises concurrent intakes. */
export async function nextInRotation(db: PoolClient, rotation: string, members: string[]): Promise<string> {
  const { rows } = await db.query<{ turn: string }>(
    `INSERT INTO owner_rotation (rotation, next_turn) VALUES ($1, 1)
     ON CONFLICT (rotation) DO UPDATE SET next_turn = owner_rotation.next_turn + 1
     RETURNING next_turn - 1 AS turn`,
    [rotation],
  );
  return members[Number(rows[0]!.turn) % members.length]!;
}

export interface QueuedMessage {
  customerId?: string | null;
  recipient: string;
  template: TemplateName;
  payload: Record<string, unknown>;
  idempotencyKey: string;
}

/** Queues a message in the outbox once per idempotency key; returns its id either way. */
export async function queueMessage(db: Pool | PoolClient, m: QueuedMessage): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO notification_outbox (customer_id, channel, recipient, template, payload, idempotency_key)
     VALUES ($1, 'email', $2, $3, $4, $5)
     ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
     RETURNING id`,
    [m.customerId ?? null, m.recipient, m.template, JSON.stringify(m.payload), m.idempotencyKey],
  );
  return rows[0]!.id;
}

async function engagementOf(db: Pool | PoolClient, leadId: string): Promise<Engagement> {
  const { rows } = await db.query<{ inbound: string; meetings: string }>(
    `SELECT count(*) FILTER (WHERE direction = 'inbound') AS inbound, count(*) FILTER (WHERE channel = 'meeting') AS meetings
     FROM contact_events WHERE lead_id = $1`,
    [leadId],
  );
  return { inbound: Number(rows[0]!.inbound), meetings: Number(rows[0]!.meetings) };
}

interface LeadRow {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  company: string | null;
  company_size: CompanySize | null;
  source: LeadSource;
  interest: string | null;
  locale: string;
  owner_id: string;
  score: number | null;
  score_grade: LeadScore['grade'] | null;
  score_reasons: LeadScore['reasons'];
  scored_at: Date | null;
  customer_id: string | null;
}

function storedScore(row: LeadRow): LeadScore {
  return { value: row.score ?? 0, grade: row.score_grade ?? 'C', reasons: row.score_reasons, scoredAt: (row.scored_at ?? new Date()).toISOString() };
}

async function readLead(db: Pool | PoolClient, leadId: string): Promise<LeadRow> {
  const { rows } = await db.query<LeadRow>('SELECT * FROM leads WHERE id = $1', [leadId]);
  if (!rows[0]) throw ApplicationFailure.nonRetryable(`lead ${leadId} has no record`, 'LeadNotFound');
  return rows[0];
}

export function createAcquisitionActivities({ pool, acquisition }: AcquisitionActivityDeps) {
  const settings = acquisition ?? loadConfig().acquisition;
  const policy: AcquisitionPolicy = {
    contactSlaMs: settings.contactSlaMs,
    idleToNurtureMs: settings.idleToNurtureMs,
    nurtureReactivationMs: settings.nurtureReactivationMs,
    escalationEmail: settings.escalationEmail,
  };
  const { registerCustomerRecord } = createCustomerActivities({ pool });

  return {
    /** Records the lead unless its e-mail belongs to an open lead or a customer; scores and assigns it. */
    async intakeLead(input: { leadId: string; intake: LeadIntake; actor: string; workflowId: string }): Promise<IntakeResult> {
      const { leadId, intake, actor, workflowId } = input;
      const emailNormalized = normaliseEmail(intake.email);
      return inTransaction(pool, async (db) => {
        const customer = await db.query<{ id: string }>('SELECT id FROM customers WHERE email_normalized = $1', [emailNormalized]);
        const own = await db.query<LeadRow>('SELECT * FROM leads WHERE id = $1', [leadId]);
        if (own.rows[0]) return { outcome: 'accepted', owner: own.rows[0].owner_id, score: storedScore(own.rows[0]), policy };
        if (customer.rows[0]) return { outcome: 'duplicate', existingCustomerId: customer.rows[0].id };

        const owner = intake.ownerId ?? (await nextInRotation(db, 'lead-owners', settings.owners));
        const score = scoreLead(intake, await engagementOf(db, leadId), new Date().toISOString());
        const inserted = await db.query(
          `INSERT INTO leads (id, workflow_id, name, email, email_normalized, phone, company, company_size, source, interest, locale,
                              owner_id, score, score_grade, score_reasons, scored_at, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           ON CONFLICT DO NOTHING`,
          [
            leadId, workflowId, intake.name, intake.email.trim(), emailNormalized, intake.phone ?? null, intake.company ?? null,
            intake.companySize ?? null, intake.source, intake.interest ?? null, intake.locale, owner,
            score.value, score.grade, JSON.stringify(score.reasons), score.scoredAt, actor,
          ],
        );
        if (inserted.rowCount === 1) return { outcome: 'accepted', owner, score, policy };
        const open = await db.query<{ id: string }>(`SELECT id FROM leads WHERE email_normalized = $1 AND stage NOT IN ('won', 'lost')`, [emailNormalized]);
        if (!open.rows[0]) throw ApplicationFailure.retryable('lead insert conflicted but no open lead was found', 'IntakeRace');
        return { outcome: 'duplicate', existingLeadId: open.rows[0].id };
      });
    },

    /** A fresh score at re-activation: engagement recorded while nurtured now counts. */
    async rescoreLead(leadId: string): Promise<LeadScore> {
      const row = await readLead(pool, leadId);
      const score = scoreLead(
        { source: row.source, companySize: row.company_size ?? undefined, company: row.company ?? undefined, interest: row.interest ?? undefined, phone: row.phone ?? undefined },
        await engagementOf(pool, leadId),
        new Date().toISOString(),
      );
      await pool.query('UPDATE leads SET score = $2, score_grade = $3, score_reasons = $4, scored_at = $5, updated_at = now() WHERE id = $1', [
        leadId, score.value, score.grade, JSON.stringify(score.reasons), score.scoredAt,
      ]);
      return score;
    },

    /** Mirrors the funnel's stage and owner; `seq` (the funnel's version) makes a stale write a no-op. */
    async recordLeadStage(input: { leadId: string; seq: number; stage: LeadStage; owner?: string; lostReason?: string; customerId?: string }): Promise<void> {
      await pool.query(
        `UPDATE leads SET stage = $3, stage_seq = $2, owner_id = COALESCE($6, owner_id), lost_reason = COALESCE($4, lost_reason), customer_id = COALESCE($5, customer_id),
                closed_at = CASE WHEN $3 IN ('won', 'lost') THEN COALESCE(closed_at, now()) ELSE NULL END, updated_at = now()
         WHERE id = $1 AND stage_seq < $2`,
        [input.leadId, input.seq, input.stage, input.lostReason ?? null, input.customerId ?? null, input.owner ?? null],
      );
    },

    async queueLeadMessage(input: { leadId: string; recipient: string; template: TemplateName; idempotencyKey: string; payload: Record<string, unknown> }): Promise<string> {
      return queueMessage(pool, { ...input, payload: { ...input.payload, leadId: input.leadId } });
    },

    /**
     * Turns a won lead into a customer through registration's idempotent path, then links them.
     * A retry after the insert finds the customer it made (same id) and creates nothing new.
     */
    async convertLeadToCustomer(input: { leadId: string; customerId: string; workflowId: string; actor: string }): Promise<RegistrationResult> {
      const lead = await readLead(pool, input.leadId);
      const result = await registerCustomerRecord({
        customerId: input.customerId,
        actor: input.actor,
        workflowId: input.workflowId,
        request: { name: lead.name, email: lead.email, phone: lead.phone ?? undefined, locale: lead.locale },
      });
      await inTransaction(pool, async (db) => {
        await db.query('UPDATE leads SET customer_id = $2, updated_at = now() WHERE id = $1', [input.leadId, result.customerId]);
        // The sales conversations become part of the customer's contact history.
        await db.query('UPDATE contact_events SET customer_id = $2 WHERE lead_id = $1 AND customer_id IS NULL', [input.leadId, result.customerId]);
      });
      return result;
    },
  };
}
