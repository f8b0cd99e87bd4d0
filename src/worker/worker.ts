import { Worker, type NativeConnection } from '@temporalio/worker';
import type { DataConverter, WorkerDeploymentVersion } from '@temporalio/common';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { deploymentOptions } from './deployment.js';

export interface OperationalWorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  workflowBundle: { code: string } | { codePath: string };
  /** The payload codec (src/codec): encrypts everything the worker sends to Temporal. */
  dataConverter?: DataConverter;
  /**
   * The Worker Deployment version this worker runs as (src/worker/deployment.ts); unset: an
   * unversioned worker (the test harness), which runs every execution on its task queue.
   */
  deploymentVersion?: WorkerDeploymentVersion;
  /** WORKER_MAX_CACHED_WORKFLOWS: the sticky cache's bound; unset: the SDK's default (grows with the heap limit). */
  maxCachedWorkflows?: number;
}

/** The operational worker: every CRM workflow and activity on one task queue. */
export function createOperationalWorker(opts: OperationalWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle,
    dataConverter: opts.dataConverter,
    activities: createActivities({ pool: opts.pool, transport: opts.transport, settings: opts.settings }),
    shutdownGraceTime: '10 seconds',
    ...(opts.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: opts.maxCachedWorkflows } : {}),
    ...(opts.deploymentVersion ? { workerDeploymentOptions: deploymentOptions(opts.deploymentVersion) } : {}),
  });
}
