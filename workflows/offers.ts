/**
 * An offer to one customer: upsell, cross-sell or downsell of one product.
 * States: checking → ineligible | (deferred →) presented → accepted | declined | expired;
 * withdrawn when the customer becomes uncontactable before the offer could go out.
 * Moved by: the eligibility rules (an activity), the contact gate (quiet hours and weekly cap for
 * campaign offers), the `respond` Update (accept or decline, from an agent or the customer), and
 * the validity timer. Ends with the outcome recorded; accept changes the customer's products and
 * sends a confirmation.
 */
import { allHandlersFinished, condition, patched, proxyActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  FINAL_OFFER_STATUSES,
  offerDecidedUpdate,
  offerRespondUpdate,
  offerStateQuery,
  type OfferDecision,
  type OfferInput,
  type OfferResult,
  type OfferState,
  type OfferStatus,
} from '../src/domain/offers.js';
import { REFUSAL, refuse, NON_RETRYABLE_TYPES } from '../src/domain/refusals.js';
import { CrmCustomerId, CrmOfferKind, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { deliver, type DeliveryTracker } from './notifications.js';
import { openTask, resolveTask } from './tasks.js';
import { taskCompletedSignal } from '../src/domain/tasks.js';

/**
 * An offer a person made (not a campaign's) gives them a follow-up task once it is presented, due
 * halfway to its expiry; the customer's answer or the expiry closes it. Offers started before replay without it.
 */
const FOLLOW_UP_PATCH = 'offer-follow-up-task';

// No attempt limit: an offer's steps are idempotent writes of the record, and the only failures that pass are
// PostgreSQL outages, which a retry outlasts (an outage delays the process, never loses a step).
// What no retry mends (a refused rule, a missing row) is typed non-retryable and ends the step at once.
const { decideOfferEligibility, presentOffer, acceptOffer, closeOffer } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES, 'OfferNotOpen'],
  },
});

