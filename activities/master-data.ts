/**
 * Side effects of master-data changes and of the verification codes they (and GDPR requests) use.
 *
 * Codes are made, sent and checked in activities through the one-time-code module: the workflow
 * never sees a code, the outbox row of a code message records that it was sent but not the code,
 * and the database keeps only a salted scrypt hash. Applying a change is one transaction with
 * optimistic concurrency on `customers.version`.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { recordEvent } from '../src/db/repositories/webhook-events.js';
import { maskIban, normaliseEmail } from '../src/domain/contact-data.js';
import {
  MASTER_DATA_FIELDS,
  maskContact,
  type ApplyChangeInput,
  type ApplyChangeResult,
  type ChangeRecord,
  type ChangeState,
  type CodeCheck,
  type IssueCodesInput,
  type IssuedCodes,
  type MasterDataField,
  type MasterDataPolicy,
  type VerificationTargetSpec,
} from '../src/domain/master-data.js';
import { openChange, recordChange } from '../src/db/repositories/changes.js';
import { writeAudit } from '../src/db/repositories/audit-log.js';
import { sameJson } from '../src/domain/stable-json.js';
import { masterDataOf, readCustomerRow } from '../src/db/repositories/customers.js';
import { checkCode, issueCode, openSubject } from '../src/db/repositories/one-time-codes.js';
import { leadsOnlyUnder } from '../src/db/repositories/lead-data.js';
import { queueMessage, queuedMessage, sendWithSecret } from '../src/db/repositories/outbox.js';
import { issueLink, type LinkPurpose } from '../src/db/repositories/customer-links.js';
import { CODE_SENT, CODE_WRONG, appendRequestEvents } from '../src/db/repositories/request-events.js';
import type { MessageTransport } from '../src/notifications/transport.js';

export interface MasterDataActivityDeps {
  pool: Pool;
  transport: MessageTransport;
  /** Verification, approval and GDPR timings of this worker (config module, via the entry point). */
  masterData: MasterDataPolicy;
}

/** A value as the audit log keeps it: bank accounts masked, everything else as it was. */
function auditValue(field: MasterDataField, value: unknown): unknown {
  return field === 'bankAccount' && value !== undefined && value !== null ? maskIban(String(value)) : value;
}

function sameField(field: MasterDataField, a: unknown, b: unknown): boolean {
  if (field === 'email') return normaliseEmail(String(a ?? '')) === normaliseEmail(String(b ?? ''));
  return sameJson(a, b);
}

export interface QueueMessageInput {
  /** Absent for a message to a person known only as a lead (then `to` names the recipient). */
  customerId?: string;
  /** `email`/`phone`: the customer's current contact point, read here so workflows need not carry it. */
  to: 'email' | 'phone' | 'phone-or-email' | { channel: 'email' | 'sms'; recipient: string };
  template: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
}

/** Queues a message to the customer's contact point (or an explicit recipient); null when there is no one to tell. */
export async function queueToCustomer(db: Pool | PoolClient, input: QueueMessageInput): Promise<string | null> {
  let channel: 'email' | 'sms';
  let recipient: string | null;
  if (typeof input.to === 'object') {
    ({ channel, recipient } = input.to);
  } else {
    if (!input.customerId) return null;
    const row = await readCustomerRow(db, input.customerId);
    if (!row || row.status === 'erased') return null;
    const usePhone = input.to === 'phone' || (input.to === 'phone-or-email' && row.phone);
    channel = usePhone ? 'sms' : 'email';
    recipient = usePhone ? row.phone : row.email;
  }
  if (!recipient) return null;
  const { to: _to, ...message } = input;
  return queueMessage(db, { ...message, channel, recipient });
}

/** A message that carries a one-purpose link (export, erasure cancellation, contact-change stop). */
export interface SendLinkInput extends QueueMessageInput {
  link: { purpose: LinkPurpose; requestId: string; expiresAt: string };
}

/** Where a message to the customer goes: the contact point on record (or an explicit recipient). */
async function recipientOf(db: Pool | PoolClient, input: QueueMessageInput): Promise<{ channel: 'email' | 'sms'; recipient: string } | null> {
  if (typeof input.to === 'object') return input.to;
  if (!input.customerId) return null;
  const row = await readCustomerRow(db, input.customerId);
  if (!row || row.status === 'erased') return null;
  const usePhone = input.to === 'phone' || (input.to === 'phone-or-email' && row.phone);
  const recipient = usePhone ? row.phone : row.email;
  return recipient ? { channel: usePhone ? 'sms' : 'email', recipient } : null;
}

