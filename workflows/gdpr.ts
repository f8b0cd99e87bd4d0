/**
 * GDPR requests of a customer: a copy of their data (Art. 15/20) and its erasure (Art. 17).
 *
 * Both start with a code sent to the contact point on record, so only the person can set them
 * off. Export: awaiting-verification → assembling → ready (fetched once) → retrieved, or
 * discarded when not fetched in time. Erasure (`gdpr-erasure-<customerId>`, one at a time):
 * awaiting-verification → grace-period (the customer is suppressed from promotion at once; the
 * request can be cancelled) → erasing → erased, or cancelled (suppression lifted).
 *
 * The subject is a customer (`customerId`), or a person known only as a lead (`email`): the same
 * steps, with the code sent to that address only when leads of no customer are held under it (so
 * the request looks the same from outside either way), the export made of those leads, and the
 * erasure ending their running funnels before it anonymises them. A lead request never touches a
 * customer's rows: a customer's data is the customer's own request.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  ERASURE_VERIFIED_CANCEL,
  cancelErasureUpdate,
  exportRetrievedSignal,
  gdprStateQuery,
  resendGdprCodeUpdate,
  verifyGdprUpdate,
  type GdprKind,
  type GdprRequest,
  type GdprRequestInput,
  type GdprState,
  type GdprStatus,
} from '../src/domain/gdpr.js';
import { coolingOffOf, durationMs, type VerificationTargetSpec } from '../src/domain/master-data.js';
import { REFUSAL, refuse } from '../src/domain/refusals.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { CodeVerification, REQUEST_ACTIVITY_RETRY, now } from './master-data.js';
import { deliver } from './notifications.js';

const acts = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: REQUEST_ACTIVITY_RETRY });

/** Added after the first release: runs recorded before it replay without writing their record. */
const GDPR_RECORD_PATCH = 'gdpr-request-record';
/**
 * GDPR became a process of its own after runs were tagged `CrmProcess='master-data'`: a run that
 * started before keeps that tag, so its history replays unchanged; new runs say 'gdpr'.
 */
const GDPR_PROCESS_PATCH = 'gdpr-own-process';
/**
 * The export goes only to the person, through a single-use link in the "ready" message, and a
 * verified erasure is cancelled only through the link in the "scheduled" message. Runs started
 * before replay their plain messages.
 */
const GDPR_LINKS_PATCH = 'gdpr-customer-links';
/**
 * Within the cooling-off period of a change of e-mail or phone, a request is confirmed from the
 * contact points on record before that change too: a takeover by a contact change cannot export
 * or erase alone. Runs started before ask the contact point on record only.
 */
const GDPR_PRIOR_CONTACT_PATCH = 'gdpr-prior-contact-points';

/** The codes a request needs: the contact point on record, and those before a recent contact change. */
async function targetsOf(input: GdprRequest): Promise<VerificationTargetSpec[]> {
  const onRecord: VerificationTargetSpec = { target: 'existing-contact', channel: 'email' };
  if (!input.customerId || !patched(GDPR_PRIOR_CONTACT_PATCH)) return [onRecord];
  const prior = await acts.priorContactTargets({ customerId: input.customerId, withinMs: durationMs(coolingOffOf(input.policy)) });
  return [onRecord, ...prior];
}

/** Added with crypto-shredding: erasures recorded before it replay without ending the customer's processes. */
const ERASURE_ENDS_PROCESSES_PATCH = 'erasure-ends-processes';

/** Runs recorded before the policy became the worker's carry it: their replay asks nothing. */
async function withPolicy(input: GdprRequestInput): Promise<GdprRequest> {
  return input.policy ? { ...input, policy: input.policy } : { ...input, policy: await acts.masterDataPolicy() };
}

/** Whom a request is about: the customer's id, or a lead-only person's address. */
const subjectOf = (input: GdprRequestInput): string | { email: string } => input.customerId ?? { email: input.email! };

/** A message about the request: to the customer's e-mail address, or to the lead-only person's. */
const tell = (input: GdprRequestInput, template: string, payload: Record<string, unknown>, idempotencyKey: string) =>
  acts.queueCustomerMessage({
    ...(input.customerId ? { customerId: input.customerId, to: 'email' as const } : { to: { channel: 'email' as const, recipient: input.email! } }),
    template,
    payload,
    idempotencyKey,
  });

/** A message about the request with a link that does one thing once (customer-links.ts). */
const tellWithLink = (
  input: GdprRequestInput,
  template: string,
  payload: Record<string, unknown>,
  idempotencyKey: string,
  link: { purpose: 'export-download' | 'erasure-cancel'; expiresAt: string },
) =>
  acts.sendCustomerLink({
    ...(input.customerId ? { customerId: input.customerId, to: 'email' as const } : { to: { channel: 'email' as const, recipient: input.email! } }),
    template,
    payload,
    idempotencyKey,
    link: { ...link, requestId: input.requestId },
  });

