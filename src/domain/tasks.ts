/**
 * Tasks: work a process hands to a person and waits on. Each task has its own workflow
 * (`task-<taskId>`): open until a person completes it (an Update, which moves the process that
 * made it: the task workflow signals that process), or the process resolves it (the lead was
 * contacted another way, the onboarding ended). A task past its due date (and not snoozed)
 * escalates along the team: owner → team lead, and its timer is armed again, so an escalated task
 * that stays undone keeps being raised.
 */
import type { HistoryLimits } from './history-limits.js';
import { z } from 'zod';
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import { dateTimeSchema, uuidSchema } from './formats.js';

export const TASK_KINDS = [
  'lead-contact',
  'onboarding-first-contact',
  'onboarding-stalled',
  'change-approval',
  'offer-follow-up',
  'message-undeliverable',
] as const;
export type TaskKind = (typeof TASK_KINDS)[number];
export const TASK_STATUSES = ['open', 'done', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TASK_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
export const TASK_EVENT_KINDS = ['opened', 'snoozed', 'reassigned', 'escalated', 'completed', 'cancelled'] as const;
export type TaskEventKind = (typeof TASK_EVENT_KINDS)[number];
export const TASK_VIEWS = ['mine', 'team', 'overdue', 'due-today'] as const;
export type TaskView = (typeof TASK_VIEWS)[number];

export function taskWorkflowId(taskId: string): string {
  return `task-${taskId}`;
}

/** What a process asks for when it hands work to a person. */
export interface TaskSpec {
  kind: TaskKind;
  title: string;
  priority?: TaskPriority;
  /** A user id; a task is opened only for an active user. */
  ownerId: string;
  /** When `ownerId` is no active user: the customer's account manager, if they are one. */
  orAccountManager?: boolean;
  /** A four-eyes approval: the owner is an approver (backoffice or admin) other than this requester, not `ownerId`. */
  approverFor?: string;
  dueInMs: number;
  /** The process's time (workflow time): the due date counts from it, also when a test skips time. */
  now?: string;
  customerId?: string;
  leadId?: string;
  /** The process that waits on it (a CrmProcess value). */
  process: string;
  /** Names the step of the process that opens it: with the workflow id, the task's idempotency key. */
  step: string;
}

/** A task as its workflow knows it. */
export interface OpenedTask {
  taskId: string;
  kind: TaskKind;
  ownerId: string;
  teamId: string | null;
  dueAt: string;
  snoozedUntil?: string;
  escalationLevel: number;
  status: TaskStatus;
  /** The message telling the owner, for the process to deliver. */
  messageId?: string;
}

export interface TaskWorkflowInput {
  task: OpenedTask;
  /** The process that made the task and hears when it is completed. */
  originWorkflowId: string;
  /** How long an escalated task has before it is raised again: the task's own time to do it. */
  rearmMs: number;
  /** Steps taken by people so far, carried across continue-as-new (their keys count on). */
  steps?: number;
  /** When to continue as new (workflows/history-budget.ts): the defaults unless a test lowers them; carried on. */
  limits?: Partial<HistoryLimits>;
}

/** Told to the process that made the task when a person completes it. */
export interface TaskCompleted {
  taskId: string;
  kind: TaskKind;
  outcome: string;
  actor: string;
  at: string;
}
export const taskCompletedSignal = defineSignal<[TaskCompleted]>('taskCompleted');

/** Sent by the process when the task's work is done another way, or no longer needed. */
export interface TaskResolution {
  status: 'done' | 'cancelled';
  reason: string;
  actor: string;
}
export const resolveTaskSignal = defineSignal<[TaskResolution]>('resolveTask');

export const completeTaskUpdate = defineUpdate<OpenedTask, [{ outcome: string; actor: string }]>('complete');
export const snoozeTaskUpdate = defineUpdate<OpenedTask, [{ until: string; actor: string }]>('snooze');
export const reassignTaskUpdate = defineUpdate<OpenedTask, [{ ownerId: string; actor: string; reason?: string }]>('reassign');

/** Why a task refuses a person's request, if it does. */
export function refuseTaskChange(task: Pick<OpenedTask, 'status'>): string | undefined {
  return task.status === 'open' ? undefined : `the task is ${task.status}`;
}

export const completeTaskBody = z.object({ outcome: z.string().trim().min(1, 'must say what was done').max(1000) }).strict();
export const snoozeTaskBody = z.object({ until: dateTimeSchema() }).strict();
export const reassignTaskBody = z.object({ ownerId: uuidSchema('must be a user id (UUID)'), reason: z.string().trim().max(500).optional() }).strict();
