// Every workflow the operational worker runs; this file is the bundle's entry point.
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import { WORKFLOW_VERSIONING } from '../src/domain/versioning.js';
import { registerCustomer } from './customers.js';
import { deliverNotification } from './notifications.js';
import { leadFunnel } from './acquisition.js';
import { customerOnboarding } from './onboarding.js';
import { recordInteraction } from './contacts.js';
import { offer } from './offers.js';
import { campaignRun, campaignEnrollment, recordCustomerEvent } from './retention.js';
import { customerMasterData } from './master-data.js';
import { gdprExport, gdprErasure } from './gdpr.js';
import { recordConsent } from './consent.js';
import { taskWorkflow } from './tasks.js';
import { webhookDelivery } from './webhooks.js';
import { importRecords } from './imports.js';

const workflows = {
  registerCustomer,
  deliverNotification,
  leadFunnel,
  customerOnboarding,
  recordInteraction,
  offer,
  campaignRun,
  campaignEnrollment,
  recordCustomerEvent,
  customerMasterData,
  gdprExport,
  gdprErasure,
  recordConsent,
  taskWorkflow,
  webhookDelivery,
  importRecords,
} satisfies Record<keyof typeof WORKFLOW_VERSIONING, unknown>;

// Worker Versioning: each type pinned to the version that started it, or moving to the current
// one (src/domain/versioning.ts says which and why). Only a versioned worker may say so (an
// unversioned one, as in the test harness and replay, fails the task): the first task's worker
// version tells which this is, deterministically.
for (const [type, fn] of Object.entries(workflows)) {
  const { rule } = WORKFLOW_VERSIONING[type as keyof typeof WORKFLOW_VERSIONING];
  setWorkflowOptions(() => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: rule } : {}), fn as () => Promise<unknown>);
}

export {
  registerCustomer,
  deliverNotification,
  leadFunnel,
  customerOnboarding,
  recordInteraction,
  offer,
  campaignRun,
  campaignEnrollment,
  recordCustomerEvent,
  customerMasterData,
  gdprExport,
  gdprErasure,
  recordConsent,
  taskWorkflow,
  webhookDelivery,
  importRecords,
};
