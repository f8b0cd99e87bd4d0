/**
 * Side effects of contact management: one contact_events row per recorded interaction, keyed by
 * the recording workflow's id, so a retry or a repeated request finds the row it wrote. A lead
 * that became a customer files its interactions under the customer too.
 */
import type { Pool } from '../src/db/pool.js';
import type { Interaction, RecordInteractionInput } from '../src/domain/contacts.js';

export interface ContactActivityDeps {
  pool: Pool;
}

export interface ContactEventRow {
  id: string;
  lead_id: string | null;
  customer_id: string | null;
  channel: string;
  direction: string;
  kind: string;
  summary: string;
  occurred_at: Date;
  recorded_by: string;
  process: string | null;
  workflow_id: string | null;
}

export function toInteraction(r: ContactEventRow): Interaction {
  return {
    id: r.id,
    leadId: r.lead_id,
    customerId: r.customer_id,
    channel: r.channel,
    direction: r.direction,
    kind: r.kind,
    summary: r.summary,
    occurredAt: r.occurred_at.toISOString(),
    recordedBy: r.recorded_by,
    process: r.process,
    workflowId: r.workflow_id,
  };
}

export function createContactActivities({ pool }: ContactActivityDeps) {
  return {
    async recordContactEvent(input: RecordInteractionInput & { workflowId: string }): Promise<Interaction> {
      const { subject, interaction, actor, workflowId } = input;
      const { rows } = await pool.query<ContactEventRow>(
        `INSERT INTO contact_events (customer_id, lead_id, channel, direction, kind, summary, occurred_at, recorded_by, process, workflow_id, idempotency_key)
         VALUES (COALESCE($1::uuid, (SELECT customer_id FROM leads WHERE id = $2::uuid)), $2, $3, $4, 'interaction', $5, COALESCE($6::timestamptz, now()), $7, 'contacts', $8, $8)
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
         RETURNING id, lead_id, customer_id, channel, direction, kind, summary, occurred_at, recorded_by, process, workflow_id`,
        [
          subject.kind === 'customer' ? subject.customerId : null,
          subject.kind === 'lead' ? subject.leadId : null,
          interaction.channel,
          interaction.direction,
          interaction.summary,
          interaction.occurredAt ?? null,
          actor,
          workflowId,
        ],
      );
      return toInteraction(rows[0]!);
    },
  };
}
