/**
 * Side effects of consent: one grant or withdrawal appended with its proof and audit entry, in one
 * transaction with what it implies: an unsubscribe link is used up, and the customer's running
 * enrollments log the withdrawal of marketing consent (their workflows are told next).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { appendConsent, useUnsubscribeToken } from '../src/db/repositories/consents.js';
import { appendEnrollmentEvent } from '../src/db/repositories/campaigns.js';
import type { ConsentChangeInput, ConsentChangeResult } from '../src/domain/consent.js';

export interface ConsentActivityDeps {
  pool: Pool;
}

export function createConsentActivities({ pool }: ConsentActivityDeps) {
  return {
    async recordConsentChange(input: ConsentChangeInput & { workflowId: string; now: string }): Promise<ConsentChangeResult & { enrollments: string[] }> {
      return inTransaction(pool, async (db) => {
        const customer = await db.query<{ status: string }>('SELECT status FROM customers WHERE id = $1 FOR UPDATE', [input.customerId]);
        if (!customer.rows[0]) throw ApplicationFailure.nonRetryable(`customer ${input.customerId} does not exist`, 'CustomerNotFound');
        if (customer.rows[0].status === 'erased') throw ApplicationFailure.nonRetryable('the customer was erased', 'CustomerGone');
        const consent = await appendConsent(db, {
          id: input.consentId,
          customerId: input.customerId,
          channel: input.channel,
          purpose: input.purpose,
          action: input.action,
          proof: input.proof,
          occurredAt: input.occurredAt,
          actor: input.actor,
          workflowId: input.workflowId,
          idempotencyKey: `consent:${input.consentId}`,
        });
        if (input.unsubscribeTokenSha256) {
          const used = await useUnsubscribeToken(db, input.unsubscribeTokenSha256, consent.id, new Date(input.now));
          if (!used) {
            const { rows } = await db.query<{ consent_event_id: string | null }>('SELECT consent_event_id FROM unsubscribe_tokens WHERE token_sha256 = $1', [
              input.unsubscribeTokenSha256,
            ]);
            // A retry of this step finds the token used by its own withdrawal; any other use came first.
            if (rows[0]?.consent_event_id !== consent.id) throw ApplicationFailure.nonRetryable('the unsubscribe link was already used', 'TokenUsed');
          }
        }
        if (input.action !== 'withdraw' || input.purpose !== 'marketing') return { consent, notifiedEnrollments: [], enrollments: [] };
        const active = await db.query<{ campaign_id: string; run_key: string; workflow_id: string }>(
          "SELECT campaign_id, run_key, workflow_id FROM campaign_enrollments WHERE customer_id = $1 AND status = 'active' ORDER BY workflow_id",
          [input.customerId],
        );
        for (const a of active.rows) {
          await appendEnrollmentEvent(db, {
            campaignId: a.campaign_id,
            customerId: input.customerId,
            runKey: a.run_key,
            step: null,
            type: 'event',
            outcome: 'consent-withdrawn',
            detail: `marketing consent for ${input.channel} withdrawn (${input.proof.method}, consent ${consent.id})`,
            at: input.now,
            key: `enrollment:${a.campaign_id}:${input.customerId}:${a.run_key}:consent:${consent.id}`,
          });
        }
        return { consent, notifiedEnrollments: [], enrollments: [...new Set(active.rows.map((r) => r.workflow_id))] };
      });
    },
  };
}
