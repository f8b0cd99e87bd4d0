/**
 * Retention campaigns.
 *
 * `campaignRun` (started by the Schedule `campaign-<id>` or a manual trigger): starting → enrolling
 * → completed (or skipped when the campaign is paused). Each execution enrolls one page of the
 * segment (keyset pagination) and continues-as-new with the cursor, so its history stays the same
 * size for any segment.
 *
 * `campaignEnrollment` (`campaign-<id>-<customerId>`): active → waiting / deferred → completed,
 * or ends early: goal-met (the goal event, an accepted offer), opted-out, suppressed. Walks the
 * steps; a message waits out quiet hours and the weekly cap instead of being sent, and is never
 * sent to a suppressed customer, nor without marketing consent for its channel (skipped, with the
 * reason). Customer events arrive as the `customerEvent` signal; a withdrawal of marketing consent
 * as `consentWithdrawn`, which ends it as opted-out when it uses that channel.
 *
 * `recordCustomerEvent`: records a customer event and tells the customer's active enrollments.
 */
import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_TYPES } from '../src/domain/refusals.js';
import { offerWorkflowId, type OfferResult } from '../src/domain/offers.js';
import {
  campaignRunStateQuery,
  contactRulesOf,
  customerEventSignal,
  enrollmentStateQuery,
  parseDuration,
  ENROLLMENT_LOG_KEPT,
  type CampaignRunInput,
  type CampaignRunResult,
  type CampaignRunState,
  type CampaignStep,
  type CustomerEventInput,
  type CustomerEventResult,
  type EnrollmentCarried,
  type EnrollmentInput,
  type EnrollmentLogEntry,
  type EnrollmentState,
  type EnrollmentStatus,
} from '../src/domain/retention.js';
import { CrmCampaignId, CrmCustomerId, CrmOfferKind, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { consentWithdrawnSignal } from '../src/domain/consent.js';
import { DELIVERY_GRACE, offer } from './offers.js';
import { deliver, type DeliveryTracker } from './notifications.js';
import { HistoryBudget } from './history-budget.js';

/**
 * A `wait` step wakes at each signal and continues as new when the history budget is spent (a
 * customer with many events during a long wait). Enrollments recorded before wait in one timer.
 */
const ENROLLMENT_BUDGET_PATCH = 'enrollment-history-budget';

// No attempt limit: a campaign's steps are idempotent writes of the record, and the only failures that pass are
// PostgreSQL outages, which a retry outlasts (an outage delays the process, never loses a step).
// What no retry mends (a refused rule, a missing row) is typed non-retryable and ends the step at once.
const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES] };

const { beginCampaignRun, finishCampaignRun, sendCampaignMessage, recordCustomerEventRow } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry,
});
// One short idempotent insert or update each: local activities spare the server an activity task per
// step, which is what lets a run enroll thousands of customers quickly.
const { recordEnrollmentStep, closeEnrollment } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry,
});
const { enrollSegmentPage } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry,
});

export const DEFAULT_PAGE_SIZE = 500;
export const DEFAULT_ENROLL_CONCURRENCY = 20;
/** A message held back longer than this (quiet hours and caps together) is skipped, not sent late. */
const MAX_MESSAGE_DEFERRAL_MS = 14 * 86_400_000;
const DEFAULT_OFFER_VALIDITY_MS = 14 * 86_400_000;

