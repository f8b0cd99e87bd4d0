/**
 * The operational worker as a version of a Worker Deployment: its build id is the workflow
 * bundle's content hash (the same code, the same version, whoever builds it), and `promoteVersion`
 * makes a version current or ramping once its workers poll, as `temporal worker deployment
 * set-current-version` / `set-ramping-version` do. The rollout procedure is in the README.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ConnectionLike } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { DEFAULT_VERSIONING_RULE } from '../domain/versioning.js';

export type WorkflowBundle = { code: string } | { codePath: string };

/** The build id of a bundle: the first 16 hex digits of the SHA-256 of its code. */
export async function bundleBuildId(bundle: WorkflowBundle): Promise<string> {
  const code = 'code' in bundle ? bundle.code : await readFile(bundle.codePath, 'utf8');
  return createHash('sha256').update(code).digest('hex').slice(0, 16);
}

/** The worker options of a versioned worker (Worker.create's `workerDeploymentOptions`). */
export function deploymentOptions(version: WorkerDeploymentVersion) {
  return { useWorkerVersioning: true as const, version, defaultVersioningBehavior: DEFAULT_VERSIONING_RULE };
}

export interface PromoteOptions {
  namespace: string;
  /** 'current', or a ramp: the share (0–100) of new and auto-upgrade executions sent to this version. */
  to: 'current' | { ramp: number };
  identity?: string;
  /** How long to wait for the version's workers to be seen by the server. */
  timeoutMs?: number;
}

/**
 * Makes `version` the deployment's current (or ramping) version. A version exists once one of its
 * workers has polled: until then the server answers NotFound and this waits.
 */
export async function promoteVersion(connection: ConnectionLike, version: WorkerDeploymentVersion, opts: PromoteOptions): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const identity = opts.identity ?? 'crm-process-engine';
  for (;;) {
    try {
      if (opts.to === 'current') {
        await connection.workflowService.setWorkerDeploymentCurrentVersion({
          namespace: opts.namespace,
          deploymentName: version.deploymentName,
          buildId: version.buildId,
          identity,
        });
      } else {
        await connection.workflowService.setWorkerDeploymentRampingVersion({
          namespace: opts.namespace,
          deploymentName: version.deploymentName,
          buildId: version.buildId,
          percentage: opts.to.ramp,
          identity,
        });
      }
      return;
    } catch (err) {
      // NOT_FOUND (5) until the version's first poll is registered; FAILED_PRECONDITION (9) while it is.
      const code = (err as { code?: number }).code;
      if ((code !== 5 && code !== 9) || Date.now() > deadline) {
        throw new Error(
          `could not make ${version.deploymentName}/${version.buildId} ${opts.to === 'current' ? 'current' : 'ramping'}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The deployment's current and ramping versions (build ids), as `temporal worker deployment describe` shows them. */
export async function describeDeployment(
  connection: ConnectionLike,
  namespace: string,
  deploymentName: string,
): Promise<{ current?: string; ramping?: string; rampPercentage: number; versions: string[] }> {
  const { workerDeploymentInfo: info } = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName });
  const routing = info?.routingConfig;
  return {
    current: routing?.currentDeploymentVersion?.buildId ?? undefined,
    ramping: routing?.rampingDeploymentVersion?.buildId ?? undefined,
    rampPercentage: routing?.rampingVersionPercentage ?? 0,
    versions: (info?.versionSummaries ?? []).map((v) => v.deploymentVersion?.buildId ?? '').filter(Boolean),
  };
}
