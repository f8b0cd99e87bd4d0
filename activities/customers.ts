/**
 * Side effects of customer registration. One transaction creates the customer, its audit rows,
 * its welcome message and the registration's record; a retried activity finds its own row (same
 * customer id) and writes nothing.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { writeAudit, type AuditField } from '../src/db/repositories/audit-log.js';
import { insertCustomer } from '../src/db/repositories/customers.js';
import { queueMessage } from '../src/db/repositories/outbox.js';
import { recordRegistration } from '../src/db/repositories/registrations.js';
import { recordEvent } from '../src/db/repositories/webhook-events.js';
import { normaliseEmail } from '../src/domain/contact-data.js';
import type { RegistrationInput, RegistrationRequest, RegistrationResult } from '../src/domain/customers.js';

export interface CustomerActivityDeps {
  pool: Pool;
}

/** The audit entries of a new customer: each field it was created with (registration and import alike). */
export function registrationAudit(request: RegistrationRequest): AuditField[] {
  const fields: Array<[string, unknown]> = [
    ['name', request.name],
    ['email', request.email.trim()],
    ['phone', request.phone],
    ['address', request.address],
    ['locale', request.locale],
  ];
  return fields.filter(([, value]) => value !== undefined).map(([field, value]) => ({ field, oldValue: null, newValue: value }));
}

/**
 * Creates the customer with its audit rows and welcome message unless the e-mail is taken: the
 * path of a registration and of a won lead alike.
 */
export async function createCustomer(
  db: PoolClient,
  input: RegistrationInput & { workflowId: string },
  origin: { leadId?: string } = {},
): Promise<RegistrationResult> {
  const { customerId, request, actor, workflowId } = input;
  const emailNormalized = normaliseEmail(request.email);
  const insert = await insertCustomer(db, { id: customerId, request, emailNormalized, actor });
  if (!insert.inserted) {
    if (!insert.existingId) throw ApplicationFailure.retryable('customer insert conflicted but no row was found', 'RegistrationRace');
    if (insert.existingId !== customerId) return { outcome: 'duplicate', customerId: insert.existingId };
    // Our own earlier attempt committed: its audit rows and message are already there.
  }
  await writeAudit(db, { step: `${workflowId}:audit`, customerId, actor, process: 'registration', workflowId }, registrationAudit(request));
  const welcomeMessageId = await queueMessage(db, {
    customerId,
    recipient: request.email.trim(),
    template: 'welcome',
    payload: { name: request.name, locale: request.locale },
    idempotencyKey: `${workflowId}:welcome`,
  });
  await recordEvent(db, {
    type: 'customer.registered',
    customerId,
    data: { customerId, leadId: origin.leadId ?? null },
    idempotencyKey: `customer.registered:${customerId}`,
  });
  return { outcome: 'created', customerId, welcomeMessageId };
}

export function createCustomerActivities({ pool }: CustomerActivityDeps) {
  return {
    /** A registration: the customer (or the e-mail found taken) and the registration's record, in one transaction. */
    async registerCustomerRecord(input: RegistrationInput & { workflowId: string; runId?: string; receivedAt?: string }): Promise<RegistrationResult> {
      return inTransaction(pool, async (db) => {
        const result = await createCustomer(db, input);
        await recordRegistration(db, {
          workflowId: input.workflowId,
          runId: input.runId,
          customerId: result.customerId,
          status: result.outcome === 'created' ? 'registered' : 'duplicate',
          requestedBy: input.actor,
          receivedAt: input.receivedAt ?? new Date().toISOString(),
          reason: result.outcome === 'duplicate' ? 'a customer with this e-mail already exists' : undefined,
        });
        return result;
      });
    },
  };
}
