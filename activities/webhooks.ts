/**
 * Webhook delivery: one round for one subscription. Every subject (a customer, or a lead without
 * one) whose next event is due is worked through in event order, subjects side by side; a failure
 * (no answer within WEBHOOK_TIMEOUT, or any status but 2xx) stops that subject until its retry,
 * backing off exponentially, and a delivery failing for longer than WEBHOOK_DEAD_LETTER_AFTER is
 * dead-lettered (redeliverable through the API). A 410 Gone deactivates the subscription.
 * Each POST is signed as Standard Webhooks says (webhook-id, webhook-timestamp, webhook-signature).
 */
import { heartbeat } from '@temporalio/activity';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../src/config.js';
import { defaultConfig } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import {
  dueDeliveries,
  nextDueInMs,
  readSigningSubscription,
  recordAttempt,
  updateSubscription,
  type AttemptOutcome,
  type DueDelivery,
  type SigningSubscription,
} from '../src/db/repositories/webhooks.js';
import type { DeliveryRound, WebhookDeliveryInput } from '../src/domain/webhooks.js';

export type WebhookSettings = Config['webhooks'];

export interface WebhookActivityDeps {
  pool: Pool;
  webhooks?: WebhookSettings;
}

/** Deliveries fetched per round, subjects in flight at once, and how long a round starts new POSTs. */
const ROUND_SIZE = 200;
const SUBJECTS_IN_FLIGHT = 8;
const ROUND_BUDGET_MS = 60_000;

/** The signed POST of one event: the body as sent, and its Standard Webhooks headers. */
export function signedRequest(subscription: Pick<SigningSubscription, 'secrets'>, delivery: DueDelivery, now = new Date()) {
  const body = JSON.stringify({
    id: delivery.event.id,
    type: delivery.event.type,
    version: delivery.event.version,
    timestamp: delivery.event.occurredAt.toISOString(),
    data: delivery.event.data,
  });
  // During a rotation both secrets sign: a receiver with either one verifies.
  const signature = subscription.secrets.map((s) => new Webhook(s).sign(delivery.event.id, now, body)).join(' ');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'crm-process-engine-webhooks/1',
      'webhook-id': delivery.event.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    },
  };
}

async function post(url: string, request: ReturnType<typeof signedRequest>, timeoutMs: number): Promise<AttemptOutcome> {
  const started = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', headers: request.headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    // The body is not kept (it is the receiver's, and may hold anything); only whether it was 2xx.
    await res.body?.cancel().catch(() => undefined);
    const latencyMs = Math.round(performance.now() - started);
    return { statusCode: res.status, latencyMs, error: res.ok ? null : `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { statusCode: null, latencyMs: Math.round(performance.now() - started), error: String(reason).slice(0, 500) };
  }
}

/** 1, 2, 4, 8 … times the initial wait, at most the maximum, with a tenth of jitter so receivers coming back are not hit at once. */
export function backoffMs(attempts: number, settings: Pick<WebhookSettings, 'retryInitialMs' | 'retryMaxMs'>, random = Math.random): number {
  const base = Math.min(settings.retryMaxMs, settings.retryInitialMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.round(base * (0.9 + 0.2 * random()));
}

export function createWebhookActivities({ pool, webhooks = defaultConfig().webhooks }: WebhookActivityDeps) {
  return {
    /** One round of a subscription's deliveries; what the workflow needs to decide how long to wait. */
    async deliverWebhookRound({ subscriptionId }: WebhookDeliveryInput): Promise<DeliveryRound> {
      const round: DeliveryRound = {
        subscription: 'active',
        delivered: 0,
        failed: 0,
        deadLettered: 0,
        more: false,
        nextDueInMs: null,
        pollMs: webhooks.pollMs,
      };
      const subscription = await readSigningSubscription(pool, subscriptionId);
      if (!subscription) return { ...round, subscription: 'gone' };
      if (!subscription.active) return { ...round, subscription: 'inactive' };

      const due = await dueDeliveries(pool, subscriptionId, ROUND_SIZE);
      const subjects = new Map<string, DueDelivery[]>();
      for (const d of due) subjects.set(d.orderingKey, [...(subjects.get(d.orderingKey) ?? []), d]);
      const queue = [...subjects.values()];
      const deadline = Date.now() + ROUND_BUDGET_MS;

      const workSubject = async (deliveries: DueDelivery[]) => {
        for (const delivery of deliveries) {
          if (round.subscription !== 'active' || Date.now() > deadline) return;
          const outcome = await post(subscription.url, signedRequest(subscription, delivery), webhooks.timeoutMs);
          heartbeat();
          if (outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300) {
            await recordAttempt(pool, delivery.id, outcome, { status: 'delivered' });
            round.delivered++;
            continue;
          }
          if (outcome.statusCode === 410) {
            // The receiver says this endpoint is gone for good: stop sending; the delivery stays pending for a reactivation.
            await recordAttempt(pool, delivery.id, outcome, { status: 'pending', retryAt: new Date() });
            await updateSubscription(pool, subscriptionId, { active: false, deactivatedReason: 'the receiver answered 410 Gone' });
            round.subscription = 'inactive';
            return;
          }
          if (Date.now() - delivery.pendingSince.getTime() >= webhooks.deadLetterAfterMs) {
            // Given up: the subject's later events go on (redelivery through the API brings this one back).
            await recordAttempt(pool, delivery.id, outcome, { status: 'dead-lettered' });
            round.deadLettered++;
            continue;
          }
          await recordAttempt(pool, delivery.id, outcome, { status: 'pending', retryAt: new Date(Date.now() + backoffMs(delivery.attempts + 1, webhooks)) });
          round.failed++;
          return;
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(SUBJECTS_IN_FLIGHT, queue.length) }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) await workSubject(next);
        }),
      );
      if (round.subscription !== 'active') return round;
      round.nextDueInMs = await nextDueInMs(pool, subscriptionId);
      round.more = round.nextDueInMs === 0;
      return round;
    },
  };
}
