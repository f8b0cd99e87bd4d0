/**
 * Side effects of the lead funnel: intake (dedupe, score, assign), the lead's record in `leads`
 * and `lead_transitions`, corrections with their audit, owner reminders through the outbox, and
 * conversion into a customer through registration's own path. Every write is keyed by the lead
 * id or the workflow id and a step, so a retried activity finds its earlier write instead of
 * repeating it.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { fileLeadInteractionsUnder } from '../src/db/repositories/contact-events.js';
import { findCustomerId, readCustomerRow } from '../src/db/repositories/customers.js';
import { queueMessage } from '../src/db/repositories/outbox.js';
import { activeTeamMembers, addressOf, readTeam, readTeamByName, readUser, shownAs } from '../src/db/repositories/users.js';
import {
  correctLead,
  findOpenLeadId,
  insertLead,
  linkLeadToCustomer,
  mirrorLeadStage,
  readLeadRow,
  recordLead,
  storedScore,
  updateLeadScore,
  type LeadRecordWrite,
  type LeadRow,
} from '../src/db/repositories/leads.js';
import { normaliseEmail } from '../src/domain/contact-data.js';
import type { RegistrationResult } from '../src/domain/customers.js';
import {
  scoreLead,
  type AcquisitionPolicy,
  type Engagement,
  stageProbability,
  type FunnelIntake,
  type LeadFieldChange,
  type StageProbabilities,
  type LeadScore,
  type LeadStage,
  type LeadTransition,
} from '../src/domain/acquisition.js';
import type { TemplateName } from '../src/domain/notifications.js';
import { createCustomer } from './customers.js';

export interface AcquisitionSettings {
  /** The team (by name) whose active agents own leads in turn, unless an intake names a team or an owner. */
  leadTeam: string;
  /** The team (by name) whose active agents become account managers of customers without a lead owner. */
  accountManagerTeam: string;
  escalationEmail: string;
  contactSlaMs: number;
  idleToNurtureMs: number;
  nurtureReactivationMs: number;
  firstContactSlaMs: number;
  checkInAfterMs: number;
  /** STAGE_PROBABILITIES; the defaults when not handed in. */
  stageProbabilities?: StageProbabilities;
}

export interface AcquisitionActivityDeps {
  pool: Pool;
  /** From the config module, handed down by the entry point. */
  acquisition: AcquisitionSettings;
}

export type IntakeResult =
  | {
      outcome: 'accepted';
      /** Whom the result is about (its score quotes the intake): the payload codec seals it with the lead's key. */
      leadId?: string;
      customerId?: string;
      owner: string;
      teamId?: string;
      score: LeadScore;
      policy: AcquisitionPolicy;
    }
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

/**
 * The next active agent of a team, round-robin (a cursor per purpose and team): deactivated users
 * and users without the agent role are skipped. A team without an active agent is retried, so
 * work waits until an admin gives the team one, instead of going to nobody.
 */
export async function nextTeamAgent(db: PoolClient, purpose: string, team: { id?: string; name: string }): Promise<{ userId: string; teamId: string }> {
  const found = team.id ? await readTeam(db, team.id) : await readTeamByName(db, team.name);
  if (!found) throw ApplicationFailure.retryable(`there is no team ${team.id ?? team.name} to assign ${purpose} from`, 'NoTeam');
  const members = await activeTeamMembers(db, found.id, ['agent']);
  if (members.length === 0) throw ApplicationFailure.retryable(`team ${found.name} has no active agent to take on ${purpose}`, 'NoActiveAgent');
  const userId = await nextInRotation(
    db,
    `${purpose}:${found.id}`,
    members.map((m) => m.id),
  );
  return { userId, teamId: found.id };
}

/** The team of a lead given to an owner: the one the intake named, else the owner's own (none for an owner who is no user: leads from before users). */
async function teamOf(db: PoolClient, ownerId: string, teamId?: string): Promise<{ teamId?: string }> {
  if (teamId) return { teamId };
  const owner = /^[0-9a-f-]{36}$/i.test(ownerId) ? await readUser(db, ownerId) : undefined;
  return owner?.teamId ? { teamId: owner.teamId } : {};
}