export function createMasterDataActivities({ pool, transport, masterData }: MasterDataActivityDeps) {
  return {
    /**
     * The worker's policy, asked once by a change or GDPR request whose payload carries none (runs
     * started before the policy became the worker's carry their own and never ask).
     */
    async masterDataPolicy(): Promise<MasterDataPolicy> {
      return masterData;
    },
    /** Records a change request when it is accepted; a retry finds its row. */
    async openChangeRequest(record: ChangeRecord & Partial<ChangeState>): Promise<void> {
      await inTransaction(pool, (db) => openChange(db, record));
    },

    /**
     * Keeps the row (status, verification, approval, outcome) and its timeline in step with the
     * workflow, so the change reads the same once the workflow is gone. Each transition is one
     * entry keyed by its position: a retry writes none twice.
     */
    async recordChangeState(record: ChangeRecord & Partial<ChangeState> & { closed: boolean }): Promise<void> {
      await inTransaction(pool, (db) => recordChange(db, record));
    },

    /** Queues a message to the customer (or to an explicit recipient); null when there is no one to tell. */
    async queueCustomerMessage(input: QueueMessageInput): Promise<string | null> {
      return queueToCustomer(pool, input);
    },

    /**
     * The contact points a customer had before a change of e-mail or phone applied within the
     * cooling-off period (`withinMs`), other than the ones on record now: a GDPR request is then
     * confirmed from them too, so whoever took the account over by a contact change cannot export
     * or erase it alone. The value before the earliest such change of each field.
     */
    async priorContactTargets(input: { customerId: string; withinMs: number }): Promise<VerificationTargetSpec[]> {
      const row = await readCustomerRow(pool, input.customerId);
      if (!row || row.status === 'erased') return [];
      const { rows } = await pool.query<{ field: 'email' | 'phone'; old_value: unknown }>(
        `SELECT DISTINCT ON (field) field, old_value FROM audit_log
         WHERE customer_id = $1 AND process = 'master-data' AND field IN ('email', 'phone') AND old_value IS NOT NULL
           AND occurred_at > now() - make_interval(secs => $2::double precision / 1000)
         ORDER BY field, occurred_at, id`,
        [input.customerId, input.withinMs],
      );
      const targets: VerificationTargetSpec[] = [];
      for (const r of rows) {
        const value = typeof r.old_value === 'string' ? r.old_value : null;
        if (!value) continue;
        if (r.field === 'email' && normaliseEmail(value) !== row.email_normalized) targets.push({ target: 'prior-email', channel: 'email', recipient: value });
        if (r.field === 'phone' && value !== row.phone) targets.push({ target: 'prior-phone', channel: 'sms', recipient: value });
      }
      return targets;
    },

    /**
     * Sends a message with a link that does one thing once (see customer-links.ts): a fresh token
     * whose hash is kept, the token only in the rendered message (the outbox row and the workflow
     * never see it). A retry after the message went out sends nothing again. Null when there is
     * no one to tell.
     */
    async sendCustomerLink(input: SendLinkInput): Promise<string | null> {
      const earlier = await queuedMessage(pool, input.idempotencyKey);
      if (earlier?.sent) return earlier.id;
      const to = await recipientOf(pool, input);
      if (!to) return null;
      const { link, to: _to, ...message } = input;
      const { url } = await issueLink(pool, {
        purpose: link.purpose,
        requestId: link.requestId,
        customerId: input.customerId ?? null,
        expiresAt: new Date(link.expiresAt),
        idempotencyKey: input.idempotencyKey,
      });
      const messageId = await queueMessage(pool, { ...message, customerId: input.customerId ?? null, ...to });
      await sendWithSecret(pool, transport, messageId, { link: url });
      return messageId;
    },

    /**
     * Makes a fresh code for every target, keeps its hash, and sends it. Issue n of a subject
     * replaces the codes of issue n-1, so a retried or resent issue leaves exactly one valid code
     * per target: the one in the latest message.
     */
    async issueVerificationCodes(input: IssueCodesInput): Promise<IssuedCodes> {
      const customer = input.customerId ? await readCustomerRow(pool, input.customerId) : undefined;
      if (input.customerId && (!customer || customer.status === 'erased'))
        throw ApplicationFailure.nonRetryable('the customer no longer exists', 'CustomerGone');
      await openSubject(pool, {
        subject: input.subject,
        customerId: input.customerId ?? null,
        purpose: input.purpose,
        maxAttempts: input.maxAttempts,
      });
      // A lead-only person's address gets a code only when something is held under it. Nothing
      // else differs (the subject counts wrong codes, the timeline reads the same), so a request
      // does not tell whether anything is held under an address.
      const lead = input.email !== undefined;
      const held = !lead || (await leadsOnlyUnder(pool, input.email!)).length > 0;
      let expiresAt = new Date(Date.now() + input.ttlMs);
      const sent: IssuedCodes['sent'] = [];
      for (const asked of input.targets) {
        // A phone change of a customer without a phone on record is confirmed from their address.
        const spec =
          asked.target === 'existing-contact' && asked.channel === 'sms' && customer && !customer.phone ? { ...asked, channel: 'email' as const } : asked;
        const recipient = spec.recipient ?? input.email ?? (spec.channel === 'sms' ? customer!.phone : customer!.email);
        if (!recipient) throw ApplicationFailure.nonRetryable(`the customer has no ${spec.channel} contact point for ${spec.target}`, 'NoContactPoint');
        const sentTo = maskContact(recipient);
        const entry = {
          status: CODE_SENT,
          at: new Date().toISOString(),
          actor: 'system',
          reason: lead
            ? `code ${input.issue} sent by ${spec.channel} to ${sentTo} if data is held under it`
            : `code ${input.issue} for ${spec.target} sent by ${spec.channel} to ${sentTo}`,
          key: `code:${input.runId ?? input.workflowId}:${input.issue}:${spec.target}`,
        };
        const about = { requestId: input.subject, customerId: input.customerId ?? null, kind: input.purpose, workflowId: input.workflowId };
        if (!held) {
          sent.push({ target: spec.target, channel: spec.channel, sentTo });
          await appendRequestEvents(pool, about, [entry]);
          continue;
        }
        const issued = (await issueCode(pool, {
          subject: input.subject,
          target: spec.target,
          channel: spec.channel,
          issue: input.issue,
          ttlMs: input.ttlMs,
        }))!;
        expiresAt = issued.expiresAt;
        // The outbox keeps the fact of the message, not its code; the code goes only to the transport.
        const messageId = await queueMessage(pool, {
          customerId: input.customerId ?? null,
          channel: spec.channel,
          recipient,
          template: 'verification-code',
          payload: { purpose: input.purpose, subject: input.subject, target: spec.target, expiresAt: expiresAt.toISOString() },
          idempotencyKey: `${input.workflowId}:code:${input.subject}:${spec.target}:${input.issue}`,
        });
        await sendWithSecret(pool, transport, messageId, { code: issued.code });
        sent.push({ target: spec.target, channel: spec.channel, sentTo });
        await appendRequestEvents(pool, about, [entry]);
      }
      return { expiresAt: expiresAt.toISOString(), sent };
    },

    /**
     * Checks a code against the unverified, unexpired codes of a subject. Every check counts as an
     * attempt, whether it matches or not, so the limit bounds guessing.
     */
    async checkVerificationCode(input: { subject: string; code: string; actor?: string }): Promise<CodeCheck> {
      return inTransaction(pool, async (db) => {
        const checked = await checkCode(db, { subject: input.subject, code: input.code });
        if (!checked) throw ApplicationFailure.nonRetryable('no codes were issued for this request', 'NoCodesIssued');
        if (checked.result === 'matched') return { result: 'matched', target: checked.target, attemptsLeft: checked.attemptsLeft };
        if (checked.check === undefined) return { result: 'exhausted', attemptsLeft: 0 };
        const { attemptsLeft } = checked;
        // The wrong code itself is never recorded, only that one was entered, by whom, and what is left.
        await appendRequestEvents(db, { requestId: input.subject, customerId: checked.customerId, kind: checked.purpose as 'change' | 'export' | 'erasure' }, [
          {
            status: CODE_WRONG,
            at: new Date().toISOString(),
            actor: input.actor ?? 'system',
            reason: attemptsLeft <= 0 ? 'wrong code; no attempts left' : `wrong code; ${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left`,
            key: `check:${checked.check}`,
          },
        ]);
        return attemptsLeft <= 0 ? { result: 'exhausted', attemptsLeft: 0 } : { result: 'wrong', attemptsLeft };
      });
    },

    /**
     * Applies every field of a change in one transaction, guarded by the version the change was
     * based on. A moved version is re-read and re-validated: if none of our fields moved, the
     * workflow may apply on top of the new version; if one did, applying would overwrite someone
     * else's change, so it is reported as a conflict instead.
     */
    async applyChange(input: ApplyChangeInput): Promise<ApplyChangeResult> {
      return inTransaction(pool, async (db) => {
        const done = await db.query<{ applied_version: number | null }>('SELECT applied_version FROM change_requests WHERE id = $1 FOR UPDATE', [
          input.changeId,
        ]);
        const row = await readCustomerRow(db, input.customerId);
        if (!row) return { outcome: 'refused', detail: 'the customer does not exist' };
        if (done.rows[0]?.applied_version != null) {
          // Our own earlier attempt committed.
          const messages = await db.query<{ id: string }>('SELECT id FROM notification_outbox WHERE idempotency_key = $1', [
            `${input.workflowId}:applied:${input.changeId}`,
          ]);
          return {
            outcome: 'applied',
            version: row.version,
            fields: Object.keys(input.changes) as MasterDataField[],
            messageIds: messages.rows.map((m) => m.id),
          };
        }
        if (row.status === 'erased') return { outcome: 'refused', detail: 'the customer has been erased' };
        const current = masterDataOf(row);
        const fields = MASTER_DATA_FIELDS.filter((f) => input.changes[f] !== undefined);
        if (row.version !== input.expectedVersion) {
          const moved = fields.filter((f) => !sameField(f, current[f], input.base[f]));
          return moved.length > 0 ? { outcome: 'conflict', version: row.version, fields: moved } : { outcome: 'stale', version: row.version };
        }
        const c = input.changes;
        if (c.email !== undefined) {
          const taken = await db.query('SELECT 1 FROM customers WHERE email_normalized = $1 AND id <> $2', [normaliseEmail(c.email), input.customerId]);
          if (taken.rowCount) return { outcome: 'refused', detail: 'the new e-mail address belongs to another customer' };
        }
        const updated = await db.query<{ version: number }>(
          `UPDATE customers SET
             email = COALESCE($3, email), email_normalized = COALESCE($4, email_normalized), phone = COALESCE($5, phone),
             address = COALESCE($6, address), name = COALESCE($7, name), birth_date = COALESCE($8::date, birth_date),
             bank_account_iban = COALESCE($9, bank_account_iban), version = version + 1, updated_at = now()
           WHERE id = $1 AND version = $2
           RETURNING version`,
          [
            input.customerId,
            input.expectedVersion,
            c.email ?? null,
            c.email !== undefined ? normaliseEmail(c.email) : null,
            c.phone ?? null,
            c.address !== undefined ? JSON.stringify(c.address) : null,
            c.name ?? null,
            c.birthDate ?? null,
            c.bankAccount ?? null,
          ],
        );
        if (updated.rowCount === 0) {
          // Another writer committed between our read and our write: re-read in the next round.
          const now = await readCustomerRow(db, input.customerId);
          return { outcome: 'stale', version: now?.version ?? input.expectedVersion };
        }
        const version = updated.rows[0]!.version;
        await writeAudit(
          db,
          {
            step: `${input.changeId}:audit`,
            customerId: input.customerId,
            actor: input.requestedBy,
            approver: input.approvedBy,
            process: 'master-data',
            workflowId: input.workflowId,
            changeId: input.changeId,
          },
          fields.map((field) => ({ field, oldValue: auditValue(field, current[field]), newValue: auditValue(field, c[field]) })),
        );
        // The status moves to applied with its timeline entry when the workflow records the outcome.
        await db.query('UPDATE change_requests SET applied_version = $2, approved_by = $3, updated_at = now() WHERE id = $1', [
          input.changeId,
          version,
          input.approvedBy ?? null,
        ]);
        const messageId = await queueToCustomer(db, {
          customerId: input.customerId,
          to: 'email',
          template: 'master-data-applied',
          payload: { changeId: input.changeId, fields },
          idempotencyKey: `${input.workflowId}:applied:${input.changeId}`,
        });
        await recordEvent(db, {
          type: 'change.applied',
          customerId: input.customerId,
          data: { changeId: input.changeId, customerId: input.customerId, fields, customerVersion: version },
          idempotencyKey: `change.applied:${input.changeId}`,
        });
        return { outcome: 'applied', version, fields, messageIds: messageId ? [messageId] : [] };
      });
    },
  };
}