/** State, handlers and verification common to both requests. */
function openRequest(kind: GdprKind, input: GdprRequest, targets: VerificationTargetSpec[]) {
  const state: GdprState = {
    requestId: input.requestId,
    kind,
    ...(input.customerId ? { customerId: input.customerId } : {}),
    subject: input.customerId ? 'customer' : 'lead',
    status: 'awaiting-verification',
    requestedBy: input.requestedBy,
    transitions: [{ status: 'awaiting-verification', at: now(), actor: input.requestedBy }],
  };
  const { workflowId, runId } = workflowInfo();
  // Every step is written to PostgreSQL as it happens: reads of the request never need this workflow.
  const record = async (open = false) => {
    if (!patched(GDPR_RECORD_PATCH)) return;
    const row = { ...state, workflowId, runId };
    await (open ? acts.openGdprRequestRecord(row) : acts.recordGdprRequestState(row));
  };
  const move = async (status: GdprStatus, actor = 'system', reason?: string) => {
    state.status = status;
    state.transitions.push({ status, at: now(), actor, ...(reason ? { reason } : {}) });
    upsertSearchAttributes([{ key: CrmStatus, value: status }]);
    await record();
  };
  upsertSearchAttributes([
    ...(input.customerId ? [{ key: CrmCustomerId, value: input.customerId }] : []),
    { key: CrmProcess, value: patched(GDPR_PROCESS_PATCH) ? CRM_PROCESS.gdpr : CRM_PROCESS.masterData },
    { key: CrmStatus, value: state.status },
  ]);
  const verification = new CodeVerification(input.requestId, subjectOf(input), kind, targets, input.policy);
  state.verification = verification.view;
  const ours = (id: string) => {
    if (id !== input.requestId) refuse(REFUSAL.notFound, `no request ${id} here`);
  };

  setHandler(gdprStateQuery, () => state);
  setHandler(verifyGdprUpdate, ({ code, actor }) => verification.check(code, actor), {
    validator: ({ id }) => {
      ours(id);
      if (state.status !== 'awaiting-verification') refuse(REFUSAL.conflict, `request is ${state.status}, not awaiting verification`);
      verification.validateCheck();
    },
  });
  setHandler(resendGdprCodeUpdate, () => verification.resend(), {
    validator: ({ id }) => {
      ours(id);
      if (state.status !== 'awaiting-verification') refuse(REFUSAL.conflict, `request is ${state.status}, not awaiting verification`);
      verification.validateResend();
    },
  });

  /** Sends the code and waits for the person; false when the request ended instead. */
  const verified = async (stop: () => boolean): Promise<boolean> => {
    await record(true);
    try {
      await verification.send();
      await record();
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const type = err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
      await move('failed', 'system', type === 'CustomerGone' ? 'the customer no longer exists' : 'no code could be sent');
      return false;
    }
    const outcome = await verification.outcome(stop);
    if (outcome === 'verified') return true;
    if (outcome === 'expired') await move('expired', 'system', 'the confirmation code was not entered in time');
    else if (outcome === 'failed') await move('failed', 'system', `a wrong code was entered ${input.policy.maxAttempts} times`);
    return false;
  };
  return { state, move, verified };
}

export async function gdprExport(request: GdprRequestInput): Promise<GdprState> {
  const input = await withPolicy(request);
  const { state, move, verified } = openRequest('export', input, await targetsOf(input));
  let retrievedBy: string | undefined;
  setHandler(exportRetrievedSignal, ({ actor }) => {
    retrievedBy = actor;
  });

  if (!(await verified(() => false))) return state;
  await move('assembling');
  const retentionMs = durationMs(input.policy.exportRetention);
  const { bytes } = await acts.assembleExport({
    requestId: input.requestId,
    ...(input.customerId ? { customerId: input.customerId } : { email: input.email! }),
    retentionMs,
  });
  state.exportBytes = bytes;
  state.dueAt = new Date(Date.now() + retentionMs).toISOString();
  await move('ready');
  if (patched(GDPR_LINKS_PATCH)) {
    await tellWithLink(input, 'gdpr-export-ready', { requestId: input.requestId, until: state.dueAt }, `${workflowInfo().workflowId}:ready`, {
      purpose: 'export-download',
      expiresAt: state.dueAt,
    });
  } else {
    const messageId = await tell(input, 'gdpr-export-ready', { requestId: input.requestId, until: state.dueAt }, `${workflowInfo().workflowId}:ready`);
    await deliver(messageId, 'Data export ready', input.customerId);
  }

  if (await condition(() => retrievedBy !== undefined, retentionMs)) {
    await move('retrieved', retrievedBy);
  } else {
    await acts.discardExport(input.requestId);
    await move('discarded', 'system', `not fetched within ${input.policy.exportRetention}`);
  }
  return state;
}

