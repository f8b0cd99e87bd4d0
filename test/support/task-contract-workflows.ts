/**
 * A task as src/domain/processes.ts (TASK_PROCESS_STATUSES) says analytics learns it, for the pipeline
 * tests until the tasks of issue 12 run: open at start, overdue once its due time passes
 * unfinished, done when completed. `renew` continues it as new, as a long-lived process does, so
 * the tests see one task across two runs.
 */
import { condition, continueAsNew, defineSignal, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { CrmExpectedClose, CrmOwner, CrmProcess, CrmSource, CrmStatus, CrmTeam } from '../../src/domain/search-attributes.js';
import { CRM_PROCESS, TASK_PROCESS_STATUS } from '../../src/domain/processes.js';

export const completeSignal = defineSignal('complete');
export const renewSignal = defineSignal('renew');

export interface ContractTaskInput {
  kind: string;
  owner: string;
  team: string;
  /** Epoch ms of the due time. */
  dueAt: number;
  overdue?: boolean;
}

export async function contractTask(input: ContractTaskInput): Promise<string> {
  let done = false;
  let renew = false;
  setHandler(completeSignal, () => void (done = true));
  setHandler(renewSignal, () => void (renew = true));
  upsertSearchAttributes([
    { key: CrmProcess, value: CRM_PROCESS.task },
    { key: CrmStatus, value: input.overdue ? TASK_PROCESS_STATUS.overdue : TASK_PROCESS_STATUS.open },
    { key: CrmSource, value: input.kind },
    { key: CrmOwner, value: input.owner },
    { key: CrmTeam, value: input.team },
    { key: CrmExpectedClose, value: new Date(input.dueAt) },
  ]);
  let overdue = input.overdue ?? false;
  for (;;) {
    const wait = overdue ? undefined : Math.max(1, input.dueAt - Date.now());
    const woken = await condition(() => done || renew, wait);
    if (done) break;
    if (renew) await continueAsNew<typeof contractTask>({ ...input, overdue });
    if (!woken && !overdue) {
      overdue = true;
      upsertSearchAttributes([{ key: CrmStatus, value: TASK_PROCESS_STATUS.overdue }]);
    }
  }
  upsertSearchAttributes([{ key: CrmStatus, value: TASK_PROCESS_STATUS.done }]);
  return TASK_PROCESS_STATUS.done;
}
