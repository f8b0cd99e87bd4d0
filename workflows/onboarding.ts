/**
 * Onboarding of a new customer (`onboarding-<customerId>`), started by a won lead or by
 * registration. States: starting → in-progress → onboarded | stalled.
 * Moved by: the customer confirming the e-mail address with the mailed code (the `confirmOptIn`
 * update; five wrong codes, counted in the database, lock it), the account manager recording a first contact (an
 * interaction, heard as a signal), a first-contact SLA that reminds the account manager, and the
 * check-in timer. Ends at the check-in: onboarded when the address is confirmed and the first
 * contact happened, stalled otherwise, with the reasons.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { REFUSAL, refuse, NON_RETRYABLE_TYPES } from '../src/domain/refusals.js';
import type { Activities } from '../activities/index.js';
import { interactionRecordedSignal, isContact } from '../src/domain/contacts.js';
import { type TemplateName } from '../src/domain/notifications.js';
import {
  OPT_IN_MAX_ATTEMPTS,
  confirmOptInUpdate,
  onboardingStateQuery,
  refuseOptIn,
  refuseResend,
  resendOptInUpdate,
  type OnboardingCarried,
  type OnboardingInput,
  type OnboardingResult,
  type OnboardingState,
  type OnboardingStatus,
  type OptInAnswer,
} from '../src/domain/onboarding.js';
import { CrmCustomerId, CrmOwner, CrmProcess, CrmStatus, CrmTeam } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { deliver } from './notifications.js';
import { openTask, resolveTask, startTask } from './tasks.js';
import { taskCompletedSignal } from '../src/domain/tasks.js';
import { HistoryBudget } from './history-budget.js';

/**
 * The onboarding's record in PostgreSQL follows every change (`recordOnboarding`), and a person's
 * request is answered once its change is recorded. Onboardings recorded before replay without it.
 */
const RECORD_PATCH = 'onboarding-record-in-postgres';
/**
 * The first contact is a task of the account manager (when they are a user): it escalates along
 * the team by itself, and completing it records the first contact; a stalled onboarding leaves the
 * account manager a task. Onboardings started before replay with the reminder e-mail.
 */
const TASK_PATCH = 'onboarding-tasks';

// No attempt limit: onboarding's steps are idempotent writes of the record, and the only failures that pass are
// PostgreSQL outages, which a retry outlasts (an outage delays the process, never loses a step).
// What no retry mends (a refused rule, a missing row) is typed non-retryable and ends the step at once.
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES, 'OptInRefused'] },
});

