/**
 * Side effects of onboarding. The opt-in code is a one-time code (salted scrypt hash, expiry,
 * attempts counted in the database): made, mailed and checked here; its outbox row records that
 * it was sent, not the code, which goes only to the transport. The onboarding's row and its first
 * code are written in one transaction, so a retried start neither changes the code nor sends a
 * second one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { checkCode, issueCode, openSubject, subjectExists } from '../src/db/repositories/one-time-codes.js';
import {
  accountManagerOf,
  confirmOptIn,
  finishOnboarding,
  forgetLegacyOptIn,
  insertOnboarding,
  legacyOptIn,
  optInSubject,
  recordOnboarding,
  type OnboardingRecordWrite,
} from '../src/db/repositories/onboardings.js';
import { queueMessage, queuedMessage, sendWithSecret } from '../src/db/repositories/outbox.js';
import { appendConsent } from '../src/db/repositories/consents.js';
import { OPT_IN_TEXT_VERSION } from '../src/domain/consent.js';
import {
  OPT_IN_CODE_TTL_MS,
  OPT_IN_MAX_ATTEMPTS,
  OPT_IN_MAX_RESENDS,
  type OnboardingInput,
  type OnboardingPolicy,
  type OptInCheck,
} from '../src/domain/onboarding.js';
import type { TemplateName } from '../src/domain/notifications.js';
import type { MessageTransport } from '../src/notifications/transport.js';
import { addressOf, readActiveUser, shownAs } from '../src/db/repositories/users.js';
import { nextTeamAgent, type AcquisitionSettings } from './acquisition.js';
import { openTaskIn } from './tasks.js';
import type { OpenedTask } from '../src/domain/tasks.js';

export interface OnboardingActivityDeps {
  pool: Pool;
  transport: MessageTransport;
  acquisition: AcquisitionSettings;
}

/** How onboardings started before opt-in codes became one-time codes kept theirs: checked for those alone. */
function legacyCodeHash(customerId: string, code: string): string {
  return createHash('sha256').update(`${customerId}:${code}`).digest('hex');
}

/**
 * A confirmed double opt-in is the customer's consent to marketing by e-mail, on the wording the
 * opt-in message carried; its proof is the confirmation (onboarding, code subject, when). Once.
 */
async function grantOptInConsent(db: PoolClient, customerId: string): Promise<void> {
  const { rows } = await db.query<{ workflow_id: string; opt_in_sent_at: Date | null; opt_in_confirmed_at: Date }>(
    'SELECT workflow_id, opt_in_sent_at, opt_in_confirmed_at FROM customer_onboardings WHERE customer_id = $1',
    [customerId],
  );
  const onboarding = rows[0];
  if (!onboarding) return;
  await appendConsent(db, {
    id: randomUUID(),
    customerId,
    channel: 'email',
    purpose: 'marketing',
    action: 'grant',
    proof: {
      method: 'double-opt-in',
      textVersion: OPT_IN_TEXT_VERSION,
      source: 'onboarding',
      confirmation: {
        onboardingWorkflowId: onboarding.workflow_id,
        codeSubject: optInSubject(customerId),
        codeSentAt: onboarding.opt_in_sent_at?.toISOString() ?? null,
        confirmedAt: onboarding.opt_in_confirmed_at.toISOString(),
      },
    },
    occurredAt: onboarding.opt_in_confirmed_at.toISOString(),
    actor: 'customer',
    workflowId: onboarding.workflow_id,
    idempotencyKey: `opt-in:${customerId}:consent`,
  });
}

