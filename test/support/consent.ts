/**
 * Consent for seeded customers: marketing goes only to customers who agreed, so tests that send
 * campaigns or offers to customers they insert directly record that agreement as an import would.
 */
import type { Pool } from '../../src/db/pool.js';

export async function grantMarketingConsent(pool: Pool, customerIds: string[], channels: Array<'email' | 'sms' | 'phone'> = ['email', 'sms']): Promise<void> {
  await pool.query(
    `INSERT INTO consent_events (id, customer_id, channel, purpose, action, method, text_version, source, occurred_at, recorded_by, idempotency_key)
     SELECT gen_random_uuid(), c, ch, 'marketing', 'grant', 'import', 'marketing-' || ch || '-v1', 'test seed', now() - interval '1 year', 'test',
            'seed:' || c || ':' || ch
     FROM unnest($1::uuid[]) AS c CROSS JOIN unnest($2::text[]) AS ch
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [customerIds, channels],
  );
}
