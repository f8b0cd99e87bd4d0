/**
 * The lead funnel: one durable workflow per lead (`lead-<leadId>`).
 * Stages: new → contacted → qualified → proposal → won | lost, and nurture, which parks a lead.
 * Moved by: people, through the `transition` update (validated: only allowed edges, with the facts
 * each stage needs); a recorded interaction, which makes a new lead contacted; and timers: a new
 * lead not contacted within its SLA reminds its owner, a second miss escalates to backoffice; a
 * lead idle too long goes to nurture; a nurtured lead comes back as new with a fresh score.
 * Ends: won (the lead becomes a customer through registration's path and starts onboarding),
 * lost (with the reason), or at intake when the person already is an open lead or a customer.
 * An opportunity is the same funnel for an existing customer: it starts at `qualified`, and its
 * `won` registers no one. Every lead and opportunity carries a deal (amount, currency, expected
 * close, products) and the probability of its stage; a won deal's products join the customer's.
 */
import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { REFUSAL, refuse, NON_RETRYABLE_TYPES } from '../src/domain/refusals.js';
import type { Activities } from '../activities/index.js';
import {
  CLOSED_STAGES,
  changeDealUpdate,
  correctLeadUpdate,
  dealChanges,
  dealOf,
  refuseDealChange,
  stageProbability,
  intakeOutcomeUpdate,
  leadStateQuery,
  profileChanges,
  profileOf,
  reassignUpdate,
  refuseCorrection,
  refuseReassignment,
  refuseTransition,
  transitionUpdate,
  type AcquisitionPolicy,
  type DealChangeRequest,
  type LeadDeadlineKind,
  type LeadFunnelInput,
  type LeadCorrection,
  type LeadFunnelResult,
  type LeadProfile,
  type LeadRecordProgress,
  type LeadStage,
  type LeadState,
  type TransitionCommand,
} from '../src/domain/acquisition.js';
import { interactionRecordedSignal, isContact } from '../src/domain/contacts.js';
import { LEAD_ERASED_REASON, eraseLeadUpdate } from '../src/domain/gdpr.js';
import { taskCompletedSignal } from '../src/domain/tasks.js';
import { onboardingWorkflowId } from '../src/domain/onboarding.js';
import {
  CrmCustomerId,
  CrmDealAmount,
  CrmDealCurrency,
  CrmDealProbability,
  CrmExpectedClose,
  CrmOwner,
  CrmProcess,
  CrmSource,
  CrmStatus,
  CrmTeam,
} from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { deliver } from './notifications.js';
import { customerOnboarding } from './onboarding.js';
import { openTask, resolveTask } from './tasks.js';
import { HistoryBudget } from './history-budget.js';

// No attempt limit: a database outage delays a lead, it never loses one.
/** Added after the first release: funnels recorded before it replay without the per-move upsert. */
const STAGE_TIMELINE_PATCH = 'stage-in-status-timeline-on-move';
/**
 * The lead's record in PostgreSQL follows every change (`recordLead`), and a person's request is
 * answered once its change is recorded. Funnels recorded before replay with the stage mirror
 * (`recordLeadStage`) and switch to the record at their next change.
 */
const RECORD_PATCH = 'lead-record-in-postgres';
/**
 * Added with deals: the funnel keeps a deal and publishes it (CrmDealAmount, CrmDealCurrency,
 * CrmDealProbability, CrmExpectedClose) at intake, with each stage and each change of the deal.
 * Funnels recorded before have no deal and replay without these upserts.
 */
const DEAL_PATCH = 'lead-deal-search-attributes';
/**
 * A missed contact SLA opens a task for the owner (when the owner is a user), which escalates to
 * the team lead by itself and whose completion makes the lead contacted. Funnels started before
 * replay with the reminder and backoffice escalation e-mails.
 */
const TASK_PATCH = 'contact-sla-task';

// No attempt limit: the funnel's activities are idempotent writes of the record, and the only failures that pass are
// PostgreSQL outages, which a retry outlasts (an outage delays the process, never loses a step).
// What no retry mends (a refused rule, a missing row) is typed non-retryable and ends the step at once.
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES] },
});

const DAY = 86_400_000;

