/**
 * Master-data changes of one customer, one at a time.
 *
 * `customerMasterData` (id `master-data-<customerId>`) is the customer's change desk: requests
 * arrive as `submitChange` updates (update-with-start from the API) and wait in a queue; the
 * workflow takes them in order, so two requests never race for the same row.
 *
 * A change moves queued → awaiting-verification (a code to the new e-mail or phone, or to the
 * existing contact point for an address) → awaiting-approval (name, birth date, bank account:
 * a second person) → escalated (approval overdue) → applying → applied. It ends rejected,
 * failed (wrong code five times, conflicting change, refused), expired (code or approval not
 * given in time) or cancelled. The workflow closes after a quiet spell with nothing queued;
 * the next request starts a new run.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  CLOSED_CHANGE_STATUSES,
  cancelChangeUpdate,
  changeStateQuery,
  confirmIdentityUpdate,
  coolingOffOf,
  decideApprovalUpdate,
  durationMs,
  masterDataStateQuery,
  needsApproval,
  previewChanges,
  resendChangeCodeUpdate,
  submitChangeUpdate,
  verificationTargets,
  verifyChangeUpdate,
  type ApprovalInput,
  type CancelInput,
  type ChangeState,
  type ChangeStatus,
  type MasterDataField,
  type MasterDataPolicy,
  type SubmitChangeInput,
  type VerificationTargetSpec,
  type VerificationView,
  type VerifyResult,
} from '../src/domain/master-data.js';
import { REFUSAL, refuse, NON_RETRYABLE_TYPES, PERMANENT_FAILURE } from '../src/domain/refusals.js';
import { CrmChangeType, CrmCustomerId, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { openTask, resolveTask } from './tasks.js';
import { deliver } from './notifications.js';
import { HistoryBudget, type HistoryLimits } from './history-budget.js';

/** Added after the first release: runs recorded before it replay without these upserts. */
const CHANGE_TIMELINE_PATCH = 'change-outcomes-in-status-timeline';
/**
 * A change waiting for four-eyes approval is a task of an approver (the requester's team lead, or
 * the least busy backoffice user), closed by the decision, the cancellation or the expiry; it
 * escalates along the team by itself. Desks started before replay without it.
 */
const APPROVAL_TASK_PATCH = 'change-approval-task';
/**
 * A change of e-mail or phone is confirmed from the contact point on record too (or, when that is
 * lost, by a backoffice identity check): a code to the new one alone let a takeover through.
 * Desks started before replay with the new contact point's code only.
 */
const OLD_CONTACT_PATCH = 'change-old-contact-confirmation';
/**
 * After an e-mail or phone change applies, the old contact point gets a link that stops it within
 * the cooling-off period (a revert change through this desk); desks started before send none.
 */
const COOLING_OFF_PATCH = 'contact-change-cooling-off';

/** The kind of a change by the fields it touches, e.g. `address+phone`. */
function changeTypeOf(fields: readonly string[]): string {
  return [...fields].sort().join('+');
}

/**
 * Retries of the activities of change and GDPR requests, bounded (20 attempts, about a quarter of
 * an hour: a person waits for the answer); their business failures are not retried.
 */
export const REQUEST_ACTIVITY_RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 20,
  nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES, 'NoContactPoint', 'NoCodesIssued', 'ErasureIncomplete'],
};

const acts = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: REQUEST_ACTIVITY_RETRY });

/** How long the change desk stays open with nothing to do before it closes. */
const IDLE_BEFORE_CLOSE = '10 minutes';
/** Finished changes kept in the workflow's state query (older ones are read from PostgreSQL). */
const RECENT_CHANGES = 20;
/** Changes waiting behind the current one; more are refused (409) until one is taken up. */
export const MAX_QUEUED_CHANGES = 50;
/** Rounds of re-reading a moved customer row before the change gives up. */
const MAX_REBASES = 5;

export function now(): string {
  return new Date().toISOString();
}

/**
 * One-time-code verification of a change or GDPR request: codes are issued, resent and checked by
 * activities; this object keeps the limits (attempts, resends and their spacing, expiry) in
 * workflow time, so a 24-hour expiry is a durable timer.
 */
