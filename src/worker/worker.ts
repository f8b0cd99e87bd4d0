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
  /** Slots, pollers and cache (WORKER_* settings); what is unset takes WORKER_TUNING_DEFAULTS. */
  tuning?: WorkerTuningSettings;
}

/** The operational worker's slots, pollers and cache; undefined: the default below. */
export interface WorkerTuningSettings {
  maxConcurrentWorkflowTasks?: number;
  maxConcurrentActivities?: number;
  maxCachedWorkflows?: number;
  workflowPollers?: number;
  activityPollers?: number;
  eagerActivities?: number;
}

/**
 * What the worker runs with when nothing is configured (README, Performance → Tuning). Undefined
 * leaves the SDK's own default.
 *
 * The workflow cache is bounded: the SDK's default grows with the heap limit (about 2,300 at
 * Node's 4 GiB), and a cached workflow costs about 0.4 MiB here, so the default alone would let
 * the worker pass 1 GiB. 250 keeps it under 512 MiB (the bench's memory section); open
 * workflows beyond it wait on their timers in Temporal, not in the worker, and one that wakes
 * uncached is replayed from its history.
 */
export const WORKER_TUNING_DEFAULTS: WorkerTuningSettings = { maxCachedWorkflows: 250 };

export function workerTuningOptions(settings: WorkerTuningSettings = {}) {
  const t = { ...WORKER_TUNING_DEFAULTS, ...Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) };
  return {
    ...(t.maxConcurrentWorkflowTasks !== undefined ? { maxConcurrentWorkflowTaskExecutions: t.maxConcurrentWorkflowTasks } : {}),
    ...(t.maxConcurrentActivities !== undefined ? { maxConcurrentActivityTaskExecutions: t.maxConcurrentActivities } : {}),
    ...(t.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: t.maxCachedWorkflows } : {}),
    ...(t.workflowPollers !== undefined ? { workflowTaskPollerBehavior: { type: 'simple-maximum' as const, maximum: t.workflowPollers } } : {}),
    ...(t.activityPollers !== undefined ? { activityTaskPollerBehavior: { type: 'simple-maximum' as const, maximum: t.activityPollers } } : {}),
    ...(t.eagerActivities !== undefined ? { maxEagerActivityReservationsPerWorkflowTask: t.eagerActivities } : {}),
  };
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
    ...workerTuningOptions(opts.tuning),
    ...(opts.deploymentVersion ? { workerDeploymentOptions: deploymentOptions(opts.deploymentVersion) } : {}),
  });
}
