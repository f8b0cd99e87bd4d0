/**
 * Delivery of outbound events to one webhook subscription (`webhook-<subscription id>`).
 * States: delivering (a round runs), waiting (for a commit's `wake` signal, the next retry, or the
 * poll interval, whichever comes first). Ends when the subscription is deactivated or deleted; a
 * new event, redelivery or reactivation starts it again (signal-with-start). What is pending, when
 * it is retried and when it is dead-lettered lives in PostgreSQL (`webhook_deliveries`), so the
 * workflow holds no state but the subscription id and continues as new after a bounded number of
 * rounds: its history stays short however long it runs.
 */
import { condition, continueAsNew, patched, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { wakeSignal, type WebhookDeliveryInput } from '../src/domain/webhooks.js';
import { CrmStatus } from '../src/domain/search-attributes.js';

const { deliverWebhookRound } = proxyActivities<Activities>({
  // A round stops starting POSTs after a minute; the last ones may take WEBHOOK_TIMEOUT (at most 2 minutes).
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '3 minutes',
  // Only the database can fail a round (HTTP failures are the round's result): retried without end,
  // as every record write is, because the outbox must drain once PostgreSQL is back.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const WAKE_DURING_LAST_ROUND_PATCH = 'webhook-wake-during-last-round';

/** Rounds per run before continue-as-new: each is an activity and a timer (about 8 events). */
const ROUNDS_PER_RUN = 250;

export async function webhookDelivery(input: WebhookDeliveryInput): Promise<'inactive' | 'gone'> {
  let woken = false;
  setHandler(wakeSignal, () => {
    woken = true;
  });
  for (let round = 0; round < ROUNDS_PER_RUN && !workflowInfo().continueAsNewSuggested; round++) {
    woken = false;
    const result = await deliverWebhookRound(input);
    if (result.subscription !== 'active') {
      // Woken during the round that found it inactive (reactivated meanwhile): that wake must not be
      // lost with this run, so look again. Runs that ended before replay as they ran.
      if (woken && patched(WAKE_DURING_LAST_ROUND_PATCH)) continue;
      upsertSearchAttributes([{ key: CrmStatus, value: result.subscription }]);
      return result.subscription;
    }
    if (result.more) continue;
    const waitMs = Math.min(result.nextDueInMs ?? result.pollMs, result.pollMs);
    await condition(() => woken, Math.max(waitMs, 50));
  }
  // A signal that came during the last round is not lost: the next run starts with a round.
  return continueAsNew<typeof webhookDelivery>(input);
}
