/**
 * Side effects of offers: the eligibility decision (by rule, recorded on the offer row), the offer
 * message behind the contact gate, and the outcome. Accepting changes the customer's products,
 * the offer and the confirmation message in one transaction under a lock on the offer row, so a
 * retried or repeated accept changes products once.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { recordEvent } from '../src/db/repositories/webhook-events.js';
import {
  CANCELLATION_REQUEST_WINDOW_DAYS,
  DOWNSELL_CHURN_RISK_THRESHOLD,
  ELIGIBILITY_RULES,
  type ContactRules,
  type EligibilityRule,
  type EligibilityVerdict,
  type OfferInput,
  type PresentOutcome,
} from '../src/domain/offers.js';
import { contactGate } from './retention.js';
import { hasMarketingConsent } from '../src/db/repositories/consents.js';
import { recordContactEvent } from '../src/db/repositories/contact-events.js';
import { queueMessage, queuedMessage } from '../src/db/repositories/outbox.js';
import { appendOfferEvent, type OfferRow } from '../src/db/repositories/offers.js';
import { PRODUCT_COLUMNS, type ProductRow } from '../src/db/repositories/products.js';

export interface OfferActivityDeps {
  pool: Pool;
}

const refuse = (rule: EligibilityRule, reason: string): EligibilityVerdict => ({
  eligible: false,
  rule,
  reason: `${ELIGIBILITY_RULES[rule]}: ${reason}`,
});

/** Applies the rules in order; the first that fails is the answer. */
async function judge(db: PoolClient, input: OfferInput, now: Date): Promise<EligibilityVerdict> {
  const customer = await db.query<{ status: string; churn_risk: string | null }>('SELECT status, churn_risk FROM customers WHERE id = $1 FOR UPDATE', [
    input.customerId,
  ]);
  const c = customer.rows[0];
  if (!c) throw ApplicationFailure.nonRetryable(`customer ${input.customerId} does not exist`, 'CustomerNotFound');
  if (c.status !== 'active') return refuse('customer-active', `the customer is ${c.status}`);
  const suppressed = await db.query<{ reason: string }>('SELECT reason FROM suppressions WHERE customer_id = $1 AND lifted_at IS NULL LIMIT 1', [
    input.customerId,
  ]);
  if (suppressed.rows[0]) return refuse('contact-allowed', `active suppression (${suppressed.rows[0].reason})`);
  // An offer is marketing: it is made only to a customer who agreed to offers by e-mail.
  if (!(await hasMarketingConsent(db, input.customerId, 'email'))) return refuse('contact-allowed', 'no marketing consent for email');

  const products = await db.query<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE id = $1`, [input.productId]);
  const product = products.rows[0];
  if (!product) return refuse('product-on-sale', `there is no product ${input.productId}`);
  if (!product.active) return refuse('product-on-sale', `${product.id} is no longer sold`);

  const open = await db.query<{ id: string }>(
    "SELECT id FROM offers WHERE customer_id = $1 AND product_id = $2 AND status IN ('pending', 'presented') AND valid_until > $3 AND id <> $4 LIMIT 1",
    [input.customerId, product.id, now, input.offerId],
  );
  if (open.rows[0]) return refuse('no-open-offer', `offer ${open.rows[0].id} of ${product.id} is still open`);

  const owned = await db.query<ProductRow>(
    `SELECT p.id, p.name, p.category, p.tier, p.price, p.active FROM customer_products cp JOIN products p ON p.id = cp.product_id
     WHERE cp.customer_id = $1 AND cp.ended_at IS NULL ORDER BY p.tier DESC, p.id`,
    [input.customerId],
  );
  const inCategory = owned.rows.filter((o) => o.category === product.category);
  const price = input.price ?? Number(product.price);
  const ok = (replaces: string | null): EligibilityVerdict => ({
    eligible: true,
    replacesProductId: replaces,
    price,
    productName: product.name,
  });

  switch (input.kind) {
    case 'upsell': {
      const current = inCategory[0];
      if (!current) return refuse('upsell-higher-tier-in-owned-category', `the customer owns no ${product.category} product`);
      if (current.tier >= product.tier)
        return refuse('upsell-higher-tier-in-owned-category', `the customer owns ${current.id} (tier ${current.tier}); ${product.id} is tier ${product.tier}`);
      return ok(current.id);
    }
    case 'cross-sell': {
      if (inCategory[0]) return refuse('cross-sell-complementary-category-not-owned', `the customer already owns ${inCategory[0].id} in ${product.category}`);
      const categories = [...new Set(owned.rows.map((o) => o.category))];
      const complement = await db.query<{ category: string }>(
        'SELECT category FROM category_complements WHERE complement = $1 AND category = ANY($2) LIMIT 1',
        [product.category, categories],
      );
      if (!complement.rows[0]) {
        return refuse(
          'cross-sell-complementary-category-not-owned',
          categories.length ? `${product.category} complements none of ${categories.join(', ')}` : 'the customer owns no product yet',
        );
      }
      return ok(null);
    }
    case 'downsell': {
      const current = inCategory[0];
      if (!current || current.tier <= product.tier) {
        return refuse(
          'downsell-lower-tier-for-customer-at-risk',
          current
            ? `the customer owns ${current.id} (tier ${current.tier}); ${product.id} is tier ${product.tier}`
            : `the customer owns no ${product.category} product`,
        );
      }
      const risk = c.churn_risk === null ? null : Number(c.churn_risk);
      if (risk !== null && risk >= DOWNSELL_CHURN_RISK_THRESHOLD) return ok(current.id);
      const since = new Date(now.getTime() - CANCELLATION_REQUEST_WINDOW_DAYS * 86_400_000);
      const asked = await db.query("SELECT 1 FROM customer_events WHERE customer_id = $1 AND type = 'cancellation-request' AND occurred_at >= $2 LIMIT 1", [
        input.customerId,
        since,
      ]);
      if (asked.rows[0]) return ok(current.id);
      return refuse(
        'downsell-lower-tier-for-customer-at-risk',
        `churn risk ${risk ?? 'not scored'} is below ${DOWNSELL_CHURN_RISK_THRESHOLD} and no cancellation request in the last ${CANCELLATION_REQUEST_WINDOW_DAYS} days`,
      );
    }
  }
}

function verdictOf(row: OfferRow, productName: string): EligibilityVerdict {
  if (row.status === 'ineligible') return { eligible: false, rule: row.rule!, reason: row.reason ?? '' };
  return { eligible: true, replacesProductId: row.replaces_product_id, price: Number(row.price), productName };
}

async function lockOffer(db: PoolClient, offerId: string): Promise<OfferRow & { product_name: string; email: string; name: string }> {
  const { rows } = await db.query<OfferRow & { product_name: string; email: string; name: string }>(
    `SELECT o.*, p.name AS product_name, c.email, c.name FROM offers o
     JOIN products p ON p.id = o.product_id JOIN customers c ON c.id = o.customer_id
     WHERE o.id = $1 FOR UPDATE OF o`,
    [offerId],
  );
  if (!rows[0]) throw ApplicationFailure.nonRetryable(`offer ${offerId} does not exist`, 'OfferNotFound');
  return rows[0];
}

const KIND_LABEL: Record<string, string> = { upsell: 'Upgrade', 'cross-sell': 'Add-on', downsell: 'Lighter plan' };

export function createOfferActivities({ pool }: OfferActivityDeps) {
  return {
    /** Decides by rule and records the decision; a retry answers the recorded decision. */
    async decideOfferEligibility(input: OfferInput & { workflowId: string; now: string }): Promise<EligibilityVerdict> {
      return inTransaction(pool, async (db) => {
        const existing = await db.query<OfferRow & { product_name: string }>(
          'SELECT o.*, p.name AS product_name FROM offers o JOIN products p ON p.id = o.product_id WHERE o.id = $1',
          [input.offerId],
        );
        if (existing.rows[0]) return verdictOf(existing.rows[0], existing.rows[0].product_name);

        const now = new Date(input.now);
        const verdict = await judge(db, input, now);
        // An offer of a product that does not exist has nothing to point at: its refusal lives in the workflow only.
        if (!verdict.eligible && verdict.rule === 'product-on-sale' && !(await db.query('SELECT 1 FROM products WHERE id = $1', [input.productId])).rows[0]) {
          return verdict;
        }
        const product = await db.query<{ price: string }>('SELECT price FROM products WHERE id = $1', [input.productId]);
        await db.query(
          `INSERT INTO offers (id, customer_id, kind, product_id, replaces_product_id, price, valid_until, status, rule, reason, campaign_id, workflow_id, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          [
            input.offerId,
            input.customerId,
            input.kind,
            input.productId,
            verdict.eligible ? verdict.replacesProductId : null,
            verdict.eligible ? verdict.price : (input.price ?? Number(product.rows[0]!.price)),
            input.validUntil,
            verdict.eligible ? 'pending' : 'ineligible',
            verdict.eligible ? null : verdict.rule,
            verdict.eligible ? null : verdict.reason,
            input.campaignId ?? null,
            input.workflowId,
            input.actor,
            // In the workflow's time, like every other moment of the offer (and of the enrollment that made it).
            now,
          ],
        );
        await appendOfferEvent(db, input.offerId, { status: 'checking', at: now, actor: input.actor, key: 'checking' });
        if (!verdict.eligible) {
          await appendOfferEvent(db, input.offerId, {
            status: 'ineligible',
            at: now,
            actor: 'system',
            reason: verdict.reason,
            key: 'ineligible',
          });
          await recordContactEvent(db, {
            customerId: input.customerId,
            channel: 'note',
            direction: 'internal',
            kind: 'offer-refused',
            summary: `${input.kind} offer of ${input.productId} not made: ${verdict.reason}`,
            occurredAt: now,
            recordedBy: input.actor,
            process: 'offers',
            workflowId: input.workflowId,
            idempotencyKey: `offer:${input.offerId}:refused`,
          });
        }
        return verdict;
      });
    },

    /** Sends the offer if the contact gate lets it (a campaign's offer also keeps quiet hours and the weekly cap). */
    async presentOffer(input: { offerId: string; now: string; contactRules?: ContactRules; workflowId: string }): Promise<PresentOutcome> {
      return inTransaction(pool, async (db) => {
        const offer = await lockOffer(db, input.offerId);
        const key = `offer:${input.offerId}:presented`;
        if (offer.status !== 'pending') {
          const sent = await queuedMessage(db, key);
          if (sent) return { outcome: 'presented', messageId: sent.id };
          throw ApplicationFailure.nonRetryable(`offer ${input.offerId} is ${offer.status}`, 'OfferNotOpen');
        }
        const now = new Date(input.now);
        const gate = await contactGate(db, offer.customer_id, now, input.contactRules);
        if (gate.outcome === 'deferred') {
          // Held back, not refused: the record says why and until when.
          await appendOfferEvent(db, offer.id, {
            status: 'deferred',
            at: now,
            actor: 'system',
            reason: `${gate.why} until ${gate.resumeAt}`,
            key: `deferred:${gate.resumeAt}`,
          });
        }
        // Consent withdrawn since the offer was decided: it is withdrawn, with the reason on record.
        if (gate.outcome === 'no-consent') return { outcome: 'suppressed', reason: gate.reason };
        if (gate.outcome !== 'clear') return gate;
        const price = Number(offer.price).toFixed(2);
        const messageId = await queueMessage(db, {
          customerId: offer.customer_id,
          channel: 'email',
          recipient: gate.email,
          template: 'offer',
          payload: {
            name: gate.name,
            offerId: offer.id,
            kind: offer.kind,
            label: KIND_LABEL[offer.kind],
            productName: offer.product_name,
            price,
            validUntil: offer.valid_until.toISOString(),
          },
          idempotencyKey: key,
        });
        await recordContactEvent(db, {
          customerId: offer.customer_id,
          channel: 'email',
          direction: 'outbound',
          kind: 'offer',
          summary: `${offer.kind} offer: ${offer.product_name} at ${price} until ${offer.valid_until.toISOString()} (offer ${offer.id})`,
          occurredAt: now,
          recordedBy: 'system',
          process: 'offers',
          workflowId: input.workflowId,
          idempotencyKey: key,
        });
        await db.query("UPDATE offers SET status = 'presented', presented_at = $2 WHERE id = $1", [offer.id, now]);
        await appendOfferEvent(db, offer.id, {
          status: 'presented',
          at: now,
          actor: 'system',
          reason: `offer message ${messageId}`,
          key: 'presented',
        });
        return { outcome: 'presented', messageId };
      });
    },

    /**
     * Accept: the new product replaces the one it upgrades or downgrades, the offer is accepted and
     * the confirmation queued, all or nothing. A repeat finds the offer accepted and changes nothing.
     */
    async acceptOffer(input: {
      offerId: string;
      actor: string;
      now: string;
      workflowId: string;
    }): Promise<{ confirmationMessageId: string; changed: boolean }> {
      return inTransaction(pool, async (db) => {
        const offer = await lockOffer(db, input.offerId);
        const key = `offer:${input.offerId}:confirmation`;
        if (offer.status === 'accepted') {
          return { confirmationMessageId: (await queuedMessage(db, key))!.id, changed: false };
        }
        if (offer.status !== 'presented') throw ApplicationFailure.nonRetryable(`offer ${input.offerId} is ${offer.status}, not open`, 'OfferNotOpen');
        const now = new Date(input.now);
        if (offer.replaces_product_id) {
          await db.query('UPDATE customer_products SET ended_at = $3, ended_reason = $4 WHERE customer_id = $1 AND product_id = $2 AND ended_at IS NULL', [
            offer.customer_id,
            offer.replaces_product_id,
            now,
            `replaced by ${offer.product_id} (${offer.kind} offer ${offer.id})`,
          ]);
        }
        await db.query(
          `INSERT INTO customer_products (customer_id, product_id, price, source, source_id, acquired_at)
           VALUES ($1, $2, $3, 'offer', $4, $5)
           ON CONFLICT (customer_id, product_id) WHERE ended_at IS NULL DO NOTHING`,
          [offer.customer_id, offer.product_id, offer.price, offer.id, now],
        );
        await db.query("UPDATE offers SET status = 'accepted', decided_at = $2, decided_by = $3 WHERE id = $1", [offer.id, now, input.actor]);
        const confirmationMessageId = await queueMessage(db, {
          customerId: offer.customer_id,
          channel: 'email',
          recipient: offer.email,
          template: 'offer-confirmation',
          payload: {
            name: offer.name,
            offerId: offer.id,
            productName: offer.product_name,
            price: Number(offer.price).toFixed(2),
            replaces: offer.replaces_product_id,
          },
          idempotencyKey: key,
        });
        await recordContactEvent(db, {
          customerId: offer.customer_id,
          channel: 'email',
          direction: 'outbound',
          kind: 'offer-confirmation',
          summary: `Offer ${offer.id} accepted (recorded by ${input.actor}): ${offer.product_name}${offer.replaces_product_id ? ` replaces ${offer.replaces_product_id}` : ''}`,
          occurredAt: now,
          recordedBy: input.actor,
          process: 'offers',
          workflowId: input.workflowId,
          idempotencyKey: key,
        });
        await appendOfferEvent(db, offer.id, {
          status: 'accepted',
          at: now,
          actor: input.actor,
          reason: `confirmation ${confirmationMessageId}`,
          key: 'accepted',
        });
        await recordEvent(db, {
          type: 'offer.accepted',
          customerId: offer.customer_id,
          data: {
            offerId: offer.id,
            customerId: offer.customer_id,
            productId: offer.product_id,
            price: Number(offer.price),
            replacesProductId: offer.replaces_product_id ?? null,
            at: now.toISOString(),
          },
          idempotencyKey: `offer.accepted:${offer.id}`,
        });
        return { confirmationMessageId, changed: true };
      });
    },

    /** Decline, expiry or withdrawal: the offer closes and the reason is kept. */
    async closeOffer(input: {
      offerId: string;
      status: 'declined' | 'expired' | 'withdrawn';
      actor: string;
      reason: string;
      now: string;
      workflowId: string;
    }): Promise<void> {
      await inTransaction(pool, async (db) => {
        const offer = await lockOffer(db, input.offerId);
        if (offer.status !== 'pending' && offer.status !== 'presented') return;
        await db.query('UPDATE offers SET status = $2, reason = $3, decided_at = $4, decided_by = $5 WHERE id = $1', [
          offer.id,
          input.status,
          input.reason,
          input.now,
          input.actor,
        ]);
        await appendOfferEvent(db, offer.id, {
          status: input.status,
          at: input.now,
          actor: input.actor,
          reason: input.reason,
          key: input.status,
        });
        if (input.status === 'declined') {
          await recordEvent(db, {
            type: 'offer.declined',
            customerId: offer.customer_id,
            data: { offerId: offer.id, customerId: offer.customer_id, productId: offer.product_id, at: new Date(input.now).toISOString() },
            idempotencyKey: `offer.declined:${offer.id}`,
          });
        }
        await recordContactEvent(db, {
          customerId: offer.customer_id,
          channel: 'note',
          direction: 'internal',
          kind: `offer-${input.status}`,
          summary: `Offer ${offer.id} (${offer.kind}, ${offer.product_name}) ${input.status}: ${input.reason}`,
          occurredAt: new Date(input.now),
          recordedBy: input.actor,
          process: 'offers',
          workflowId: input.workflowId,
          idempotencyKey: `offer:${offer.id}:${input.status}`,
        });
      });
    },
  };
}