export async function gdprErasure(request: GdprRequestInput): Promise<GdprState> {
  const input = await withPolicy(request);
  const { state, move, verified } = openRequest('erasure', input, await targetsOf(input));
  const { workflowId } = workflowInfo();
  let cancelled: { actor: string; reason?: string } | undefined;
  const links = patched(GDPR_LINKS_PATCH);
  setHandler(
    cancelErasureUpdate,
    async ({ actor, reason }) => {
      cancelled = { actor, ...(reason ? { reason } : {}) };
      await condition(() => state.status === 'cancelled');
      return state;
    },
    {
      validator: ({ id, via }) => {
        if (id !== input.requestId) refuse(REFUSAL.notFound, `no request ${id} here`);
        if (state.status !== 'awaiting-verification' && state.status !== 'grace-period') {
          refuse(REFUSAL.conflict, `the erasure is ${state.status} and can no longer be cancelled`);
        }
        if (cancelled) refuse(REFUSAL.conflict, 'the erasure is already being cancelled');
        if (links && state.status === 'grace-period' && via !== 'customer-link') {
          refuse(REFUSAL.conflict, ERASURE_VERIFIED_CANCEL);
        }
      },
    },
  );
  const cancel = async (suppressed: boolean) => {
    if (suppressed && input.customerId) await acts.liftErasureSuppression({ workflowId });
    await move('cancelled', cancelled!.actor, cancelled!.reason);
    const messageId = await tell(input, 'gdpr-erasure-cancelled', { requestId: input.requestId }, `${workflowId}:cancelled`);
    await deliver(messageId, 'Erasure cancelled', input.customerId);
  };

  if (!(await verified(() => !!cancelled))) {
    if (cancelled) await cancel(false);
    return state;
  }
  // Suppressed from the moment the person confirmed: no campaign reaches them during the grace
  // period. Campaigns reach only customers, so a lead-only person needs no suppression.
  if (input.customerId) await acts.suppressForErasure({ customerId: input.customerId, requestId: input.requestId, actor: input.requestedBy, workflowId });
  const graceMs = durationMs(input.policy.erasureGracePeriod);
  state.dueAt = new Date(Date.now() + graceMs).toISOString();
  await move('grace-period', 'system', `erasure on ${state.dueAt} unless cancelled`);
  if (links) {
    await tellWithLink(input, 'gdpr-erasure-scheduled', { requestId: input.requestId, at: state.dueAt }, `${workflowId}:scheduled`, {
      purpose: 'erasure-cancel',
      expiresAt: state.dueAt,
    });
  } else {
    const messageId = await tell(input, 'gdpr-erasure-scheduled', { requestId: input.requestId, at: state.dueAt }, `${workflowId}:scheduled`);
    await deliver(messageId, 'Erasure scheduled', input.customerId);
  }

  if (await condition(() => !!cancelled, graceMs)) {
    await cancel(true);
    return state;
  }
  await move('erasing');
  try {
    const erasure = { requestId: input.requestId, actor: input.requestedBy, workflowId };
    if (input.customerId) {
      // Running processes end first (reason 'erased'): none writes the data back, none outlives its key.
      let ended: { ended: string[] } | undefined;
      if (patched(ERASURE_ENDS_PROCESSES_PATCH)) {
        ended = await acts.endCustomerProcesses({ ...erasure, customerId: input.customerId });
        // The file mailbox forgets their messages while the record still knows their addresses.
        await acts.eraseDeliveredMessages({ customerId: input.customerId });
      }
      state.erasedRows = (await acts.eraseCustomer({ ...erasure, customerId: input.customerId, ...(ended ? { processesEnded: ended.ended } : {}) })).rows;
    } else {
      // Running funnels end first (closed as lost, reason 'erased'), so none writes the person's data back.
      await acts.endLeadFunnels({ ...erasure, email: input.email! });
      state.erasedRows = (await acts.eraseLeadData({ ...erasure, email: input.email! })).rows;
    }
    await move('erased');
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const type = err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
    // An operator must act (e.g. a table without an erasure decision): the state says why.
    await move('failed', 'system', type === 'ErasureIncomplete' ? (err.cause as ApplicationFailure).message : 'the erasure could not be completed');
  }
  return state;
}
