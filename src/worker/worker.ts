import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.js';

export interface OperationalWorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  workflowBundle: { code: string } | { codePath: string };
}

/** The operational worker: every CRM workflow and activity on one task queue. */
export function createOperationalWorker(opts: OperationalWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle,
    activities: createActivities({ pool: opts.pool, transport: opts.transport }),
    shutdownGraceTime: '10 seconds',
  });
}
