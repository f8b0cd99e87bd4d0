/**
 * Side effects of tasks: each step (opened, completed, cancelled, snoozed, reassigned,
 * escalated) is one transaction with its timeline entry, audit rows and the message that tells
 * the person it concerns, keyed by the writing workflow's id and step.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { queueMessage } from '../src/db/repositories/outbox.js';
import { accountManagerOf } from '../src/db/repositories/onboardings.js';
import { activeUser, approverFor, closeTask, escalateTask, insertTask, openedTask, reassignTask, snoozeTask, type Task } from '../src/db/repositories/tasks.js';
import type { User } from '../src/db/repositories/users.js';
import type { OpenedTask, TaskSpec } from '../src/domain/tasks.js';

export interface TaskActivityDeps {
  pool: Pool;
}

/** Tells a task's owner that it is theirs, in the caller's transaction. */
async function tellOwner(db: PoolClient, task: Task, owner: User, key: string, escalated?: { reason: string }): Promise<string> {
  return queueMessage(db, {
    customerId: task.customerId,
    recipient: owner.email,
    template: 'task-assigned',
    payload: { taskId: task.id, title: task.title, dueAt: task.dueAt, escalated: !!escalated, reason: escalated?.reason },
    idempotencyKey: key,
  });
}

/**
 * Opens a task in the caller's transaction (the one of the effect that makes it), and queues the
 * message to its owner; undefined when the owner is no active user.
 */
export async function openTaskIn(db: PoolClient, input: TaskSpec & { taskId: string; workflowId: string; actor: string }): Promise<OpenedTask | undefined> {
  let ownerId = input.approverFor ? ((await approverFor(db, input.approverFor)) ?? '') : input.ownerId;
  if (input.orAccountManager && input.customerId && !(await activeUser(db, ownerId))) ownerId = (await accountManagerOf(db, input.customerId)) ?? ownerId;
  const opened = await insertTask(db, { ...input, ownerId });
  if (!opened) return undefined;
  const messageId = await tellOwner(db, opened.task, opened.owner, `${input.workflowId}:${input.step}:assigned`);
  return openedTask(opened.task, messageId);
}

const gone = (taskId: string) => ApplicationFailure.nonRetryable(`task ${taskId} has no record`, 'TaskNotFound');

export function createTaskActivities({ pool }: TaskActivityDeps) {
  return {
    async openTask(input: TaskSpec & { taskId: string; workflowId: string; actor: string }): Promise<OpenedTask | undefined> {
      return inTransaction(pool, (db) => openTaskIn(db, input));
    },

    /** Completes (done) or cancels an open task; a closed one answers as it ended. */
    async closeTask(input: { taskId: string; status: 'done' | 'cancelled'; outcome: string; actor: string; key: string }): Promise<OpenedTask> {
      const task = await inTransaction(pool, (db) => closeTask(db, input));
      if (!task) throw gone(input.taskId);
      return openedTask(task);
    },

    async snoozeTask(input: { taskId: string; until: string; actor: string; key: string }): Promise<OpenedTask> {
      const task = await inTransaction(pool, (db) => snoozeTask(db, input));
      if (!task) throw gone(input.taskId);
      return openedTask(task);
    },

    /** Hands the task to an active user and tells them; a refusal (unknown or inactive user) is answered, not thrown. */
    async reassignTask(input: {
      taskId: string;
      ownerId: string;
      actor: string;
      reason?: string;
      key: string;
    }): Promise<{ task: OpenedTask } | { refused: string; status: 400 | 404 | 409 }> {
      return inTransaction(pool, async (db) => {
        const result = await reassignTask(db, input);
        if ('refused' in result) return result;
        const messageId = await tellOwner(db, result.task, result.owner, `${input.key}:assigned`);
        return { task: openedTask(result.task, messageId) };
      });
    },

    /** Raises an overdue task one level up the team and re-arms its due date; tells whoever has it now. */
    async escalateTask(input: { taskId: string; level: number; dueAt: string; key: string }): Promise<OpenedTask> {
      return inTransaction(pool, async (db) => {
        const result = await escalateTask(db, input);
        if (!result) throw gone(input.taskId);
        if (!result.escalated) return openedTask(result.task);
        const reason = `overdue, escalation ${result.task.escalationLevel}`;
        return openedTask(result.task, await tellOwner(db, result.task, result.owner, `${input.key}:assigned`, { reason }));
      });
    },
  };
}
