// The operational worker's bundle entry point: every workflow type of workflows/all.ts, each with
// its versioning rule.
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import { WORKFLOW_VERSIONING, type OperationalWorkflowType } from '../src/domain/versioning.js';
import * as workflows from './all.js';

// Every exported type has a rule and every rule a type: the compiler checks both ways.
const rules: Record<keyof typeof workflows, (typeof WORKFLOW_VERSIONING)[OperationalWorkflowType]> = WORKFLOW_VERSIONING;
const types: Record<OperationalWorkflowType, unknown> = workflows;

// Worker Versioning: each type pinned to the version that started it, or moving to the current
// one (src/domain/versioning.ts says which and why). Only a versioned worker may say so (an
// unversioned one, as in the test harness and replay, fails the task): the first task's worker
// version tells which this is, deterministically.
for (const [type, fn] of Object.entries(types)) {
  const { rule } = rules[type as keyof typeof workflows];
  setWorkflowOptions(() => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: rule } : {}), fn as () => Promise<unknown>);
}

export * from './all.js';