export async function campaignRun(input: CampaignRunInput): Promise<CampaignRunResult> {
  const info = workflowInfo();
  const runKey = input.runKey ?? info.workflowId;
  const startedAt = input.startedAt ?? new Date().toISOString();
  const state: CampaignRunState = {
    campaignId: input.campaignId,
    runKey,
    status: input.snapshot ? 'enrolling' : 'starting',
    pages: input.pages ?? 0,
    cursor: input.cursor,
    totals: input.totals ?? { selected: 0, enrolled: 0, skipped: 0 },
  };
  setHandler(campaignRunStateQuery, () => state);
  const done = (status: 'completed' | 'skipped', reason?: string): CampaignRunResult => {
    state.status = status;
    state.reason = reason;
    upsertSearchAttributes([{ key: CrmStatus, value: status }]);
    return { runKey, status, pages: state.pages, reason, ...state.totals };
  };

  let snapshot = input.snapshot;
  if (!snapshot) {
    upsertSearchAttributes([
      { key: CrmProcess, value: CRM_PROCESS.retention },
      { key: CrmCampaignId, value: input.campaignId },
      { key: CrmStatus, value: 'enrolling' },
    ]);
    const begun = await beginCampaignRun({ campaignId: input.campaignId, runKey, now: startedAt });
    if (begun.status === 'skipped') return done('skipped', begun.reason);
    snapshot = begun.snapshot;
    state.status = 'enrolling';
  }

  const page = await enrollSegmentPage({
    campaignId: input.campaignId,
    runKey,
    snapshot,
    cursor: input.cursor,
    limit: input.pageSize ?? DEFAULT_PAGE_SIZE,
    concurrency: input.concurrency ?? DEFAULT_ENROLL_CONCURRENCY,
    now: startedAt,
    pagesBefore: state.pages,
    totalsBefore: state.totals,
  });
  state.pages += 1;
  state.totals = { selected: page.selected, enrolled: page.enrolled, skipped: page.skipped };
  if (page.nextCursor) {
    // One page per execution: the history of a run never grows with the segment.
    return continueAsNew<typeof campaignRun>({
      ...input,
      runKey,
      startedAt,
      cursor: page.nextCursor,
      pages: state.pages,
      totals: state.totals,
      snapshot,
    });
  }
  await finishCampaignRun({ runKey, now: new Date().toISOString() });
  return done('completed');
}

export interface EnrollmentResult {
  status: EnrollmentStatus;
  reason: string;
  messagesSent: number;
}

