/**
 * Customer registration.
 * States: received → registered | duplicate.
 * Moved by: one activity that dedupes by normalised e-mail and creates the customer, its audit
 * rows and its welcome message in one transaction. The `outcome` update answers the API as soon
 * as that transaction has committed. Ends when the customer exists (or the e-mail
 * was already taken) and the welcome message has been handed to its own delivery workflow and the
 * customer to its onboarding.
 */
import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_TYPES } from '../src/domain/refusals.js';
import {
  registrationOutcomeUpdate,
  registrationStateQuery,
  type RegistrationInput,
  type RegistrationResult,
  type RegistrationState,
} from '../src/domain/customers.js';
import { onboardingWorkflowId } from '../src/domain/onboarding.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { deliver } from './notifications.js';
import { customerOnboarding } from './onboarding.js';

// Bounded (20 attempts, about a quarter of an hour): a registration is answered to a caller who waits.
const { registerCustomerRecord } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 20,
    nonRetryableErrorTypes: [...NON_RETRYABLE_TYPES],
  },
});

export async function registerCustomer(input: RegistrationInput): Promise<RegistrationResult> {
  const state: RegistrationState = {
    status: 'received',
    customerId: input.customerId,
    transitions: [{ status: 'received', at: new Date().toISOString(), actor: input.actor }],
  };
  setHandler(registrationStateQuery, () => state);
  // The API's update-with-start: answered once the record is committed, while the rest runs on.
  // An update handler adds no commands, so histories recorded before it replay unchanged.
  const answer: { outcome?: RegistrationResult } = {};
  setHandler(registrationOutcomeUpdate, async () => {
    await condition(() => answer.outcome !== undefined);
    return answer.outcome!;
  });

  const { workflowId, runId } = workflowInfo();
  const result = await registerCustomerRecord({ ...input, workflowId, runId, receivedAt: state.transitions[0]!.at });
  answer.outcome = result;

  state.status = result.outcome === 'created' ? 'registered' : 'duplicate';
  state.customerId = result.customerId;
  state.transitions.push({
    status: state.status,
    at: new Date().toISOString(),
    actor: 'system',
    reason: result.outcome === 'duplicate' ? 'a customer with this e-mail already exists' : undefined,
  });
  upsertSearchAttributes([
    { key: CrmCustomerId, value: result.customerId },
    { key: CrmProcess, value: CRM_PROCESS.registration },
    { key: CrmStatus, value: state.status },
  ]);

  if (result.outcome === 'created') {
    // Delivery retries on its own schedule (an SMTP outage may last hours); registration need not wait.
    await deliver(result.welcomeMessageId, 'Welcome message', result.customerId);
    // Registrations that ran before onboarding existed replay without it.
    if (patched('onboarding-after-registration')) {
      await startChild(customerOnboarding, {
        workflowId: onboardingWorkflowId(result.customerId),
        args: [
          {
            customerId: result.customerId,
            name: input.request.name,
            email: input.request.email,
            locale: input.request.locale,
            origin: 'registration',
          },
        ],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: CrmCustomerId, value: result.customerId },
          { key: CrmProcess, value: CRM_PROCESS.onboarding },
          { key: CrmStatus, value: 'starting' },
        ],
        // No name: a summary names no person (it is sealed with the shared key, not the person's).
        staticSummary: `Onboarding of customer ${result.customerId} (registered)`,
      });
    }
  }
  await condition(allHandlersFinished);
  return result;
}