export async function customerOnboarding(input: OnboardingInput): Promise<OnboardingResult> {
  const { workflowId, runId } = workflowInfo();
  const { customerId, carried } = input;
  const now = () => new Date().toISOString();
  const budget = new HistoryBudget(input.limits);
  const state: OnboardingState = carried?.state ?? {
    customerId,
    origin: input.origin,
    leadId: input.leadId,
    status: 'starting',
    optIn: { status: 'pending', attempts: 0 },
    firstContact: {},
    reasons: [],
    withheld: [],
    transitions: [{ status: 'starting', at: now(), actor: 'system', reason: input.origin === 'lead' ? `won lead ${input.leadId}` : 'registered' }],
  };
  let changes = 0;
  const enter = (status: OnboardingStatus, reason?: string) => {
    state.status = status;
    state.transitions.push({ status, at: now(), actor: 'system', reason });
    upsertSearchAttributes([{ key: CrmStatus, value: status }]);
  };

  // The record: each write carries the onboarding as it stands and the status steps since the
  // previous write; writes run one after the other. Nothing is written before the row exists.
  let rowExists = carried !== undefined;
  let progress = carried ? { seq: carried.record.seq, transitions: carried.record.transitions } : { seq: 0, transitions: 0 };
  let recordedAs = carried?.record.recordedAs ?? '';
  let recording: Promise<void> = Promise.resolve();
  const recordOf = () => ({
    status: state.status,
    optIn: state.optIn,
    firstContact: state.firstContact,
    checkInAt: state.checkInAt,
    reasons: state.reasons,
    withheld: state.withheld,
    finishedAt: state.status === 'onboarded' || state.status === 'stalled' ? state.transitions[state.transitions.length - 1]!.at : undefined,
  });
  const recorded = (): Promise<void> => {
    if (!rowExists || !patched(RECORD_PATCH)) return recording;
    const record = recordOf();
    const fingerprint = `${JSON.stringify(record)}|${state.transitions.length}`;
    if (fingerprint === recordedAs) return recording;
    recordedAs = fingerprint;
    const write = {
      customerId,
      workflowId,
      runId,
      // Workflow time orders the writes, also across a restart of the workflow.
      seq: Math.max(progress.seq + 1, Date.now() * 1000),
      ...record,
      transitions: state.transitions.slice(progress.transitions).map((t, i) => ({ ...t, seq: progress.transitions + i })),
    };
    progress = { seq: write.seq, transitions: state.transitions.length };
    recording = recording.then(() => acts.recordOnboarding(write));
    return recording;
  };

  setHandler(onboardingStateQuery, () => state);
  setHandler(
    confirmOptInUpdate,
    async ({ code }): Promise<OptInAnswer> => {
      budget.update();
      const checked = await acts.checkOptInCode({ customerId, code });
      if (checked.ok) {
        if (state.optIn.status !== 'confirmed') {
          state.optIn.status = 'confirmed';
          state.optIn.confirmedAt = now();
          changes++;
        }
        await recorded();
        return { confirmed: true };
      }
      // The database counts the attempts, concurrent ones too; checks recorded before it did answer without a count.
      const attempts = checked.attemptsLeft === undefined ? state.optIn.attempts + 1 : OPT_IN_MAX_ATTEMPTS - checked.attemptsLeft;
      state.optIn.attempts = Math.max(state.optIn.attempts, attempts);
      if (state.optIn.attempts >= OPT_IN_MAX_ATTEMPTS) state.optIn.status = 'locked';
      changes++;
      await recorded();
      // Locked before this code was compared: refused like a request the validator turns away.
      if (checked.counted === false) refuse(REFUSAL.conflict, refuseOptIn(state) ?? 'the confirmation is locked');
      return { confirmed: false, attemptsLeft: Math.max(0, OPT_IN_MAX_ATTEMPTS - state.optIn.attempts) };
    },
    {
      validator: (_request: { code: string; actor: string }) => {
        const why = refuseOptIn(state);
        if (why) refuse(REFUSAL.conflict, why);
      },
    },
  );
  setHandler(
    resendOptInUpdate,
    async () => {
      budget.update();
      const resend = (state.optIn.resends ?? 0) + 1;
      state.optIn.resends = resend;
      const messageId = await acts.renewOptInCode({
        customerId,
        workflowId,
        resend,
        name: input.name,
        email: input.email,
        locale: input.locale,
      });
      state.optIn.sentAt = now();
      await recorded();
      await deliver(messageId, `Opt-in code, sent again (${resend})`, customerId);
      return state;
    },
    {
      validator: (_request: { actor: string }) => {
        const why = refuseResend(state);
        if (why) refuse(REFUSAL.conflict, why);
      },
    },
  );
  setHandler(interactionRecordedSignal, (e) => {
    budget.signal();
    if (isContact(e) && !state.firstContact.doneAt) {
      state.firstContact.doneAt = e.occurredAt;
      changes++;
      void recorded();
    }
  });

  setHandler(taskCompletedSignal, (e) => {
    budget.signal();
    if (e.taskId !== state.firstContact.taskId) return;
    state.firstContact.taskOpen = false;
    if (!state.firstContact.doneAt) state.firstContact.doneAt = e.at;
    changes++;
    void recorded();
  });

  const send = async (template: TemplateName, recipient: string, step: string, payload: Record<string, unknown>, summary: string) => {
    const queued = await acts.queueOnboardingMessage({
      customerId,
      toCustomer: recipient === input.email,
      recipient,
      template,
      idempotencyKey: `${workflowId}:${step}`,
      payload,
    });
    if ('suppressed' in queued) state.withheld.push({ step, at: now(), reason: queued.suppressed });
    else await deliver(queued.messageId, summary, customerId);
  };

  // A run continued as new goes on where the last one stopped: begun, recorded, task started.
  const withTasks = carried ? carried.withTasks : patched(TASK_PATCH);
  let begun: OnboardingCarried['begun'];
  if (carried) begun = carried.begun;
  else begun = await begin();
  async function begin(): Promise<OnboardingCarried['begun']> {
    const begun = await acts.beginOnboarding({
      ...input,
      workflowId,
      ...(withTasks ? { firstContactTask: { taskId: uuid4(), now: new Date().toISOString() } } : {}),
    });
    const startedAt = Date.now();
    state.accountManager = begun.accountManager;
    state.optIn.sentAt = now();
    state.firstContact.dueAt = new Date(startedAt + begun.policy.firstContactSlaMs).toISOString();
    state.checkInAt = new Date(startedAt + begun.policy.checkInAfterMs).toISOString();
    upsertSearchAttributes([
      { key: CrmProcess, value: CRM_PROCESS.onboarding },
      { key: CrmCustomerId, value: customerId },
      { key: CrmOwner, value: begun.accountManager },
      ...(begun.teamId ? [{ key: CrmTeam, value: begun.teamId }] : []),
    ]);
    enter('in-progress', `code sent to the customer, first-contact task to ${begun.accountManager}`);
    rowExists = true;
    await recorded();
    await deliver(begun.optInMessageId, 'Opt-in code', customerId);
    if (begun.task) {
      state.firstContact.taskId = begun.task.taskId;
      state.firstContact.taskOpen = true;
      await startTask(begun.task, { title: `First contact with ${input.name}`, customerId, dueInMs: begun.policy.firstContactSlaMs });
    } else {
      await deliver(begun.taskMessageId, `First-contact task for ${begun.accountManager}`, customerId);
    }
    return { accountManager: begun.accountManager, ...(begun.teamId ? { teamId: begun.teamId } : {}), policy: begun.policy };
  }
  // A first contact made another way (an interaction) closes the task; an onboarding that ends drops it.
  const settleTask = async (status: 'done' | 'cancelled', reason: string) => {
    if (!state.firstContact.taskOpen) return;
    state.firstContact.taskOpen = false;
    await resolveTask(state.firstContact.taskId!, { status, reason, actor: 'system' });
  };

  // Both set when the onboarding began (this run or one before it).
  const checkInAt = Date.parse(state.checkInAt!);
  let welcomed = carried?.welcomed ?? false;
  for (;;) {
    await recorded();
    if (state.firstContact.doneAt) await settleTask('done', `first contact recorded at ${state.firstContact.doneAt}`);
    if (state.optIn.status === 'confirmed' && !welcomed) {
      welcomed = true;
      await send('onboarding-welcome', input.email, 'welcome', { name: input.name, accountManager: begun.accountManager }, 'Onboarding welcome');
    }
    // A first-contact task escalates along the team by itself: no reminder of the onboarding's own.
    const reminderAt =
      !state.firstContact.doneAt && !state.firstContact.reminderSentAt && !state.firstContact.taskId ? Date.parse(state.firstContact.dueAt!) : undefined;
    const next = Math.min(reminderAt ?? Infinity, checkInAt);
    setCurrentDetails(
      `**Status:** ${state.status}  \n**Opt-in:** ${state.optIn.status}  \n**First contact:** ${state.firstContact.doneAt ? `done ${state.firstContact.doneAt}` : `due ${state.firstContact.dueAt}`}  \n**Check-in:** ${state.checkInAt}`,
    );
    if (Date.now() >= checkInAt) break;
    if (budget.exhausted()) {
      await condition(allHandlersFinished);
      await recorded();
      const next: OnboardingCarried = { state, begun, withTasks, welcomed, record: { ...progress, recordedAs } };
      await continueAsNew<typeof customerOnboarding>({ ...input, carried: next });
    }
    const seen = changes;
    if (await condition(() => changes !== seen, Math.max(1, next - Date.now()))) continue;
    if (reminderAt !== undefined && Date.now() >= reminderAt && !state.firstContact.doneAt) {
      state.firstContact.reminderSentAt = now();
      await send(
        'onboarding-first-contact-reminder',
        begun.accountManager,
        'first-contact-reminder',
        { customerName: input.name, customerId },
        'First-contact reminder',
      );
    }
  }

  const reasons: string[] = [];
  if (state.optIn.status !== 'confirmed')
    reasons.push(state.optIn.status === 'locked' ? 'e-mail address not confirmed: too many wrong codes' : 'e-mail address not confirmed');
  if (!state.firstContact.doneAt) reasons.push('no first contact recorded by the account manager');
  const outcome = reasons.length === 0 ? 'onboarded' : 'stalled';
  state.reasons = reasons;
  enter(outcome, reasons.length ? reasons.join('; ') : 'address confirmed and first contact made');
  if (outcome === 'onboarded') {
    await send('onboarding-check-in', input.email, 'check-in', { name: input.name, accountManager: begun.accountManager }, 'Onboarding check-in');
  } else {
    await settleTask('cancelled', `onboarding stalled: ${reasons.join('; ')}`);
    const stalledTask =
      withTasks &&
      (await openTask({
        kind: 'onboarding-stalled',
        title: `Onboarding of ${input.name} stalled`,
        priority: 'high',
        ownerId: begun.accountManager,
        dueInMs: begun.policy.firstContactSlaMs,
        customerId,
        process: CRM_PROCESS.onboarding,
        step: 'stalled-task',
      }));
    if (!stalledTask)
      await send(
        'onboarding-stalled',
        begun.accountManager,
        'stalled',
        { customerName: input.name, customerId, reasons: reasons.join('; ') },
        'Onboarding stalled',
      );
  }
  await acts.finishOnboarding({ customerId, outcome, reasons });
  await recorded();
  setCurrentDetails(`**Status:** ${outcome}${reasons.length ? `  \n**Why:** ${reasons.join('; ')}` : ''}`);
  await condition(allHandlersFinished);
  return { outcome, customerId, reasons };
}
