/**
 * Side effects of customer registration. One transaction creates the customer, its audit rows and
 * its welcome message; a retried activity finds its own row (same customer id) and writes nothing.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { normaliseEmail } from '../src/domain/contact-data.js';
import type { RegistrationInput, RegistrationResult } from '../src/domain/customers.js';

export interface CustomerActivityDeps {
  pool: Pool;
}

export function createCustomerActivities({ pool }: CustomerActivityDeps) {
  return {
    async registerCustomerRecord(input: RegistrationInput & { workflowId: string }): Promise<RegistrationResult> {
      const { customerId, request, actor, workflowId } = input;
      const emailNormalized = normaliseEmail(request.email);
      return inTransaction(pool, async (db) => {
        const inserted = await db.query<{ id: string }>(
          `INSERT INTO customers (id, name, email, email_normalized, phone, address, locale, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT DO NOTHING
           RETURNING id`,
          [customerId, request.name, request.email.trim(), emailNormalized, request.phone ?? null, request.address ?? null, request.locale, actor],
        );
        if (inserted.rowCount === 0) {
          const existing = await db.query<{ id: string }>(
            'SELECT id FROM customers WHERE email_normalized = $1 OR id = $2 ORDER BY (id = $2) DESC LIMIT 1',
            [emailNormalized, customerId],
          );
          const row = existing.rows[0];
          if (!row) throw ApplicationFailure.retryable('customer insert conflicted but no row was found', 'RegistrationRace');
          if (row.id !== customerId) return { outcome: 'duplicate', customerId: row.id };
          // Our own earlier attempt committed: its audit rows and message are already there.
        }

        const fields: Array<[string, unknown]> = [
          ['name', request.name],
          ['email', request.email.trim()],
          ['phone', request.phone],
          ['address', request.address],
          ['locale', request.locale],
        ];
        for (const [field, value] of fields) {
          if (value === undefined) continue;
          await db.query(
            `INSERT INTO audit_log (customer_id, field, old_value, new_value, actor, process, workflow_id, idempotency_key)
             VALUES ($1, $2, NULL, $3, $4, 'registration', $5, $6)
             ON CONFLICT (idempotency_key) DO NOTHING`,
            [customerId, field, JSON.stringify(value), actor, workflowId, `${workflowId}:audit:${field}`],
          );
        }
        const message = await db.query<{ id: string }>(
          `INSERT INTO notification_outbox (customer_id, channel, recipient, template, payload, idempotency_key)
           VALUES ($1, 'email', $2, 'welcome', $3, $4)
           ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
           RETURNING id`,
          [customerId, request.email.trim(), JSON.stringify({ name: request.name, locale: request.locale }), `${workflowId}:welcome`],
        );
        return { outcome: 'created', customerId, welcomeMessageId: message.rows[0]!.id };
      });
    },
  };
}