export class CodeVerification {
  /** The code of a target is not needed: a person confirmed it another way (an identity check). */
  waive(target: VerificationTargetSpec['target']): void {
    const t = this.view.targets.find((v) => v.target === target);
    if (!t) return;
    t.verified = true;
    if (this.status === 'pending' && this.view.targets.every((v) => v.verified)) this.status = 'verified';
  }

  awaits(target: VerificationTargetSpec['target']): boolean {
    return this.status === 'pending' && !!this.view.targets.find((v) => v.target === target && !v.verified);
  }

  status: 'pending' | 'verified' | 'failed' | 'expired' = 'pending';
  readonly view: VerificationView;
  private issue = 0;
  private deadline = 0;
  private lastIssuedAt = 0;

  /** `who`: the customer id, or the e-mail address of a person known only as a lead. */
  constructor(
    private readonly subject: string,
    private readonly who: string | { email: string },
    private readonly purpose: 'change' | 'export' | 'erasure',
    private readonly targets: VerificationTargetSpec[],
    private readonly policy: MasterDataPolicy,
  ) {
    this.view = { targets: [], attemptsLeft: policy.maxAttempts, resendsLeft: policy.maxResends };
  }

  /** Issues codes to every target not yet verified. */
  async send(): Promise<void> {
    this.issue += 1;
    const pending = this.targets.filter((t) => !this.view.targets.find((v) => v.target === t.target && v.verified));
    const issued = await acts.issueVerificationCodes({
      subject: this.subject,
      ...(typeof this.who === 'string' ? { customerId: this.who } : { email: this.who.email }),
      purpose: this.purpose,
      issue: this.issue,
      ttlMs: durationMs(this.policy.codeTtl),
      maxAttempts: this.policy.maxAttempts,
      targets: pending,
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().runId,
    });
    this.lastIssuedAt = Date.now();
    this.deadline = this.lastIssuedAt + durationMs(this.policy.codeTtl);
    for (const s of issued.sent) {
      const known = this.view.targets.find((t) => t.target === s.target);
      if (known) known.sentTo = s.sentTo;
      else this.view.targets.push({ ...s, verified: false });
    }
    this.view.expiresAt = new Date(this.deadline).toISOString();
    this.view.nextResendAt = new Date(this.lastIssuedAt + durationMs(this.policy.resendInterval)).toISOString();
  }

  validateCheck(): void {
    if (this.status !== 'pending') refuse(REFUSAL.conflict, `verification is ${this.status}, no code is expected`);
    if (this.issue === 0) refuse(REFUSAL.conflict, 'the code has not been sent yet; try again in a moment');
  }

  validateResend(): void {
    this.validateCheck();
    if (this.view.resendsLeft <= 0) refuse(REFUSAL.tooManyAttempts, `the code was already resent ${this.policy.maxResends} times`);
    const next = this.lastIssuedAt + durationMs(this.policy.resendInterval);
    if (Date.now() < next) refuse(REFUSAL.tooManyAttempts, `a new code can be sent from ${new Date(next).toISOString()}`);
  }

  async resend(): Promise<VerificationView> {
    this.view.resendsLeft -= 1;
    await this.send();
    return this.view;
  }

  async check(code: string, actor: string): Promise<VerifyResult> {
    const result = await acts.checkVerificationCode({ subject: this.subject, code, actor });
    if (this.status !== 'pending') return { status: this.status, verified: this.status === 'verified', attemptsLeft: 0 };
    if (result.result === 'matched') {
      const target = this.view.targets.find((t) => t.target === result.target);
      if (target) target.verified = true;
      this.view.attemptsLeft = result.attemptsLeft;
      if (this.view.targets.every((t) => t.verified)) this.status = 'verified';
    } else {
      this.view.attemptsLeft = result.attemptsLeft;
      if (result.result === 'exhausted') this.status = 'failed';
    }
    return { status: this.status, verified: result.result === 'matched', attemptsLeft: this.view.attemptsLeft };
  }

  /** Waits until every target is verified, the attempts are used up, the code expires or `stop()` holds. */
  async outcome(stop: () => boolean): Promise<'verified' | 'failed' | 'expired' | 'stopped'> {
    while (this.status === 'pending') {
      const remaining = this.deadline - Date.now();
      if (remaining <= 0) {
        this.status = 'expired';
        break;
      }
      const issue = this.issue;
      await condition(() => this.status !== 'pending' || stop() || this.issue !== issue, remaining);
      if (stop() && this.status === 'pending') return 'stopped';
    }
    return this.status as 'verified' | 'failed' | 'expired';
  }
}