async function engagementOf(db: Pool | PoolClient, leadId: string): Promise<Engagement> {
  const { rows } = await db.query<{ inbound: string; meetings: string }>(
    `SELECT count(*) FILTER (WHERE direction = 'inbound') AS inbound, count(*) FILTER (WHERE channel = 'meeting') AS meetings
     FROM contact_events WHERE lead_id = $1`,
    [leadId],
  );
  return { inbound: Number(rows[0]!.inbound), meetings: Number(rows[0]!.meetings) };
}

async function readLead(db: Pool | PoolClient, leadId: string): Promise<LeadRow> {
  const row = await readLeadRow(db, leadId);
  if (!row) throw ApplicationFailure.nonRetryable(`lead ${leadId} has no record`, 'LeadNotFound');
  return row;
}

/** The score of a lead's current data and engagement. */
async function scoreOf(db: Pool | PoolClient, row: LeadRow): Promise<LeadScore> {
  return scoreLead(
    {
      source: row.source,
      companySize: row.company_size ?? undefined,
      company: row.company ?? undefined,
      interest: row.interest ?? undefined,
      phone: row.phone ?? undefined,
    },
    await engagementOf(db, row.id),
    new Date().toISOString(),
  );
}

export function createAcquisitionActivities({ pool, acquisition: settings }: AcquisitionActivityDeps) {
  const policy: AcquisitionPolicy = {
    contactSlaMs: settings.contactSlaMs,
    idleToNurtureMs: settings.idleToNurtureMs,
    nurtureReactivationMs: settings.nurtureReactivationMs,
    escalationEmail: settings.escalationEmail,
    ...(settings.stageProbabilities ? { stageProbabilities: settings.stageProbabilities } : {}),
  };

  return {
    /**
     * Records the lead with its intake entry unless its e-mail belongs to an open lead or a
     * customer; scores and assigns it.
     */
    async intakeLead(input: {
      leadId: string;
      intake: FunnelIntake;
      actor: string;
      workflowId: string;
      runId?: string;
      transition?: LeadTransition;
    }): Promise<IntakeResult> {
      const { leadId, intake, actor, workflowId } = input;
      const emailNormalized = normaliseEmail(intake.email);
      return inTransaction(pool, async (db) => {
        const customerId = await findCustomerId(db, emailNormalized);
        const own = await readLeadRow(db, leadId);
        if (own)
          return { outcome: 'accepted', leadId, owner: own.owner_id, ...(await teamOf(db, own.owner_id, intake.teamId)), score: storedScore(own), policy };
        if (customerId) return { outcome: 'duplicate', existingCustomerId: customerId };

        const { owner, teamId } = intake.ownerId
          ? { owner: intake.ownerId, ...(await teamOf(db, intake.ownerId, intake.teamId)) }
          : await nextTeamAgent(db, 'lead-owners', { id: intake.teamId, name: settings.leadTeam }).then((a) => ({ owner: a.userId, teamId: a.teamId }));
        const score = scoreLead(intake, await engagementOf(db, leadId), new Date().toISOString());
        // Funnels started before the record kept its timeline do not hand in their first entry.
        const first = input.transition ?? {
          from: null,
          to: 'new',
          at: new Date().toISOString(),
          actor,
          reason: `intake via ${intake.source}`,
        };
        const transition = { ...first, probability: stageProbability(first.to, policy.stageProbabilities) };
        if (await insertLead(db, { leadId, workflowId, runId: input.runId, intake, emailNormalized, owner, score, actor, transition })) {
          return { outcome: 'accepted', leadId, owner, ...(teamId ? { teamId } : {}), score, policy };
        }
        const open = await findOpenLeadId(db, emailNormalized);
        if (!open) throw ApplicationFailure.retryable('lead insert conflicted but no open lead was found', 'IntakeRace');
        return { outcome: 'duplicate', existingLeadId: open };
      });
    },

    /**
     * Records an opportunity: the funnel for an existing customer, linked to them from the start
     * and never deduplicated by e-mail (a customer may have several). The customer must exist and
     * not be erased; scored and assigned as a lead is.
     */
    async openOpportunity(input: {
      leadId: string;
      customerId: string;
      intake: FunnelIntake;
      actor: string;
      workflowId: string;
      runId: string;
      transition: LeadTransition;
    }): Promise<IntakeResult> {
      const { leadId, intake } = input;
      return inTransaction(pool, async (db) => {
        const own = await readLeadRow(db, leadId);
        if (own)
          return {
            outcome: 'accepted',
            leadId,
            customerId: input.customerId,
            owner: own.owner_id,
            ...(await teamOf(db, own.owner_id, intake.teamId)),
            score: storedScore(own),
            policy,
          };
        const customer = await readCustomerRow(db, input.customerId);
        if (!customer) throw ApplicationFailure.nonRetryable(`customer ${input.customerId} does not exist`, 'CustomerNotFound');
        if (customer.status === 'erased') throw ApplicationFailure.nonRetryable(`customer ${input.customerId} is erased`, 'CustomerErased');
        const { owner, teamId } = intake.ownerId
          ? { owner: intake.ownerId, ...(await teamOf(db, intake.ownerId, intake.teamId)) }
          : await nextTeamAgent(db, 'lead-owners', { id: intake.teamId, name: settings.leadTeam }).then((a) => ({ owner: a.userId, teamId: a.teamId }));
        const score = scoreLead(intake, { inbound: 0, meetings: 0 }, new Date().toISOString());
        const transition = { ...input.transition, probability: stageProbability(input.transition.to, policy.stageProbabilities) };
        await insertLead(db, { ...input, transition, emailNormalized: customer.email_normalized, owner, score });
        return { outcome: 'accepted', leadId, customerId: input.customerId, owner, ...(teamId ? { teamId } : {}), score, policy };
      });
    },

    /** A fresh score at re-activation: engagement recorded while nurtured now counts. */
    async rescoreLead(leadId: string): Promise<LeadScore> {
      const score = await scoreOf(pool, await readLead(pool, leadId));
      await updateLeadScore(pool, leadId, score);
      return score;
    },

    /** The stage mirror of funnels recorded before `recordLead` existed; `seq` makes a stale write a no-op. */
    async recordLeadStage(input: { leadId: string; seq: number; stage: LeadStage; owner?: string; lostReason?: string; customerId?: string }): Promise<void> {
      await mirrorLeadStage(pool, input);
    },

    /** Writes what the funnel knows after a change, and the timeline entries since its last write. */
    async recordLead(write: LeadRecordWrite): Promise<void> {
      await recordLead(pool, write);
    },

    /** Corrects the person's data, audits old and new values, and answers with the score of the corrected lead. */
    async correctLead(input: { leadId: string; workflowId: string; actor: string; correction: number; changes: LeadFieldChange[] }): Promise<LeadScore> {
      return correctLead(pool, { ...input, key: `${input.workflowId}:correction:${input.correction}` }, scoreOf);
    },

    async queueLeadMessage(input: {
      leadId: string;
      recipient: string;
      template: TemplateName;
      idempotencyKey: string;
      payload: Record<string, unknown>;
    }): Promise<string> {
      // The owner is a user: the message goes to their e-mail and names them.
      return queueMessage(pool, {
        ...input,
        recipient: await addressOf(pool, input.recipient),
        payload: { ...input.payload, owner: await shownAs(pool, input.payload.owner), leadId: input.leadId },
      });
    },

    /**
     * Turns a won lead into a customer through registration's path and links them, in one
     * transaction. A retry finds the customer it made (same id) and creates nothing new.
     */
    async convertLeadToCustomer(input: { leadId: string; customerId: string; workflowId: string; actor: string }): Promise<RegistrationResult> {
      return inTransaction(pool, async (db) => {
        const lead = await readLead(db, input.leadId);
        const result = await createCustomer(
          db,
          {
            customerId: input.customerId,
            actor: input.actor,
            workflowId: input.workflowId,
            request: { name: lead.name, email: lead.email, phone: lead.phone ?? undefined, locale: lead.locale },
          },
          { leadId: input.leadId },
        );
        await linkLeadToCustomer(db, input.leadId, result.customerId);
        // The sales conversations become part of the customer's contact history.
        await fileLeadInteractionsUnder(db, input.leadId, result.customerId);
        return result;
      });
    },
  };
}