export async function offer(input: OfferInput): Promise<OfferResult> {
  const { workflowId } = workflowInfo();
  const state: OfferState = {
    offerId: input.offerId,
    customerId: input.customerId,
    kind: input.kind,
    productId: input.productId,
    replacesProductId: null,
    price: input.price ?? null,
    validUntil: input.validUntil,
    status: 'checking',
    campaignId: input.campaignId,
    transitions: [{ status: 'checking', at: new Date().toISOString(), actor: input.actor }],
  };
  let response: { decision: OfferDecision; actor: string } | undefined;
  const deliveries: DeliveryTracker = { open: 0 };

  const move = (status: OfferStatus, actor: string, reason?: string) => {
    state.status = status;
    state.transitions.push({ status, at: new Date().toISOString(), actor, reason });
    upsertSearchAttributes([{ key: CrmStatus, value: status }]);
  };
  const isFinal = () => FINAL_OFFER_STATUSES.includes(state.status);

  setHandler(offerStateQuery, () => state);
  setHandler(offerDecidedUpdate, async () => {
    await condition(() => state.status !== 'checking');
    return state;
  });
  setHandler(
    offerRespondUpdate,
    async (r) => {
      response ??= r;
      await condition(isFinal);
      return state;
    },
    {
      validator: ({ decision }) => {
        const settled = state.status === 'accepted' || state.status === 'declined';
        const repeated = (state.status === 'accepted' && decision === 'accept') || (state.status === 'declined' && decision === 'decline');
        if (repeated || (response && response.decision === decision)) return;
        if (response || settled)
          refuse(REFUSAL.conflict, `the offer was already ${response?.decision === 'accept' || state.status === 'accepted' ? 'accepted' : 'declined'}`);
        if (state.status === 'checking' || state.status === 'deferred') refuse(REFUSAL.conflict, 'the offer has not been sent to the customer yet');
        if (state.status !== 'presented') refuse(REFUSAL.conflict, `the offer is ${state.status}`);
        if (Date.now() >= Date.parse(state.validUntil)) refuse(REFUSAL.expired, `the offer expired at ${state.validUntil}`);
      },
    },
  );

  setHandler(taskCompletedSignal, (e) => {
    if (!state.followUp || e.taskId !== state.followUp.taskId) return;
    state.followUp = { ...state.followUp, open: false, doneAt: e.at, outcome: e.outcome, actor: e.actor };
  });

  const result = async (): Promise<OfferResult> => {
    if (state.followUp?.open) {
      state.followUp.open = false;
      const answered = state.status === 'accepted' || state.status === 'declined';
      await resolveTask(state.followUp.taskId, { status: answered ? 'done' : 'cancelled', reason: `the offer was ${state.status}`, actor: 'system' });
    }
    await condition(() => deliveries.open === 0, DELIVERY_GRACE);
    await condition(allHandlersFinished);
    return { offerId: state.offerId, status: state.status, rule: state.rule, reason: state.reason };
  };

  upsertSearchAttributes([
    { key: CrmCustomerId, value: input.customerId },
    { key: CrmProcess, value: CRM_PROCESS.offers },
    { key: CrmOfferKind, value: input.kind },
  ]);
  const verdict = await decideOfferEligibility({ ...input, workflowId, now: new Date().toISOString() });
  if (!verdict.eligible) {
    state.rule = verdict.rule;
    state.reason = verdict.reason;
    move('ineligible', 'system', verdict.reason);
    return result();
  }
  state.replacesProductId = verdict.replacesProductId;
  state.price = verdict.price;

  const expiresAt = Date.parse(input.validUntil);
  const untilExpiry = () => Math.max(0, expiresAt - Date.now());

  // The gate may hold a campaign's offer back (quiet hours, weekly cap); it stays valid meanwhile.
  for (;;) {
    if (untilExpiry() === 0) {
      await closeOffer({
        offerId: input.offerId,
        status: 'expired',
        actor: 'system',
        reason: 'expired before it could be sent',
        now: new Date().toISOString(),
        workflowId,
      });
      move('expired', 'system', 'expired before it could be sent');
      return result();
    }
    const presented = await presentOffer({
      offerId: input.offerId,
      now: new Date().toISOString(),
      contactRules: input.contactRules,
      workflowId,
    });
    if (presented.outcome === 'presented') {
      move('presented', 'system', `offer message ${presented.messageId}`);
      await deliver(presented.messageId, 'Offer message', input.customerId, deliveries);
      if (!input.campaignId && patched(FOLLOW_UP_PATCH)) {
        const task = await openTask({
          kind: 'offer-follow-up',
          title: `Follow up the ${input.kind} offer ${input.offerId}`,
          ownerId: input.actor,
          orAccountManager: true,
          dueInMs: Math.max(60_000, Math.floor(untilExpiry() / 2)),
          customerId: input.customerId,
          process: CRM_PROCESS.offers,
          step: 'follow-up-task',
        });
        if (task) state.followUp = { taskId: task.taskId, open: true };
      }
      break;
    }
    if (presented.outcome === 'suppressed') {
      await closeOffer({
        offerId: input.offerId,
        status: 'withdrawn',
        actor: 'system',
        reason: presented.reason,
        now: new Date().toISOString(),
        workflowId,
      });
      state.reason = presented.reason;
      move('withdrawn', 'system', presented.reason);
      return result();
    }
    if (state.status !== 'deferred') move('deferred', 'system', `${presented.why} until ${presented.resumeAt}`);
    await sleep(Math.min(untilExpiry(), Math.max(1_000, Date.parse(presented.resumeAt) - Date.now())));
  }

  const answered = await condition(() => response !== undefined, untilExpiry());
  if (!answered || !response) {
    await closeOffer({
      offerId: input.offerId,
      status: 'expired',
      actor: 'system',
      reason: `no answer by ${input.validUntil}`,
      now: new Date().toISOString(),
      workflowId,
    });
    state.reason = `no answer by ${input.validUntil}`;
    move('expired', 'system', state.reason);
  } else if (response.decision === 'accept') {
    const accepted = await acceptOffer({ offerId: input.offerId, actor: response.actor, now: new Date().toISOString(), workflowId });
    move('accepted', response.actor, `confirmation ${accepted.confirmationMessageId}`);
    await deliver(accepted.confirmationMessageId, 'Offer confirmation', input.customerId, deliveries);
  } else {
    await closeOffer({
      offerId: input.offerId,
      status: 'declined',
      actor: response.actor,
      reason: 'declined by the customer',
      now: new Date().toISOString(),
      workflowId,
    });
    move('declined', response.actor);
  }
  return result();
}

/** How long a finished process waits for its last messages to be delivered before it closes. */
export const DELIVERY_GRACE = '1 hour';
