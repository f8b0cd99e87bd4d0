/**
 * A task (`task-<taskId>`): work a process handed to a person, who sees it in their list.
 * States: open → done | cancelled. Moved by the person (Updates: complete with an outcome, snooze
 * until a time, reassign to another active user), by the process that made it (a signal that
 * resolves it: its work was done another way, or is no longer needed), and by its timer: past its
 * due date (and any snooze) it escalates one level up the team (owner → team lead) and gets a new
 * due date, so the timer keeps running until someone acts. Completing it tells the process that
 * made it (a signal), which moves on.
 */
import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_TYPES, REFUSAL, refuse, type RefusalType } from '../src/domain/refusals.js';
import { CRM_PROCESS, TASK_PROCESS_STATUS, type TaskProcessStatus } from '../src/domain/processes.js';
import { CrmCustomerId, CrmExpectedClose, CrmOwner, CrmProcess, CrmSource, CrmStatus, CrmTeam } from '../src/domain/search-attributes.js';
import {
  completeTaskUpdate,
  reassignTaskUpdate,
  refuseTaskChange,
  resolveTaskSignal,
  snoozeTaskUpdate,
  taskCompletedSignal,
  taskWorkflowId,
  type OpenedTask,
  type TaskResolution,
  type TaskSpec,
  type TaskWorkflowInput,
} from '../src/domain/tasks.js';
import { deliver } from './notifications.js';
import { HistoryBudget } from './history-budget.js';

// No attempt limit: a database outage delays a task, it never loses one; what no retry mends (the
// task's row is gone, a refused rule) is typed non-retryable and ends the step at once.
const acts = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES] },
});

const REFUSAL_OF_STATUS: Record<400 | 404 | 409, RefusalType> = { 400: REFUSAL.invalidInput, 404: REFUSAL.notFound, 409: REFUSAL.conflict };

export async function taskWorkflow(input: TaskWorkflowInput): Promise<OpenedTask> {
  const { workflowId } = workflowInfo();
  const { taskId } = input.task;
  let task: OpenedTask = input.task;
  let resolution: TaskResolution | undefined;
  let changes = 0;
  const budget = new HistoryBudget(input.limits);
  // Each person's step has its own key: a retried activity finds its write.
  let steps = input.steps ?? 0;
  const step = (name: string) => `${workflowId}:${name}:${++steps}`;
  const keep = (next: OpenedTask) => {
    const { messageId: _sent, ...rest } = next;
    task = rest;
    changes++;
  };
  const validator = () => {
    const why = refuseTaskChange(task);
    if (why) refuse(REFUSAL.conflict, why);
  };

  setHandler(
    completeTaskUpdate,
    async ({ outcome, actor }) => {
      budget.update();
      keep(await acts.closeTask({ taskId, status: 'done', outcome, actor, key: step('completed') }));
      if (task.status === 'done') {
        // The process may have ended meanwhile: then nobody waits for this any more.
        await getExternalWorkflowHandle(input.originWorkflowId)
          .signal(taskCompletedSignal, { taskId, kind: task.kind, outcome, actor, at: new Date().toISOString() })
          .catch(() => undefined);
      }
      return task;
    },
    { validator: (_request: { outcome: string; actor: string }) => validator() },
  );
  setHandler(
    snoozeTaskUpdate,
    async ({ until, actor }) => {
      budget.update();
      keep(await acts.snoozeTask({ taskId, until, actor, key: step('snoozed') }));
      return task;
    },
    {
      validator: ({ until }) => {
        validator();
        if (Date.parse(until) <= Date.now()) refuse(REFUSAL.invalidInput, `until (${until}) must be in the future`);
      },
    },
  );
  setHandler(
    reassignTaskUpdate,
    async ({ ownerId, actor, reason }) => {
      budget.update();
      const result = await acts.reassignTask({ taskId, ownerId, actor, reason, key: step('reassigned') });
      if ('refused' in result) refuse(REFUSAL_OF_STATUS[result.status], result.refused);
      keep(result.task);
      publish();
      await deliver(result.task.messageId, `Task handed to ${ownerId}`);
      return task;
    },
    { validator: (_request: { ownerId: string; actor: string; reason?: string }) => validator() },
  );
  setHandler(resolveTaskSignal, (r) => {
    budget.signal();
    resolution ??= r;
    changes++;
  });

  const publish = () => {
    upsertSearchAttributes(taskAttributes(task));
    const snooze = task.snoozedUntil ? `  \n**Snoozed until:** ${task.snoozedUntil}` : '';
    setCurrentDetails(
      `**Status:** ${task.status}  \n**Owner:** ${task.ownerId}  \n**Due:** ${task.dueAt}${snooze}  \n**Escalations:** ${task.escalationLevel}`,
    );
  };

  while (task.status === 'open') {
    publish();
    if (resolution) {
      keep(await acts.closeTask({ taskId, status: resolution.status, outcome: resolution.reason, actor: resolution.actor, key: `${workflowId}:resolved` }));
      continue;
    }
    if (budget.exhausted()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof taskWorkflow>({ ...input, task, steps });
    }
    const wakeAt = Math.max(Date.parse(task.dueAt), task.snoozedUntil ? Date.parse(task.snoozedUntil) : 0);
    const seen = changes;
    if (await condition(() => changes !== seen, Math.max(1, wakeAt - Date.now()))) continue;
    const level = task.escalationLevel + 1;
    const dueAt = new Date(Date.now() + input.rearmMs).toISOString();
    const raised = await acts.escalateTask({ taskId, level, dueAt, key: `${workflowId}:escalation:${level}` });
    keep(raised);
    await deliver(raised.messageId, `Overdue task raised to ${raised.ownerId}`);
  }
  publish();
  await condition(allHandlersFinished);
  return task;
}

