/**
 * Facts from one closed workflow run, read from what Temporal records without decoding any
 * payload: event times, search attributes (which codecs never encrypt) and activity types.
 * Payloads, which may hold personal data and are encrypted, stay unread: analytics needs no key.
 */
// @temporalio/proto is CommonJS: Node's ESM loader sees only its default export.
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';

type Event = temporal.api.history.v1.IHistoryEvent;
type ExecutionInfo = temporal.api.workflow.v1.IWorkflowExecutionInfo;
type Timestamp = { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;

/** Search attributes that identify a person are never copied into the analytics store. */
export const PERSONAL_ATTRIBUTES = new Set(['CrmCustomerId']);

export interface RunFacts {
  runId: string;
  /** The real workflow id: stored only as its pseudonym (migration 0005). */
  workflowId: string;
  /** The customer the run was tagged with (CrmCustomerId): kept only in the pseudonym mapping, erased with them. */
  customerId: string | null;
  workflowType: string;
  process: string | null;
  status: 'completed' | 'failed' | 'terminated' | 'timed_out' | 'canceled' | 'continued_as_new';
  failureType: string | null;
  /** The failure type of the last failed activity attempt (`Timeout` for one that timed out): why a run that handled it ended as it did. */
  activityFailureType: string | null;
  finalStatus: string | null;
  attributes: Record<string, unknown>;
  startTime: Date;
  closeTime: Date;
  durationMs: number;
  historyLength: number;
  transitions: Array<{ seq: number; from: string | null; to: string; at: Date; msInFrom: number | null; context: Record<string, unknown> }>;
  activities: Array<{ type: string; completed: number; failed: number }>;
}

export function timestampToMs(ts: Timestamp): number | undefined {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds.toNumber();
  return seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1_000_000);
}

const decoder = new TextDecoder();

export function decodeSearchAttributes(fields: Record<string, temporal.api.common.v1.IPayload> | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, payload] of Object.entries(fields ?? {})) {
    if (!payload?.data || payload.data.length === 0) {
      out[key] = null; // an upsert that removes the attribute
      continue;
    }
    try {
      out[key] = JSON.parse(decoder.decode(payload.data));
    } catch {
      // not JSON: leave it out rather than guess
    }
  }
  return out;
}

const STATUS: Record<number, RunFacts['status'] | undefined> = {
  [proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED]: 'completed',
  [proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED]: 'failed',
  [proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED]: 'canceled',
  [proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED]: 'terminated',
  [proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW]: 'continued_as_new',
  [proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT]: 'timed_out',
};

export function runStatus(status: number | null | undefined): RunFacts['status'] | undefined {
  return STATUS[status ?? 0];
}

export function nonPersonal(attributes: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attributes).filter(([k, v]) => !PERSONAL_ATTRIBUTES.has(k) && v !== null));
}

/** The business failure type: the first application failure type down the cause chain. */
export function failureTypeOf(failure: temporal.api.failure.v1.IFailure | null | undefined): string {
  for (let f = failure; f; f = f.cause) {
    if (f.applicationFailureInfo?.type) return f.applicationFailureInfo.type;
    if (f.timeoutFailureInfo) return 'Timeout';
  }
  return 'WorkflowFailed';
}

export function extractFacts(info: ExecutionInfo, events: Event[]): RunFacts {
  const runId = info.execution?.runId ?? '';
  const workflowId = info.execution?.workflowId ?? '';
  const status = runStatus(info.status);
  if (!runId || !status) throw new Error(`workflow ${workflowId} is not a closed run`);
  const startMs = timestampToMs(info.startTime) ?? timestampToMs(events[0]?.eventTime) ?? 0;
  const closeMs = timestampToMs(info.closeTime) ?? timestampToMs(events.at(-1)?.eventTime) ?? startMs;

  const attributes: Record<string, unknown> = {};
  const transitions: RunFacts['transitions'] = [];
  let current: { status: string; at: number } | undefined;
  const noteStatus = (value: unknown, atMs: number) => {
    if (typeof value !== 'string' || value === current?.status) return;
    transitions.push({
      seq: transitions.length,
      from: current?.status ?? null,
      to: value,
      at: new Date(atMs),
      msInFrom: current ? atMs - current.at : null,
      context: nonPersonal({ ...attributes }),
    });
    current = { status: value, at: atMs };
  };

  const scheduled = new Map<string, string>();
  const activities = new Map<string, { type: string; completed: number; failed: number }>();
  const countActivity = (scheduledEventId: unknown, outcome: 'completed' | 'failed') => {
    const type = scheduled.get(String(scheduledEventId));
    if (!type) return;
    const entry = activities.get(type) ?? { type, completed: 0, failed: 0 };
    entry[outcome] += 1;
    activities.set(type, entry);
  };
  let failureType: string | null = null;
  let activityFailureType: string | null = null;

  for (const e of events) {
    const at = timestampToMs(e.eventTime) ?? startMs;
    // Search attributes are set at start and changed by upserts: both move the status timeline.
    const setsAttributes = e.workflowExecutionStartedEventAttributes ?? e.upsertWorkflowSearchAttributesEventAttributes;
    if (setsAttributes) {
      const sa = decodeSearchAttributes(setsAttributes.searchAttributes?.indexedFields as Record<string, temporal.api.common.v1.IPayload>);
      Object.assign(attributes, sa);
      noteStatus(sa.CrmStatus, at);
      continue;
    }
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) {
      scheduled.set(String(e.eventId), sched.activityType?.name ?? 'unknown');
      continue;
    }
    const child = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (child) {
      // Child workflows started (a message delivery, an offer) count as steps of this run.
      const type = `child:${child.workflowType?.name ?? 'unknown'}`;
      const entry = activities.get(type) ?? { type, completed: 0, failed: 0 };
      entry.completed += 1;
      activities.set(type, entry);
      continue;
    }
    if (e.activityTaskCompletedEventAttributes) countActivity(e.activityTaskCompletedEventAttributes.scheduledEventId, 'completed');
    else if (e.activityTaskFailedEventAttributes) {
      countActivity(e.activityTaskFailedEventAttributes.scheduledEventId, 'failed');
      activityFailureType = failureTypeOf(e.activityTaskFailedEventAttributes.failure);
    } else if (e.activityTaskTimedOutEventAttributes) {
      countActivity(e.activityTaskTimedOutEventAttributes.scheduledEventId, 'failed');
      activityFailureType = 'Timeout';
    } else if (e.workflowExecutionFailedEventAttributes) failureType = failureTypeOf(e.workflowExecutionFailedEventAttributes.failure);
  }
  if (status === 'timed_out') failureType ??= 'WorkflowTimeout';

  // The visibility record holds the final values (including those set at start).
  Object.assign(attributes, decodeSearchAttributes(info.searchAttributes?.indexedFields as Record<string, temporal.api.common.v1.IPayload>));
  const kept = nonPersonal(attributes);
  return {
    runId,
    workflowId,
    customerId: typeof attributes.CrmCustomerId === 'string' ? attributes.CrmCustomerId : null,
    workflowType: info.type?.name ?? 'unknown',
    process: typeof kept.CrmProcess === 'string' ? kept.CrmProcess : null,
    status,
    failureType,
    activityFailureType,
    finalStatus: typeof kept.CrmStatus === 'string' ? kept.CrmStatus : (current?.status ?? null),
    attributes: kept,
    startTime: new Date(startMs),
    closeTime: new Date(closeMs),
    durationMs: Math.max(0, closeMs - startMs),
    historyLength: Number(info.historyLength ?? events.length),
    transitions,
    activities: [...activities.values()],
  };
}