interface CurrentChange {
  request: SubmitChangeInput & { policy: MasterDataPolicy };
  state: ChangeState;
  verification?: CodeVerification;
  decision?: ApprovalInput;
  cancelled?: CancelInput;
}

export interface MasterDataInput {
  customerId: string;
  /** Requests accepted but not yet processed, carried over by continue-as-new. */
  queued?: Array<{ request: SubmitChangeInput; state: ChangeState }>;
  /** When to continue as new (workflows/history-budget.ts), and how many changes may wait: defaults unless a test lowers them. */
  limits?: Partial<HistoryLimits> & { maxQueued?: number };
}

export async function customerMasterData(input: MasterDataInput): Promise<void> {
  const { workflowId } = workflowInfo();
  const queue: SubmitChangeInput[] = [];
  const changes = new Map<string, ChangeState>();
  let current: CurrentChange | undefined;
  const budget = new HistoryBudget(input.limits);
  const maxQueued = input.limits?.maxQueued ?? MAX_QUEUED_CHANGES;
  for (const q of input.queued ?? []) {
    queue.push(q.request);
    changes.set(q.request.changeId, q.state);
  }

  // Each change's steps and outcome (with which fields it touches) show in the status timeline,
  // so operators and analytics can follow single changes without reading payloads.
  const setStatus = (status: string, change?: ChangeState) => {
    if (change && patched(CHANGE_TIMELINE_PATCH)) {
      upsertSearchAttributes([
        { key: CrmStatus, value: status },
        { key: CrmChangeType, value: changeTypeOf(change.fields) },
      ]);
    } else {
      upsertSearchAttributes([{ key: CrmStatus, value: status }]);
    }
  };
  const transition = (state: ChangeState, status: ChangeStatus, actor: string, reason?: string) => {
    state.status = status;
    state.transitions.push({ status, at: now(), actor, ...(reason ? { reason } : {}) });
  };
  // The whole state goes to the record (values only masked in the preview), so the change reads
  // the same from PostgreSQL once this workflow is gone.
  const record = (state: ChangeState) =>
    acts.recordChangeState({
      ...state,
      approvedBy: state.approval?.decision === 'approve' ? state.approval.approver : undefined,
      workflowId,
      closed: CLOSED_CHANGE_STATUSES.includes(state.status),
    });
  const knownChange = (id: string): ChangeState => changes.get(id) ?? refuse(REFUSAL.notFound, `no change ${id} for this customer`);

  setHandler(changeStateQuery, (id) => changes.get(id) ?? null);
  setHandler(masterDataStateQuery, () => ({
    customerId: input.customerId,
    current: current?.state.changeId,
    queued: queue.map((q) => q.changeId),
    changes: [...changes.values()],
  }));

  setHandler(
    submitChangeUpdate,
    async (request) => {
      budget.update();
      const known = changes.get(request.changeId);
      if (known) return { changeId: known.changeId, status: known.status, position: queue.findIndex((q) => q.changeId === known.changeId) + 1 };
      const fields = Object.keys(request.changes) as MasterDataField[];
      const state: ChangeState = {
        changeId: request.changeId,
        customerId: request.customerId,
        status: 'queued',
        fields,
        requestedBy: request.requestedBy,
        ...(request.reason ? { reason: request.reason } : {}),
        preview: previewChanges(request.changes),
        ...(needsApproval(fields) ? { approval: { required: true as const, escalated: false } } : {}),
        transitions: [{ status: 'queued', at: now(), actor: request.requestedBy, ...(request.reason ? { reason: request.reason } : {}) }],
      };
      changes.set(request.changeId, state);
      // The full new bank account goes to the record too (only for the approver's audited reveal);
      // an activity's input is not part of what replay compares, so recorded histories still replay.
      const bank = request.changes.bankAccount;
      await acts.openChangeRequest({ ...state, workflowId, ...(bank ? { newBankAccount: bank } : {}) });
      // Queued only once its row exists, so every later record of it finds the row.
      queue.push(request);
      return { changeId: request.changeId, status: state.status, position: queue.length - 1 + (current ? 1 : 0) };
    },
    {
      validator: (request) => {
        if (request.customerId !== input.customerId) refuse(REFUSAL.conflict, 'the change belongs to another customer');
        if (Object.keys(request.changes).length === 0) refuse(REFUSAL.conflict, 'the change names no field');
        if (!changes.has(request.changeId) && queue.length >= maxQueued) {
          refuse(REFUSAL.conflict, `${queue.length} changes of this customer are already waiting; submit this one once one of them has closed`);
        }
      },
    },
  );

  const currentFor = (id: string): CurrentChange => {
    knownChange(id);
    if (current?.state.changeId !== id) refuse(REFUSAL.conflict, `change ${id} is ${changes.get(id)!.status}`);
    return current;
  };

  setHandler(
    verifyChangeUpdate,
    async ({ id, code, actor }) => {
      budget.update();
      return currentFor(id).verification!.check(code, actor);
    },
    {
      validator: ({ id }) => {
        const c = currentFor(id);
        if (c.state.status !== 'awaiting-verification' || !c.verification)
          refuse(REFUSAL.conflict, `change ${id} is ${c.state.status}, not awaiting verification`);
        c.verification.validateCheck();
      },
    },
  );

  setHandler(
    resendChangeCodeUpdate,
    async ({ id, actor }) => {
      budget.update();
      const c = currentFor(id);
      const view = await c.verification!.resend();
      c.state.transitions.push({ status: 'awaiting-verification', at: now(), actor, reason: 'code resent' });
      return view;
    },
    {
      validator: ({ id }) => {
        const c = currentFor(id);
        if (c.state.status !== 'awaiting-verification' || !c.verification)
          refuse(REFUSAL.conflict, `change ${id} is ${c.state.status}, not awaiting verification`);
        c.verification.validateResend();
      },
    },
  );

  setHandler(
    decideApprovalUpdate,
    async (decision) => {
      budget.update();
      const c = currentFor(decision.changeId);
      c.decision = decision;
      c.state.approval = {
        ...c.state.approval!,
        decision: decision.decision,
        approver: decision.approver,
        ...(decision.comment ? { comment: decision.comment } : {}),
      };
      // The answer shows the decision's effect: applying, or rejected and recorded.
      await condition(() => c.state.status !== 'awaiting-approval' && c.state.status !== 'escalated');
      return c.state;
    },
    {
      validator: (decision) => {
        const c = currentFor(decision.changeId);
        if ((c.state.status !== 'awaiting-approval' && c.state.status !== 'escalated') || c.decision) {
          refuse(REFUSAL.conflict, `change ${decision.changeId} is ${c.state.status}, not awaiting approval`);
        }
        if (decision.approver === c.state.requestedBy) refuse(REFUSAL.forbidden, 'the requester of a change may not approve it: a second person must');
      },
    },
  );

  setHandler(
    confirmIdentityUpdate,
    async ({ changeId, approver, identityCheck }) => {
      budget.update();
      const c = currentFor(changeId);
      const at = now();
      c.state.identityCheck = { ...identityCheck, approver, at };
      c.state.transitions.push({
        status: 'awaiting-verification',
        at,
        actor: approver,
        reason: `identity checked by ${identityCheck.method} (reference ${identityCheck.reference}) instead of the code to the contact point on record`,
      });
      c.verification!.waive('existing-contact');
      await record(c.state);
      return c.state;
    },
    {
      validator: ({ changeId, approver }) => {
        const c = currentFor(changeId);
        if (c.state.status !== 'awaiting-verification' || !c.verification)
          refuse(REFUSAL.conflict, `change ${changeId} is ${c.state.status}, not awaiting verification`);
        if (!c.state.fields.includes('email') && !c.state.fields.includes('phone')) refuse(REFUSAL.conflict, `change ${changeId} changes no contact point`);
        if (!c.verification.awaits('existing-contact'))
          refuse(REFUSAL.conflict, `change ${changeId} does not wait for a confirmation from the contact point on record`);
        if (approver === c.state.requestedBy) refuse(REFUSAL.forbidden, 'the requester of a change may not confirm the identity for it: a second person must');
      },
    },
  );

  setHandler(
    cancelChangeUpdate,
    async (cancel) => {
      budget.update();
      const state = knownChange(cancel.id);
      if (current?.state.changeId === cancel.id) {
        current.cancelled = cancel;
        await condition(() => CLOSED_CHANGE_STATUSES.includes(state.status));
        return state;
      }
      queue.splice(
        queue.findIndex((q) => q.changeId === cancel.id),
        1,
      );
      transition(state, 'cancelled', cancel.actor, cancel.reason);
      await record(state);
      return state;
    },
    {
      validator: ({ id }) => {
        const state = knownChange(id);
        if (CLOSED_CHANGE_STATUSES.includes(state.status) || state.status === 'applying') {
          refuse(REFUSAL.conflict, `change ${id} is ${state.status} and can no longer be cancelled`);
        }
        // Neither waiting in the queue nor taken up yet: its row is still being written.
        const taken = current?.state.changeId === id;
        if (state.status === 'queued' && !taken && !queue.some((q) => q.changeId === id)) refuse(REFUSAL.conflict, `change ${id} is still being recorded`);
      },
    },
  );

  async function tellCustomer(state: ChangeState, reason: string): Promise<void> {
    const messageId = await acts.queueCustomerMessage({
      customerId: state.customerId,
      to: 'email',
      template: 'master-data-failed',
      payload: { changeId: state.changeId, fields: state.fields, reason },
      idempotencyKey: `${workflowId}:failed:${state.changeId}`,
    });
    await deliver(messageId, 'Change request not completed', state.customerId);
  }

  async function finish(state: ChangeState, status: ChangeStatus, actor: string, reason?: string): Promise<void> {
    if (state.status !== status) transition(state, status, actor, reason);
    if (patched(CHANGE_TIMELINE_PATCH)) setStatus(status, state);
    if (reason && status !== 'applied') state.outcome = { ...state.outcome, detail: reason };
    await record(state);
    if (status === 'failed' || status === 'expired' || status === 'rejected') await tellCustomer(state, reason ?? status);
  }

  async function verify(c: CurrentChange): Promise<boolean> {
    const { request, state } = c;
    const contactChange = request.changes.email !== undefined || request.changes.phone !== undefined;
    const targets = verificationTargets(request.changes, { confirmOldContact: contactChange && patched(OLD_CONTACT_PATCH) });
    if (targets.length === 0) return true;
    c.verification = new CodeVerification(request.changeId, request.customerId, 'change', targets, request.policy);
    state.verification = c.verification.view;
    // Codes first: whoever sees awaiting-verification can already use them.
    await c.verification.send();
    transition(state, 'awaiting-verification', 'system');
    setStatus('awaiting-verification', state);
    await record(state);
    // The old contact point hears of the change before it takes effect: a hijack gets noticed.
    const notices = [];
    if (request.changes.email !== undefined) notices.push({ to: 'email' as const, field: 'e-mail address' });
    if (request.changes.phone !== undefined) notices.push({ to: 'phone-or-email' as const, field: 'phone number' });
    for (const n of notices) {
      const id = await acts.queueCustomerMessage({
        customerId: request.customerId,
        to: n.to,
        template: 'contact-change-notice',
        payload: { changeId: request.changeId, field: n.field },
        idempotencyKey: `${workflowId}:notice:${request.changeId}:${n.field}`,
      });
      await deliver(id, 'Notice of a requested contact change', request.customerId);
    }
    const outcome = await c.verification.outcome(() => !!c.cancelled);
    if (outcome === 'verified') {
      state.transitions.push({ status: 'verified', at: now(), actor: 'system' });
      return true;
    }
    if (outcome === 'stopped') await finish(state, 'cancelled', c.cancelled!.actor, c.cancelled!.reason);
    else if (outcome === 'expired') await finish(state, 'expired', 'system', 'the confirmation code was not entered in time');
    else await finish(state, 'failed', 'system', `a wrong code was entered ${request.policy.maxAttempts} times`);
    return false;
  }

  async function approve(c: CurrentChange): Promise<boolean> {
    const { request, state } = c;
    if (!needsApproval(state.fields)) return true;
    const since = now();
    const timeoutMs = durationMs(request.policy.approvalTimeout);
    transition(state, 'awaiting-approval', 'system');
    state.approval = { required: true, escalated: false, dueAt: new Date(Date.now() + timeoutMs).toISOString() };
    setStatus('awaiting-approval', state);
    await record(state);
    const ask = async (escalated: boolean) => {
      const id = await acts.queueCustomerMessage({
        customerId: request.customerId,
        to: { channel: 'email', recipient: request.policy.backofficeEmail },
        template: 'approval-needed',
        payload: { changeId: request.changeId, customerId: request.customerId, fields: state.fields, escalated, since },
        idempotencyKey: `${workflowId}:approval:${request.changeId}:${escalated ? 'escalated' : 'asked'}`,
      });
      await deliver(id, escalated ? 'Overdue approval' : 'Approval needed', request.customerId);
    };
    await ask(false);
    const task = patched(APPROVAL_TASK_PATCH)
      ? await openTask({
          kind: 'change-approval',
          title: `Approve change ${request.changeId} (${state.fields.join(', ')})`,
          priority: 'high',
          ownerId: '',
          approverFor: request.requestedBy,
          dueInMs: timeoutMs,
          customerId: request.customerId,
          process: CRM_PROCESS.masterData,
          step: `approval-task:${request.changeId}`,
        })
      : undefined;
    const settleTask = async () => {
      if (!task) return;
      const decided = c.decision;
      await resolveTask(task.taskId, {
        status: decided ? 'done' : 'cancelled',
        reason: decided
          ? `${decided.decision === 'approve' ? 'approved' : 'rejected'} by ${decided.approver}`
          : c.cancelled
            ? 'the change was cancelled'
            : 'the approval expired',
        actor: decided?.approver ?? c.cancelled?.actor ?? 'system',
      });
    };
    if (!(await condition(() => !!c.decision || !!c.cancelled, timeoutMs))) {
      state.approval.escalated = true;
      transition(state, 'escalated', 'system', `no decision within ${request.policy.approvalTimeout}`);
      setStatus('escalated', state);
      await record(state);
      await ask(true);
      await condition(() => !!c.decision || !!c.cancelled, durationMs(request.policy.approvalExpiry) - timeoutMs);
    }
    await settleTask();
    if (c.decision?.decision === 'approve') {
      transition(state, 'applying', c.decision.approver, c.decision.comment ? `approved: ${c.decision.comment}` : 'approved');
      return true;
    }
    if (c.decision?.decision === 'reject') {
      await finish(state, 'rejected', c.decision.approver, c.decision.comment ? `not approved: ${c.decision.comment}` : 'not approved');
    } else if (c.cancelled) {
      await finish(state, 'cancelled', c.cancelled.actor, c.cancelled.reason);
    } else {
      await finish(state, 'expired', 'system', `no approval within ${request.policy.approvalExpiry}`);
    }
    return false;
  }

  async function apply(c: CurrentChange): Promise<void> {
    const { request, state } = c;
    if (state.status !== 'applying') transition(state, 'applying', 'system');
    setStatus('applying', state);
    let expectedVersion = request.baseVersion;
    for (let round = 0; round <= MAX_REBASES; round++) {
      const result = await acts.applyChange({
        changeId: request.changeId,
        customerId: request.customerId,
        changes: request.changes,
        base: request.base,
        expectedVersion,
        requestedBy: request.requestedBy,
        approvedBy: c.decision?.approver,
        workflowId,
      });
      if (result.outcome === 'applied') {
        state.outcome = { version: result.version };
        await finish(state, 'applied', 'system');
        await deliver(result.messageIds, 'Customer data updated', request.customerId);
        await afterContactChange(request);
        return;
      }
      if (result.outcome === 'stale') {
        state.transitions.push({
          status: 'applying',
          at: now(),
          actor: 'system',
          reason: `version conflict: the customer moved from version ${expectedVersion} to ${result.version}; none of this change's fields moved, so it is re-validated and applied on top`,
        });
        expectedVersion = result.version;
        continue;
      }
      if (result.outcome === 'conflict') {
        await finish(
          state,
          'failed',
          'system',
          `version conflict: ${result.fields.join(', ')} changed since the request (now version ${result.version}); nothing was overwritten`,
        );
        return;
      }
      await finish(state, 'failed', 'system', result.detail);
      return;
    }
    await finish(state, 'failed', 'system', 'the customer kept changing while this change was applied');
  }

  /**
   * A contact change applied: the old contact point may stop it within the cooling-off period (a
   * link, whose use submits the revert to this desk, so it survives any restart). A revert
   * applied: the contact point it removed hears of it.
   */
  async function afterContactChange(request: SubmitChangeInput & { policy: MasterDataPolicy }): Promise<void> {
    const { changes, base } = request;
    const field = changes.email !== undefined ? 'e-mail address' : changes.phone !== undefined ? 'phone number' : undefined;
    if (!field) return;
    if (request.revertOf) {
      // The removed value is the one the revert replaced (its base).
      const removed =
        changes.email !== undefined && base.email
          ? { channel: 'email' as const, recipient: base.email }
          : base.phone
            ? { channel: 'sms' as const, recipient: base.phone }
            : undefined;
      if (!removed) return;
      const id = await acts.queueCustomerMessage({
        customerId: request.customerId,
        to: removed,
        template: 'contact-change-reverted',
        payload: { changeId: request.revertOf, field },
        idempotencyKey: `${workflowId}:reverted:${request.changeId}`,
      });
      await deliver(id, 'Contact change reverted', request.customerId);
      return;
    }
    if (!patched(COOLING_OFF_PATCH)) return;
    const coolingOff = coolingOffOf(request.policy);
    // To the contact point the change replaced: the old address, or the old phone (the address on record when there was none).
    const to =
      changes.email !== undefined && base.email
        ? { channel: 'email' as const, recipient: base.email }
        : changes.phone !== undefined && base.phone
          ? { channel: 'sms' as const, recipient: base.phone }
          : ('email' as const);
    await acts.sendCustomerLink({
      customerId: request.customerId,
      to,
      template: 'contact-change-stop',
      payload: { changeId: request.changeId, field, until: new Date(Date.now() + durationMs(coolingOff)).toISOString() },
      idempotencyKey: `${workflowId}:stop-link:${request.changeId}`,
      link: { purpose: 'change-revert', requestId: request.changeId, expiresAt: new Date(Date.now() + durationMs(coolingOff)).toISOString() },
    });
  }

  async function process(request: SubmitChangeInput): Promise<void> {
    const state = changes.get(request.changeId)!;
    if (state.status !== 'queued') return;
    // The policy is filled in first thing below; current already, so a cancel finds the change.
    const c = { request, state } as CurrentChange;
    current = c;
    try {
      // Requests recorded before the policy became the worker's carry it: their replay asks nothing.
      if (!request.policy) c.request = { ...request, policy: await acts.masterDataPolicy() };
      // A revert is confirmed by the old contact point's link itself: no code, no approval.
      if (!request.revertOf) {
        if (!(await verify(c))) return;
        if (c.cancelled) return await finish(state, 'cancelled', c.cancelled.actor, c.cancelled.reason);
        if (!(await approve(c))) return;
      }
      await apply(c);
    } catch (err) {
      // A business failure of an activity ends this change; anything else is a bug to surface.
      if (!(err instanceof ActivityFailure)) throw err;
      const type = err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
      await finish(
        state,
        'failed',
        'system',
        type === 'CustomerGone'
          ? 'the customer no longer exists'
          : type === 'NoContactPoint'
            ? 'the customer has no contact point to confirm with'
            : type === PERMANENT_FAILURE.recipientInvalid
              ? 'the confirmation code could not be delivered: the number or address was refused'
              : 'the change could not be processed',
      );
    } finally {
      current = undefined;
      setStatus(queue.length > 0 ? 'queued' : 'idle');
      const closed = [...changes.values()].filter((s) => CLOSED_CHANGE_STATUSES.includes(s.status));
      for (const old of closed.slice(0, Math.max(0, closed.length - RECENT_CHANGES))) changes.delete(old.changeId);
    }
  }

  upsertSearchAttributes([
    { key: CrmCustomerId, value: input.customerId },
    { key: CrmProcess, value: CRM_PROCESS.masterData },
    { key: CrmStatus, value: queue.length > 0 ? 'queued' : 'idle' },
  ]);

  for (;;) {
    if (queue.length === 0) {
      const more = await condition(() => queue.length > 0, IDLE_BEFORE_CLOSE);
      if (!more) {
        await condition(allHandlersFinished);
        if (queue.length === 0) break;
      }
    }
    if (budget.exhausted()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof customerMasterData>({
        customerId: input.customerId,
        queued: queue.map((request) => ({ request, state: changes.get(request.changeId)! })),
        ...(input.limits ? { limits: input.limits } : {}),
      });
    }
    await process(queue.shift()!);
  }
}