/**
 * What analytics learns a task from (the contract in src/domain/processes.ts, TASK_ATTRIBUTE):
 * its status, `overdue` once it has been escalated and is still open; its kind; its owner and
 * team; its due time, moved by a snooze.
 */
function taskAttributes(t: Omit<OpenedTask, 'messageId'>) {
  const status: TaskProcessStatus = t.status === 'open' && t.escalationLevel > 0 ? TASK_PROCESS_STATUS.overdue : t.status;
  return [
    { key: CrmStatus, value: status },
    { key: CrmSource, value: t.kind },
    { key: CrmOwner, value: t.ownerId },
    ...(t.teamId ? [{ key: CrmTeam, value: t.teamId }] : []),
    { key: CrmExpectedClose, value: new Date(t.snoozedUntil ?? t.dueAt) },
  ];
}

/**
 * Starts the workflow of a task a process opened (its row written by the process's activity),
 * and delivers the message to its owner. The task outlives the process (ABANDON); a process that
 * continued as new finds its task's workflow running and leaves it be.
 */
export async function startTask(task: OpenedTask, spec: Pick<TaskSpec, 'title' | 'customerId' | 'dueInMs'>): Promise<void> {
  // The summary names no person (the title may): the task's id and kind only.
  await deliver(task.messageId, `Task ${task.taskId} (${task.kind}) for ${task.ownerId}`, spec.customerId);
  const { messageId: _sent, ...opened } = task;
  try {
    await startChild(taskWorkflow, {
      workflowId: taskWorkflowId(task.taskId),
      args: [{ task: opened, originWorkflowId: workflowInfo().workflowId, rearmMs: spec.dueInMs }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: CrmProcess, value: CRM_PROCESS.task },
        ...taskAttributes(opened),
        ...(spec.customerId ? [{ key: CrmCustomerId, value: spec.customerId }] : []),
      ],
      // The title names the person: it stays in the task's record and its state, not in the summary.
      staticSummary: `Task ${opened.taskId} (${opened.kind})${spec.customerId ? ` about customer ${spec.customerId}` : ''}`,
    });
  } catch (err) {
    if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
  }
}

/** Opens a task for a person and starts its workflow; undefined when the owner is no active user. */
export async function openTask(spec: TaskSpec): Promise<OpenedTask | undefined> {
  const task = await acts.openTask({ ...spec, now: new Date().toISOString(), taskId: uuid4(), workflowId: workflowInfo().workflowId, actor: 'system' });
  if (task) await startTask(task, spec);
  return task;
}

/** Tells a task its work was done another way, or is no longer needed; a task already closed ignores it. */
export async function resolveTask(taskId: string, resolution: TaskResolution): Promise<void> {
  await getExternalWorkflowHandle(taskWorkflowId(taskId))
    .signal(resolveTaskSignal, resolution)
    .catch(() => undefined);
}