export function createOnboardingActivities({ pool, transport, acquisition: settings }: OnboardingActivityDeps) {
  const policy: OnboardingPolicy = { firstContactSlaMs: settings.firstContactSlaMs, checkInAfterMs: settings.checkInAfterMs };

  /** Opens the opt-in's subject; an onboarding from before carries over the wrong codes its workflow counted. */
  const openOptIn = async (db: PoolClient, customerId: string) => {
    const legacy = await legacyOptIn(db, customerId);
    await openSubject(db, {
      subject: optInSubject(customerId),
      customerId,
      purpose: 'opt-in',
      maxAttempts: OPT_IN_MAX_ATTEMPTS,
      attempts: legacy?.attempts,
    });
  };

  /** Makes code `issue` of the opt-in and mails it: the outbox row has no code, the transport gets it. */
  const mailCode = async (
    db: PoolClient,
    input: { customerId: string; email: string; name: string; locale: string; issue: number; idempotencyKey: string },
  ) => {
    const issued = await issueCode(db, {
      subject: optInSubject(input.customerId),
      target: 'new-email',
      channel: 'email',
      issue: input.issue,
      ttlMs: OPT_IN_CODE_TTL_MS,
      maxIssues: OPT_IN_MAX_RESENDS + 1,
    });
    if (!issued) throw ApplicationFailure.nonRetryable(`the code was already sent again ${OPT_IN_MAX_RESENDS} times`, 'OptInRefused');
    const messageId = await queueMessage(db, {
      customerId: input.customerId,
      recipient: input.email,
      template: 'onboarding-opt-in',
      payload: { name: input.name, locale: input.locale, expiresAt: issued.expiresAt.toISOString() },
      idempotencyKey: input.idempotencyKey,
    });
    await sendWithSecret(db, transport, messageId, { code: issued.code });
    return messageId;
  };

  return {
    /**
     * Starts the onboarding's record, mails the opt-in code and hands the first contact to the
     * account manager: as a task when `firstContactTask` is asked for and the account manager is
     * a user (the task and the onboarding are written in one transaction), else as a message.
     */
    async beginOnboarding(
      input: OnboardingInput & { workflowId: string; firstContactTask?: { taskId: string; now?: string } },
    ): Promise<{ accountManager: string; teamId?: string; optInMessageId: string; taskMessageId: string; policy: OnboardingPolicy; task?: OpenedTask }> {
      return inTransaction(pool, async (db) => {
        let accountManager = await accountManagerOf(db, input.customerId);
        const idempotencyKey = `${input.workflowId}:opt-in`;
        let optInMessageId = (await queuedMessage(db, idempotencyKey))?.id;
        let teamId: string | undefined;
        if (!accountManager) {
          // The lead's owner stays the account manager while they are an active user; otherwise the
          // account-manager team's next active agent takes the customer on.
          const owner = input.accountManager ? await readActiveUser(db, input.accountManager) : undefined;
          if (owner) {
            accountManager = owner.id;
            teamId = owner.teamId ?? undefined;
          } else {
            const next = await nextTeamAgent(db, 'account-managers', { name: settings.accountManagerTeam });
            accountManager = next.userId;
            teamId = next.teamId;
          }
          await insertOnboarding(db, {
            customerId: input.customerId,
            workflowId: input.workflowId,
            accountManager,
            origin: input.origin,
            leadId: input.leadId,
          });
        }
        if (!optInMessageId) {
          await openOptIn(db, input.customerId);
          optInMessageId = await mailCode(db, { ...input, issue: 1, idempotencyKey });
        }
        const task =
          input.firstContactTask &&
          (await openTaskIn(db, {
            taskId: input.firstContactTask.taskId,
            kind: 'onboarding-first-contact',
            title: `First contact with ${input.name}`,
            priority: 'high',
            ownerId: accountManager,
            dueInMs: policy.firstContactSlaMs,
            now: input.firstContactTask.now,
            customerId: input.customerId,
            process: 'onboarding',
            step: 'first-contact-task',
            workflowId: input.workflowId,
            actor: 'system',
          }));
        if (task) return { accountManager, optInMessageId, taskMessageId: task.messageId!, policy, task };
        const taskMessageId = await queueMessage(db, {
          customerId: input.customerId,
          recipient: await addressOf(db, accountManager),
          template: 'onboarding-first-contact-task',
          payload: {
            customerName: input.name,
            customerEmail: input.email,
            customerId: input.customerId,
            dueInMs: policy.firstContactSlaMs,
          },
          idempotencyKey: `${input.workflowId}:first-contact-task`,
        });
        // A retry finds the account manager in the row: their team is the onboarding's.
        teamId ??= (await readActiveUser(db, accountManager))?.teamId ?? undefined;
        return { accountManager, ...(teamId ? { teamId } : {}), optInMessageId, taskMessageId, policy };
      });
    },

    /**
     * Replaces the opt-in code and mails the new one, in one transaction: a retry finds the
     * message of its resend (by key) and changes nothing, so the mailed code is the stored one.
     */
    async renewOptInCode(input: { customerId: string; workflowId: string; resend: number; name: string; email: string; locale: string }): Promise<string> {
      return inTransaction(pool, async (db) => {
        const idempotencyKey = `${input.workflowId}:opt-in:resend-${input.resend}`;
        const existing = await queuedMessage(db, idempotencyKey);
        if (existing) return existing.id;
        await openOptIn(db, input.customerId);
        await forgetLegacyOptIn(db, input.customerId);
        return mailCode(db, { ...input, issue: input.resend + 1, idempotencyKey });
      });
    },

    /**
     * Checks a code; every check is counted in the database before it is compared, so concurrent
     * guesses cannot pass the limit. A match confirms the address (once).
     */
    async checkOptInCode(input: { customerId: string; code: string }): Promise<OptInCheck> {
      return inTransaction(pool, async (db) => {
        const subject = optInSubject(input.customerId);
        const legacy = await legacyOptIn(db, input.customerId);
        if (legacy && !(await subjectExists(db, subject))) await openOptIn(db, input.customerId);
        const checked = await checkCode(db, {
          subject,
          code: input.code,
          alsoMatches: legacy && (async (code) => legacyCodeHash(input.customerId, code) === legacy.codeHash),
        });
        if (!checked) throw ApplicationFailure.nonRetryable('no opt-in code was issued for this customer', 'NoCodesIssued');
        if (checked.result === 'matched') {
          await confirmOptIn(db, input.customerId);
          await grantOptInConsent(db, input.customerId);
          return { ok: true, attemptsLeft: checked.attemptsLeft };
        }
        return { ok: false, attemptsLeft: checked.attemptsLeft, counted: checked.result === 'wrong' || checked.check !== undefined };
      });
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
      // The account manager is a user: messages to them go to their e-mail, and the customer sees their name and e-mail.
      return {
        messageId: await queueMessage(pool, {
          ...message,
          recipient: toCustomer ? message.recipient : await addressOf(pool, message.recipient),
          payload: {
            ...message.payload,
            ...('accountManager' in message.payload ? { accountManager: await shownAs(pool, message.payload.accountManager) } : {}),
          },
        }),
      };
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