export async function campaignEnrollment(input: EnrollmentInput): Promise<EnrollmentResult> {
  const { workflowId } = workflowInfo();
  const { definition, carried } = input;
  const budget = new HistoryBudget(input.limits);
  let signals = 0;
  const state: EnrollmentState = carried?.state ?? {
    campaignId: input.campaignId,
    campaignName: input.campaignName,
    customerId: input.customerId,
    runKey: input.runKey,
    status: 'active',
    step: 0,
    steps: definition.steps,
    goal: definition.goal,
    log: [{ at: input.enrolledAt, step: null, type: 'enrolled', outcome: 'enrolled', detail: `run ${input.runKey}` }],
  };
  let end: { status: EnrollmentStatus; reason: string } | undefined;
  let messagesSent = carried?.messagesSent ?? 0;
  const now = () => new Date().toISOString();
  const log = (entry: Omit<EnrollmentLogEntry, 'at'>) => {
    state.log.push({ at: now(), ...entry });
    if (state.log.length > ENROLLMENT_LOG_KEPT) state.log.splice(1, state.log.length - ENROLLMENT_LOG_KEPT);
  };
  const setStatus = (status: EnrollmentStatus) => {
    if (state.status === status) return;
    state.status = status;
    upsertSearchAttributes([{ key: CrmStatus, value: status }]);
  };
  const finish = (status: EnrollmentStatus, reason: string) => {
    end ??= { status, reason };
  };
  // The log entry goes to PostgreSQL with the step's trace, so "why" is answered without this workflow.
  const record = (step: number, key: string, summary: string, entry: Omit<EnrollmentLogEntry, 'at' | 'step'>) =>
    recordEnrollmentStep({
      campaignId: input.campaignId,
      customerId: input.customerId,
      runKey: input.runKey,
      step,
      summary,
      now: now(),
      workflowId,
      key,
      entry,
    });

  setHandler(enrollmentStateQuery, () => state);
  setHandler(customerEventSignal, (event) => {
    budget.signal();
    signals++;
    log({ step: null, type: 'event', outcome: event.type, detail: `customer event ${event.eventId} at ${event.occurredAt}` });
    if (event.type === 'opt-out') finish('opted-out', `customer opted out (event ${event.eventId})`);
    else if (event.type === 'complaint') finish('suppressed', `customer complained (event ${event.eventId}); contact suppressed until the complaint is closed`);
    else if (definition.goal?.type === 'customer-event' && definition.goal.event === event.type)
      finish('goal-met', `goal: ${event.type} (event ${event.eventId})`);
  });
  // Withdrawn marketing consent ends the enrollment at once when it uses that channel (an offer goes by e-mail).
  const channels = new Set<string>(definition.steps.map((step) => (step.type === 'message' ? step.channel : step.type === 'offer' ? 'email' : '')));
  setHandler(consentWithdrawnSignal, (notice) => {
    budget.signal();
    signals++;
    const detail = `marketing consent for ${notice.channel} withdrawn (${notice.method}, consent ${notice.consentId})`;
    log({ step: null, type: 'event', outcome: 'consent-withdrawn', detail });
    if (channels.has(notice.channel)) finish('opted-out', detail);
  });

  let lastOffer: OfferResult | undefined;
  const deliveries: DeliveryTracker = { open: 0 };
  let offerOpen = false;

  const runMessage = async (i: number, step: Extract<CampaignStep, { type: 'message' }>) => {
    const firstTry = Date.now();
    for (let attempt = 0; !end; attempt++) {
      const r = await sendCampaignMessage({
        enrollment: input,
        goal: definition.goal,
        step: i,
        attempt,
        channel: step.channel,
        template: step.template,
        rules: contactRulesOf(definition),
        now: now(),
        workflowId,
      });
      switch (r.outcome) {
        case 'sent':
          messagesSent++;
          log({ step: i, type: 'message', outcome: 'sent', detail: `${step.channel} ${step.template}, message ${r.messageId}` });
          await deliver(r.messageId, `Campaign "${input.campaignName}" step ${i + 1}`, input.customerId, deliveries);
          return;
        case 'goal-met':
          finish('goal-met', `goal: ${r.reason}`);
          return;
        case 'suppressed':
          log({ step: i, type: 'message', outcome: 'not sent', detail: r.reason });
          finish('suppressed', r.reason);
          return;
        case 'skipped':
          log({ step: i, type: 'message', outcome: 'skipped', detail: r.reason });
          return;
        case 'deferred': {
          const resumeAt = Date.parse(r.resumeAt);
          if (resumeAt - firstTry > MAX_MESSAGE_DEFERRAL_MS) {
            const entry = { type: 'message' as const, outcome: 'skipped', detail: `${r.why}: held back more than 14 days` };
            log({ step: i, ...entry });
            await record(i, 'skipped', `Step ${i + 1} (message ${step.template}) skipped: held back by ${r.why} for more than 14 days`, entry);
            return;
          }
          log({ step: i, type: 'message', outcome: 'deferred', detail: `${r.why} until ${r.resumeAt}` });
          setStatus('deferred');
          await condition(() => end !== undefined, Math.max(1_000, resumeAt - Date.now()));
          setStatus('active');
        }
      }
    }
  };

  const runOffer = async (i: number, step: Extract<CampaignStep, { type: 'offer' }>) => {
    const offerId = uuid4();
    const validUntil = new Date(Date.now() + (step.validFor ? parseDuration(step.validFor)! : DEFAULT_OFFER_VALIDITY_MS)).toISOString();
    lastOffer = undefined;
    offerOpen = true;
    const child = await startChild(offer, {
      workflowId: offerWorkflowId(offerId),
      args: [
        {
          offerId,
          customerId: input.customerId,
          kind: step.kind,
          productId: step.productId,
          validUntil,
          actor: `campaign:${input.campaignId}`,
          campaignId: input.campaignId,
          contactRules: contactRulesOf(definition),
        },
      ],
      // The offer stays open for its validity even when the enrollment ends first.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: CrmCustomerId, value: input.customerId },
        { key: CrmProcess, value: CRM_PROCESS.offers },
        { key: CrmStatus, value: 'checking' },
        { key: CrmCampaignId, value: input.campaignId },
        { key: CrmOfferKind, value: step.kind },
      ],
      staticSummary: `${step.kind} ${step.productId} from campaign "${input.campaignName}"`,
    });
    log({
      step: i,
      type: 'offer',
      outcome: 'started',
      detail: `${step.kind} ${step.productId}, offer ${offerId} valid until ${validUntil}`,
    });
    child.result().then(
      (result) => {
        offerOpen = false;
        lastOffer = result;
        state.lastOffer = result;
        log({ step: i, type: 'offer', outcome: result.status, detail: result.reason ?? `offer ${offerId}` });
        if (result.status === 'accepted' && definition.goal?.type === 'offer-accepted') finish('goal-met', `goal: offer ${offerId} accepted`);
        if (result.status === 'withdrawn') finish('suppressed', result.reason ?? 'offer withdrawn');
      },
      (err: Error) => {
        offerOpen = false;
        log({ step: i, type: 'offer', outcome: 'failed', detail: err.message });
      },
    );
  };

  // The run that starts an enrollment sets its search attributes (customer, process, campaign, status).
  for (let i = carried?.step ?? 0; i < definition.steps.length && !end; i++) {
    state.step = i;
    const step = definition.steps[i]!;
    switch (step.type) {
      case 'message':
        await runMessage(i, step);
        break;
      case 'wait': {
        const ms = parseDuration(step.duration)!;
        // A run continued as new in this step goes on waiting until the same time.
        const resumed = carried !== undefined && i === carried.step;
        const until = resumed ? carried.waitUntil : new Date(Date.now() + ms).toISOString();
        if (!resumed) {
          const entry = { type: 'wait' as const, outcome: 'waiting', detail: `until ${until}` };
          log({ step: i, ...entry });
          await record(i, 'wait', `Step ${i + 1}: waiting ${step.duration} (until ${until})`, entry);
        }
        setStatus('waiting');
        if (resumed || patched(ENROLLMENT_BUDGET_PATCH)) {
          const untilMs = Date.parse(until);
          while (end === undefined && Date.now() < untilMs) {
            if (!offerOpen && budget.exhausted()) {
              await condition(allHandlersFinished);
              await condition(() => deliveries.open === 0, DELIVERY_GRACE);
              if (end === undefined) {
                const next: EnrollmentCarried = { state, step: i, waitUntil: until, messagesSent };
                await continueAsNew<typeof campaignEnrollment>({ ...input, carried: next });
              }
            }
            const seen = signals;
            await condition(() => end !== undefined || signals !== seen, Math.max(1, untilMs - Date.now()));
          }
        } else {
          await condition(() => end !== undefined, ms);
        }
        setStatus('active');
        break;
      }
      case 'offer':
        await runOffer(i, step);
        break;
      case 'wait-for-response': {
        setStatus('waiting');
        const answered = await condition(() => end !== undefined || !offerOpen, parseDuration(step.timeout)!);
        setStatus('active');
        const outcome = answered && lastOffer ? `offer ${lastOffer.status}` : end ? 'ended while waiting' : `no response within ${step.timeout}`;
        log({ step: i, type: 'wait-for-response', outcome });
        await record(i, 'response', `Step ${i + 1}: ${outcome}`, { type: 'wait-for-response', outcome });
        break;
      }
    }
  }
  state.step = definition.steps.length;
  const final = end ?? { status: 'completed' as const, reason: 'all steps done' };
  await closeEnrollment({
    campaignId: input.campaignId,
    customerId: input.customerId,
    runKey: input.runKey,
    status: final.status,
    reason: final.reason,
    now: now(),
    workflowId,
  });
  log({ step: null, type: 'end', outcome: final.status, detail: final.reason });
  setStatus(final.status);
  await condition(() => deliveries.open === 0, DELIVERY_GRACE);
  return { status: final.status, reason: final.reason, messagesSent };
}

export async function recordCustomerEvent(input: CustomerEventInput): Promise<CustomerEventResult> {
  const { workflowId } = workflowInfo();
  upsertSearchAttributes([
    { key: CrmCustomerId, value: input.customerId },
    { key: CrmProcess, value: CRM_PROCESS.retention },
    { key: CrmStatus, value: input.event.type },
  ]);
  const { enrollments, ...recorded } = await recordCustomerEventRow({ ...input, workflowId, now: new Date().toISOString() });
  const notice = { eventId: input.eventId, type: input.event.type, occurredAt: input.event.occurredAt };
  // An enrollment that ended meanwhile cannot be signalled; it no longer needs to know.
  const outcomes = await Promise.allSettled(enrollments.map((id) => getExternalWorkflowHandle(id).signal(customerEventSignal, notice)));
  return { ...recorded, notifiedEnrollments: enrollments.filter((_, i) => outcomes[i]!.status === 'fulfilled') };
}