export function describeDuration(ms: number): string {
  if (ms >= DAY && ms % DAY === 0) return `${ms / DAY} day${ms === DAY ? '' : 's'}`;
  if (ms >= 3_600_000) return `${Math.round(ms / 3_600_000)} hours`;
  return `${Math.round(ms / 60_000)} minutes`;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The next timer the lead waits for in its current stage, if any. */
export function nextDeadline(state: LeadState, policy: AcquisitionPolicy): LeadState['nextDue'] {
  const enteredAt = Date.parse(state.transitions[state.transitions.length - 1]!.at);
  switch (state.stage) {
    case 'new': {
      const since = Date.parse(state.contact.since);
      if (state.contact.remindersSent === 0) return { kind: 'contact-reminder', at: iso(since + policy.contactSlaMs) };
      // An open contact task escalates along the team by itself.
      if (!state.contact.escalated && !state.contact.taskId) return { kind: 'contact-escalation', at: iso(since + 2 * policy.contactSlaMs) };
      return undefined;
    }
    case 'contacted':
    case 'qualified':
    case 'proposal':
      return { kind: 'idle-to-nurture', at: iso(Date.parse(state.lastActivityAt) + policy.idleToNurtureMs) };
    case 'nurture':
      return { kind: 'reactivation', at: iso(enteredAt + policy.nurtureReactivationMs) };
    default:
      return undefined;
  }
}

export async function leadFunnel(input: LeadFunnelInput): Promise<LeadFunnelResult> {
  const { workflowId, runId } = workflowInfo();
  const { leadId, intake } = input;
  const now = () => new Date().toISOString();
  const budget = new HistoryBudget(input.limits);
  let policy: AcquisitionPolicy | undefined = input.carried?.policy;
  const opportunity = input.opportunity;
  const state: LeadState = input.carried?.state ?? {
    leadId,
    ...(opportunity ? { kind: 'opportunity' as const, customerId: opportunity.customerId } : {}),
    stage: opportunity ? 'qualified' : 'new',
    name: intake.name,
    email: intake.email,
    company: intake.company,
    source: intake.source,
    intake: { outcome: 'pending' },
    contact: { since: now(), remindersSent: 0, escalated: false },
    lastActivityAt: now(),
    interactions: 0,
    alerts: [],
    transitions: [
      opportunity
        ? { from: null, to: 'qualified', at: now(), actor: input.actor, reason: 'opportunity for an existing customer' }
        : { from: null, to: 'new', at: now(), actor: input.actor, reason: `intake via ${intake.source}` },
    ],
    profile: profileOf(intake),
  };
  // Every change a handler makes bumps this, so the main loop re-plans its timers.
  let changes = 0;

  // The state a query or an update answers with always names the timer now running.
  const replan = () => {
    state.nextDue = policy && !CLOSED_STAGES.includes(state.stage) ? nextDeadline(state, policy) : undefined;
    changes++;
  };
  const probability = (stage: LeadStage = state.stage) => stageProbability(stage, policy?.stageProbabilities);
  // The deal as analytics learns the forecast from it: exact amount, currency, the probability of
  // the current stage and the expected close date.
  const dealAttributes = () => {
    const deal = state.deal;
    if (!deal) return [];
    return [
      ...(deal.amount !== undefined ? [{ key: CrmDealAmount, value: deal.amount }] : []),
      { key: CrmDealCurrency, value: deal.currency },
      { key: CrmDealProbability, value: probability() },
      ...(deal.expectedClose ? [{ key: CrmExpectedClose, value: new Date(`${deal.expectedClose}T00:00:00.000Z`) }] : []),
    ];
  };
  const move = (to: LeadStage, actor: string, reason?: string) => {
    state.transitions.push({ from: state.stage, to, at: now(), actor, reason, ...(state.deal ? { probability: probability(to) } : {}) });
    state.stage = to;
    state.lastActivityAt = now();
    // Every stage reaches CrmStatus when it is entered, even when the next transition follows
    // before the main loop publishes: the status timeline is the funnel operators and analytics see.
    // A deal's probability changes with it in the same upsert (only funnels with a deal have one).
    if (patched(STAGE_TIMELINE_PATCH)) upsertSearchAttributes([{ key: CrmStatus, value: to }, ...dealAttributes()]);
    if (to === 'new') state.contact = { since: now(), remindersSent: 0, escalated: false, lastContactAt: state.contact.lastContactAt };
    replan();
  };

  /** Applies a change of the deal and adds it to the deal's timeline; no-op when nothing changes or the funnel has no deal. */
  const changeDeal = (fields: Parameters<typeof dealChanges>[1], actor: string, reason?: string) => {
    if (!state.deal) return;
    const changed = dealChanges(state.deal, fields);
    if (changed.length === 0) return;
    state.deal = { ...state.deal, ...Object.fromEntries(changed.map((c) => [c.field, c.to])) };
    state.dealChanges = [...(state.dealChanges ?? []), { ...state.deal, at: now(), actor, reason, probability: probability(), changes: changed }];
    state.lastActivityAt = now();
    upsertSearchAttributes(dealAttributes());
  };

  // The record: every write carries the whole row as the funnel knows it and the timeline entries
  // since the previous write. Writes run one after the other; `recorded()` resolves once the
  // state as it is now has landed.
  let progress: LeadRecordProgress = input.carried?.record ?? { seq: 0, stages: 0, owners: 0 };
  let recordedAs = '';
  let recording: Promise<void> = Promise.resolve();
  const profile = (): LeadProfile => state.profile ?? profileOf(intake);
  const recordOf = () => {
    const closing = CLOSED_STAGES.includes(state.stage) ? state.transitions[state.transitions.length - 1]!.at : undefined;
    return {
      stage: state.stage,
      owner: state.owner!,
      profile: profile(),
      score: state.score,
      qualification: state.qualification,
      proposal: state.proposal,
      lostReason: state.lostReason,
      customerId: state.customerId,
      nextDue: policy && !closing ? nextDeadline(state, policy) : undefined,
      alerts: state.alerts,
      lastContactAt: state.contact.lastContactAt,
      lastActivityAt: state.lastActivityAt,
      closedAt: closing,
      deal: state.deal,
      probability: state.deal ? probability() : undefined,
    };
  };
  const fingerprint = () => `${JSON.stringify(recordOf())}|${state.transitions.length}|${state.reassignments?.length ?? 0}|${state.dealChanges?.length ?? 0}`;
  const recorded = (): Promise<void> => {
    if (state.intake.outcome !== 'accepted' || !patched(RECORD_PATCH)) return recording;
    const current = fingerprint();
    if (current === recordedAs) return recording;
    recordedAs = current;
    const record = recordOf();
    const owners = state.reassignments ?? [];
    const deals = state.dealChanges ?? [];
    const dealsWritten = progress.deals ?? 0;
    const write = {
      leadId,
      workflowId,
      runId,
      // Workflow time orders the writes across runs (continue-as-new) as well as within one.
      seq: Math.max(progress.seq + 1, Date.now() * 1000),
      ...record,
      stages: state.transitions.slice(progress.stages).map((t, i) => ({ ...t, seq: progress.stages + i })),
      owners: owners.slice(progress.owners).map((o, i) => ({ ...o, seq: progress.owners + i })),
      deals: deals.slice(dealsWritten).map((d, i) => ({ ...d, changes: d.changes ?? [], seq: dealsWritten + i })),
    };
    progress = { seq: write.seq, stages: state.transitions.length, owners: owners.length, ...(state.dealChanges ? { deals: deals.length } : {}) };
    recording = recording.then(() => acts.recordLead(write));
    return recording;
  };
  const behind = () => state.intake.outcome === 'accepted' && fingerprint() !== recordedAs;

  setHandler(leadStateQuery, () => state);
  setHandler(intakeOutcomeUpdate, async () => {
    budget.update();
    await condition(() => state.intake.outcome !== 'pending');
    await recorded();
    return state.intake;
  });
  setHandler(
    transitionUpdate,
    async (cmd: TransitionCommand) => {
      budget.update();
      if (cmd.to === 'qualified') state.qualification = { need: cmd.need!, budget: cmd.budget!, currency: cmd.currency ?? 'EUR', timeline: cmd.timeline! };
      if (cmd.to === 'proposal') state.proposal = { product: cmd.product!, amount: cmd.amount!, currency: cmd.currency ?? 'EUR' };
      // The proposal's price is the deal's amount from now on.
      if (cmd.to === 'proposal') changeDeal({ amount: cmd.amount!, currency: cmd.currency ?? state.deal?.currency }, cmd.actor, 'proposal');
      if (cmd.to === 'lost') state.lostReason = cmd.reason;
      move(cmd.to, cmd.actor, cmd.reason ?? cmd.note);
      // The caller of `won` learns the customer it made.
      if (cmd.to === 'won') await condition(() => state.customerId !== undefined);
      await recorded();
      return state;
    },
    {
      // Runs before anything is written: a refused transition leaves no trace in history.
      validator: (cmd: TransitionCommand) => {
        if (state.intake.outcome === 'pending') refuse(REFUSAL.conflict, 'the lead is still being taken in; try again in a moment');
        const why = refuseTransition(state, cmd);
        if (why) refuse(REFUSAL.conflict, why);
      },
    },
  );
  setHandler(
    reassignUpdate,
    async ({ ownerId, actor, reason }) => {
      budget.update();
      state.reassignments = [...(state.reassignments ?? []), { from: state.owner!, to: ownerId, at: now(), actor, reason }];
      state.owner = ownerId;
      // The SLA clock keeps running: the new owner inherits the lead's deadline, and its reminder.
      replan();
      await recorded();
      return state;
    },
    {
      validator: ({ ownerId }) => {
        const why = refuseReassignment(state, ownerId);
        if (why) refuse(REFUSAL.conflict, why);
      },
    },
  );
  setHandler(
    correctLeadUpdate,
    async ({ actor, ...correction }) => {
      budget.update();
      const changes = profileChanges(profile(), correction);
      if (changes.length === 0) return state;
      state.corrections = [...(state.corrections ?? []), { at: now(), actor, changes }];
      const next = { ...profile(), ...Object.fromEntries(changes.map((c) => [c.field, c.to])) } as LeadProfile;
      state.profile = next;
      state.name = next.name;
      state.company = next.company ?? undefined;
      state.score = await acts.correctLead({ leadId, workflowId, actor, correction: state.corrections.length, changes });
      await recorded();
      return state;
    },
    {
      validator: (_cmd: LeadCorrection & { actor: string }) => {
        const why = refuseCorrection(state);
        if (why) refuse(REFUSAL.conflict, why);
      },
    },
  );
  setHandler(
    changeDealUpdate,
    async ({ actor, reason, ...fields }) => {
      budget.update();
      changeDeal(fields, actor, reason);
      replan();
      await recorded();
      return state;
    },
    {
      validator: (_cmd: DealChangeRequest & { actor: string }) => {
        const why = refuseDealChange(state) ?? (state.deal ? undefined : 'this funnel was started before leads carried a deal');
        if (why) refuse(REFUSAL.conflict, why);
      },
    },
  );
  // A GDPR erasure of the person ends the funnel: closed as lost with the reason 'erased', recorded
  // like any move, before the erasure anonymises the lead.
  setHandler(
    eraseLeadUpdate,
    async ({ actor }) => {
      budget.update();
      state.lostReason = LEAD_ERASED_REASON;
      move('lost', actor, LEAD_ERASED_REASON);
      await recorded();
      return { stage: state.stage };
    },
    {
      validator: (_cmd: { requestId: string; actor: string }) => {
        if (state.intake.outcome === 'pending') refuse(REFUSAL.conflict, 'the lead is still being taken in; try again in a moment');
        if (CLOSED_STAGES.includes(state.stage)) refuse(REFUSAL.conflict, `the lead is ${state.stage} already`);
      },
    },
  );
  setHandler(interactionRecordedSignal, (e) => {
    budget.signal();
    state.interactions++;
    state.lastActivityAt = now();
    if (isContact(e)) {
      state.contact.lastContactAt = e.occurredAt;
      if (state.stage === 'new' && state.intake.outcome !== 'duplicate') move('contacted', e.recordedBy, `${e.direction} ${e.channel} recorded`);
    }
    replan();
    void recorded();
  });

  setHandler(taskCompletedSignal, (e) => {
    budget.signal();
    if (e.taskId !== state.contact.taskId) return;
    state.contact.taskOpen = false;
    state.lastActivityAt = now();
    if (state.stage === 'new') {
      state.contact.lastContactAt = e.at;
      move('contacted', e.actor, `contact task completed: ${e.outcome}`);
    }
    replan();
    void recorded();
  });

  if (!input.carried) {
    const taken = opportunity
      ? await acts.openOpportunity({
          leadId,
          customerId: opportunity.customerId,
          intake,
          actor: input.actor,
          workflowId,
          runId,
          transition: state.transitions[0]!,
        })
      : await acts.intakeLead({ leadId, intake, actor: input.actor, workflowId, runId, transition: state.transitions[0] });
    if (taken.outcome === 'duplicate') {
      state.intake = { outcome: 'duplicate', existingLeadId: taken.existingLeadId, existingCustomerId: taken.existingCustomerId };
      const reason = taken.existingLeadId ? `an open lead exists: ${taken.existingLeadId}` : `a customer exists: ${taken.existingCustomerId}`;
      upsertSearchAttributes([{ key: CrmStatus, value: 'duplicate' }]);
      setCurrentDetails(`**Duplicate intake**: ${reason}`);
      await condition(allHandlersFinished);
      return { outcome: 'duplicate', leadId, reason, stageHistory: state.transitions };
    }
    state.owner = taken.owner;
    if (taken.teamId) state.teamId = taken.teamId;
    state.score = taken.score;
    policy = taken.policy;
    if (patched(DEAL_PATCH)) {
      state.deal = dealOf(intake);
      state.transitions[0]!.probability = probability();
      state.dealChanges = [{ ...state.deal, at: state.transitions[0]!.at, actor: input.actor, reason: 'taken in', probability: probability() }];
      upsertSearchAttributes(dealAttributes());
    }
    state.intake = { outcome: 'accepted' };
  }
  const rules = policy!;

  let published = '';
  const publish = () => {
    const key = `${state.stage}|${state.owner}|${state.customerId}`;
    if (key !== published) {
      upsertSearchAttributes([
        { key: CrmProcess, value: CRM_PROCESS.acquisition },
        { key: CrmSource, value: state.source },
        { key: CrmStatus, value: state.stage },
        { key: CrmOwner, value: state.owner! },
        ...(state.teamId ? [{ key: CrmTeam, value: state.teamId }] : []),
        ...(state.customerId ? [{ key: CrmCustomerId, value: state.customerId }] : []),
      ]);
      published = key;
    }
    const due = state.nextDue ? `**Next:** ${state.nextDue.kind} at ${state.nextDue.at}` : '**Next:** nothing scheduled';
    const score = state.score ? `${state.score.value} (${state.score.grade})` : 'not scored';
    setCurrentDetails(`**Stage:** ${state.stage}  \n**Owner:** ${state.owner}  \n**Score:** ${score}  \n${due}`);
  };

  const stintInNew = () => state.transitions.filter((t) => t.to === 'new').length;

  const fire = async (kind: LeadDeadlineKind) => {
    switch (kind) {
      case 'contact-reminder':
      case 'contact-escalation': {
        if (kind === 'contact-reminder' && patched(TASK_PATCH)) {
          const task = await openTask({
            kind: 'lead-contact',
            title: `Contact lead ${state.name}${state.company ? ` (${state.company})` : ''}`,
            priority: 'high',
            ownerId: state.owner!,
            dueInMs: rules.contactSlaMs,
            leadId,
            process: CRM_PROCESS.acquisition,
            step: `contact-task:${stintInNew()}`,
          });
          if (task) {
            state.contact.remindersSent++;
            state.contact.taskId = task.taskId;
            state.contact.taskOpen = true;
            state.alerts.push({ kind, at: now(), recipient: state.owner! });
            return;
          }
        }
        const recipient = kind === 'contact-reminder' ? state.owner! : rules.escalationEmail;
        const messageId = await acts.queueLeadMessage({
          leadId,
          recipient,
          template: kind === 'contact-reminder' ? 'lead-contact-reminder' : 'lead-contact-escalation',
          idempotencyKey: `${workflowId}:${kind}:${stintInNew()}`,
          payload: { name: state.name, company: state.company, owner: state.owner },
        });
        if (kind === 'contact-reminder') state.contact.remindersSent++;
        else state.contact.escalated = true;
        state.alerts.push({ kind, at: now(), recipient });
        await deliver(messageId, kind === 'contact-reminder' ? `Contact reminder: ${state.name}` : `Contact escalation: ${state.name}`);
        return;
      }
      case 'idle-to-nurture':
        move('nurture', 'system', `no activity for ${describeDuration(rules.idleToNurtureMs)}`);
        return;
      case 'reactivation': {
        const before = state.score?.value;
        state.score = await acts.rescoreLead(leadId);
        move('new', 'system', `re-activated after ${describeDuration(rules.nurtureReactivationMs)} in nurture; score ${before ?? '-'} → ${state.score.value}`);
        return;
      }
    }
  };

  const convert = async () => {
    const wonBy = state.transitions[state.transitions.length - 1]!.actor;
    const result = await acts.convertLeadToCustomer({ leadId, customerId: uuid4(), workflowId, actor: wonBy });
    const person = profile();
    if (result.outcome === 'created') {
      await deliver(result.welcomeMessageId, 'Welcome message', result.customerId);
      const onboardingId = onboardingWorkflowId(result.customerId);
      await startChild(customerOnboarding, {
        workflowId: onboardingId,
        args: [
          {
            customerId: result.customerId,
            name: person.name,
            email: state.email,
            locale: person.locale,
            accountManager: state.owner,
            origin: 'lead',
            leadId,
          },
        ],
        // Onboarding takes weeks; the funnel's job ends with the customer.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: CrmCustomerId, value: result.customerId },
          { key: CrmProcess, value: CRM_PROCESS.onboarding },
          { key: CrmStatus, value: 'starting' },
          { key: CrmOwner, value: state.owner! },
        ],
        staticSummary: `Onboarding of customer ${result.customerId} (won lead)`,
      });
      state.onboardingWorkflowId = onboardingId;
    }
    state.customerId = result.customerId;
  };

  // The lead record's version: every transition and every reassignment advances it.
  const version = () => state.transitions.length + (state.reassignments?.length ?? 0);
  let mirrored = input.carried ? 0 : 1;
  for (;;) {
    if (state.stage === 'won' && !state.customerId) await convert();
    if (patched(RECORD_PATCH)) {
      await recorded();
      // A change that arrived during the write gets its own pass.
      if (behind()) continue;
    } else if (mirrored < version()) {
      mirrored = version();
      await acts.recordLeadStage({
        leadId,
        seq: mirrored,
        stage: state.stage,
        owner: state.owner,
        lostReason: state.lostReason,
        customerId: state.customerId,
      });
      // A change that arrived during the write gets its own pass.
      if (mirrored < version()) continue;
    }
    if (state.contact.taskOpen && state.stage !== 'new') {
      state.contact.taskOpen = false;
      const contacted = state.stage !== 'lost' && state.stage !== 'nurture';
      await resolveTask(state.contact.taskId!, {
        status: contacted ? 'done' : 'cancelled',
        reason: `lead moved to ${state.stage}`,
        actor: state.transitions[state.transitions.length - 1]!.actor,
      });
    }
    replan();
    publish();
    if (CLOSED_STAGES.includes(state.stage)) break;

    if (budget.exhausted()) {
      await condition(allHandlersFinished);
      await recording;
      await continueAsNew<typeof leadFunnel>({ ...input, carried: { state, policy: rules, record: progress } });
    }
    const seen = changes;
    const due = state.nextDue;
    // Woken by any change (a transition, an interaction) to re-plan; by the timer to act on it.
    if (!due) {
      await condition(() => changes !== seen);
      continue;
    }
    const changed = await condition(() => changes !== seen, Math.max(1, Date.parse(due.at) - Date.now()));
    if (!changed) await fire(due.kind);
  }

  await condition(allHandlersFinished);
  return {
    outcome: state.stage as 'won' | 'lost',
    leadId,
    customerId: state.customerId,
    reason: state.stage === 'lost' ? state.lostReason : undefined,
    stageHistory: state.transitions,
  };
}
