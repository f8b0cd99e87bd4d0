/**
 * Side effects of onboarding. The opt-in code is generated once, stored only as a hash, and
 * mailed through the outbox in the same transaction, so a retried start neither changes the code
 * nor sends a second one.
 */
import { createHash, randomInt } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { accountManagerOf, confirmOptIn, finishOnboarding, insertOnboarding, recordOnboarding, replaceOptInCode, type OnboardingRecordWrite } from '../src/db/repositories/onboardings.js';
import type { OnboardingInput, OnboardingPolicy } from '../src/domain/onboarding.js';
import type { TemplateName } from '../src/domain/notifications.js';
import { nextInRotation, queueMessage, type AcquisitionSettings } from './acquisition.js';

export interface OnboardingActivityDeps {
  pool: Pool;
  acquisition?: AcquisitionSettings;
}

function codeHash(customerId: string, code: string): string {
  return createHash('sha256').update(`${customerId}:${code}`).digest('hex');
}

export function createOnboardingActivities({ pool, acquisition }: OnboardingActivityDeps) {
  const settings = acquisition ?? loadConfig().acquisition;
  const policy: OnboardingPolicy = { firstContactSlaMs: settings.firstContactSlaMs, checkInAfterMs: settings.checkInAfterMs };

  return {
    async beginOnboarding(input: OnboardingInput & { workflowId: string }): Promise<{ accountManager: string; optInMessageId: string; taskMessageId: string; policy: OnboardingPolicy }> {
      return inTransaction(pool, async (db) => {
        let accountManager = await accountManagerOf(db, input.customerId);
        let code: string | undefined;
        if (!accountManager) {
          accountManager = input.accountManager ?? (await nextInRotation(db, 'account-managers', settings.owners));
          code = String(randomInt(0, 1_000_000)).padStart(6, '0');
          await insertOnboarding(db, {
            customerId: input.customerId,
            workflowId: input.workflowId,
            accountManager,
            codeHash: codeHash(input.customerId, code),
            origin: input.origin,
            leadId: input.leadId,
          });
        }
        // On a retry the messages exist already: the keys find them and the payload is not used.
        const optInMessageId = await queueMessage(db, {
          customerId: input.customerId,
          recipient: input.email,
          template: 'onboarding-opt-in',
          payload: { name: input.name, code: code ?? '', locale: input.locale },
          idempotencyKey: `${input.workflowId}:opt-in`,
        });
        const taskMessageId = await queueMessage(db, {
          customerId: input.customerId,
          recipient: accountManager,
          template: 'onboarding-first-contact-task',
          payload: { customerName: input.name, customerEmail: input.email, customerId: input.customerId, dueInMs: policy.firstContactSlaMs },
          idempotencyKey: `${input.workflowId}:first-contact-task`,
        });
        return { accountManager, optInMessageId, taskMessageId, policy };
      });
    },

    /**
     * Replaces the opt-in code and mails the new one, in one transaction: a retry finds the
     * message of its resend (by key) and changes nothing, so the mailed code is the stored one.
     */
    async renewOptInCode(input: { customerId: string; workflowId: string; resend: number; name: string; email: string; locale: string }): Promise<string> {
      return inTransaction(pool, async (db) => {
        const idempotencyKey = `${input.workflowId}:opt-in:resend-${input.resend}`;
        const existing = await db.query<{ id: string }>('SELECT id FROM notification_outbox WHERE idempotency_key = $1', [idempotencyKey]);
        if (existing.rows[0]) return existing.rows[0].id;
        const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
        await replaceOptInCode(db, input.customerId, codeHash(input.customerId, code));
        return queueMessage(db, {
          customerId: input.customerId,
          recipient: input.email,
          template: 'onboarding-opt-in',
          payload: { name: input.name, code, locale: input.locale },
          idempotencyKey,
        });
      });
    },

    /** Compares a code with the stored hash; a match confirms the address (once). */
    async checkOptInCode(input: { customerId: string; code: string }): Promise<{ ok: boolean }> {
      return { ok: await confirmOptIn(pool, input.customerId, codeHash(input.customerId, input.code)) };
    },

    /**
     * Queues a message unless the customer is no longer active, or it goes to a customer who must
     * not be contacted (an opt-out, an erasure, a complaint: the suppressions every process checks).
     */
    async queueOnboardingMessage(input: {
      customerId: string;
      toCustomer: boolean;
      recipient: string;
      template: TemplateName;
      idempotencyKey: string;
      payload: Record<string, unknown>;
    }): Promise<{ messageId: string } | { suppressed: string }> {
      const { toCustomer, ...message } = input;
      const { rows } = await pool.query<{ status: string; reason: string | null }>(
        `SELECT c.status, (SELECT s.reason FROM suppressions s WHERE s.customer_id = c.id AND s.lifted_at IS NULL AND (s.channel IS NULL OR s.channel = 'email')
                           ORDER BY s.created_at LIMIT 1) AS reason
         FROM customers c WHERE c.id = $1`,
        [input.customerId],
      );
      const row = rows[0];
      // An erased (or deactivated) customer's onboarding is moot: no message about them either,
      // so no personal value comes back into the outbox after an erasure.
      if (!row || row.status !== 'active') return { suppressed: `customer is ${row?.status ?? 'gone'}` };
      if (toCustomer && row.reason) return { suppressed: `suppressed: ${row.reason}` };
      return { messageId: await queueMessage(pool, message) };
    },

    async finishOnboarding(input: { customerId: string; outcome: 'onboarded' | 'stalled'; reasons: string[] }): Promise<void> {
      await finishOnboarding(pool, input.customerId, input.outcome, input.reasons);
    },

    /** Writes what the onboarding knows after a change, and its status steps since the last write. */
    async recordOnboarding(write: OnboardingRecordWrite): Promise<void> {
      await recordOnboarding(pool, write);
    },
  };
}
