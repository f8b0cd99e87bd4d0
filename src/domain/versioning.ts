/**
 * Worker Versioning: the operational worker runs as a version of a Worker Deployment (its build id
 * is the workflow bundle's content hash), and every workflow type says how its executions move
 * between versions. Pure and workflow-safe: the bundle's entry point applies the table, the README
 * explains it, and a test checks every exported workflow type has a rule.
 *
 * - PINNED: an execution runs to its end on the version that started it. For short processes (a
 *   request, a message, an offer's answer): a new version may change them freely, without
 *   `patched()`, as long as the old version keeps running until its pinned executions have drained.
 * - AUTO_UPGRADE: an execution moves to the deployment's current version at its next workflow task.
 *   For long entity processes (weeks to months, or with no end of their own): pinning them would
 *   keep every old version running for as long as the oldest of them lives. Their changes stay
 *   guarded with `patched()` and proven by the replay tests. (Upgrade on continue-as-new, a pinned
 *   run moving on at its continue-as-new, needs a newer Temporal server than 1.29.)
 */
export type VersioningRule = 'PINNED' | 'AUTO_UPGRADE';

/** Per workflow type of the operational bundle: its rule and why. */
export const WORKFLOW_VERSIONING = {
  registerCustomer: { rule: 'PINNED', why: 'seconds long: dedupe, record, welcome' },
  deliverNotification: { rule: 'PINNED', why: 'one message: sent as the version that queued it formats it' },
  recordInteraction: { rule: 'PINNED', why: 'immediate: one row and one signal' },
  recordCustomerEvent: { rule: 'PINNED', why: 'immediate: one event, its suppression and signals' },
  recordConsent: { rule: 'PINNED', why: 'immediate: one consent row and signals' },
  offer: { rule: 'PINNED', why: 'bounded by its validity: the answer is taken by the rules it was made under' },
  gdprExport: { rule: 'PINNED', why: 'bounded by code expiry and export retention (days)' },
  gdprErasure: { rule: 'PINNED', why: 'bounded by the grace period: the erasure runs as it was confirmed' },
  campaignRun: { rule: 'PINNED', why: 'one run of a schedule: its pages (continue-as-new) stay on the version that selected the first' },
  leadFunnel: { rule: 'AUTO_UPGRADE', why: 'months (nurture, re-activation); changes are patched' },
  customerOnboarding: { rule: 'AUTO_UPGRADE', why: 'weeks (check-in); changes are patched' },
  customerMasterData: { rule: 'AUTO_UPGRADE', why: 'the customer’s change desk, open while changes come; changes are patched' },
  campaignEnrollment: { rule: 'AUTO_UPGRADE', why: 'weeks of steps and waits; changes are patched' },
  taskWorkflow: { rule: 'AUTO_UPGRADE', why: 'open until a person acts, escalating with no end of its own; changes are patched' },
  importRecords: { rule: 'PINNED', why: 'one file: its pages (continue-as-new) stay on the version that validated the first' },
  webhookDelivery: { rule: 'AUTO_UPGRADE', why: 'one per subscription, with no end of its own (continues as new); changes are patched' },
} as const satisfies Record<string, { rule: VersioningRule; why: string }>;

export type OperationalWorkflowType = keyof typeof WORKFLOW_VERSIONING;

/** The worker's default for a type the table forgot (a test refuses that): the behaviour of an unversioned worker. */
export const DEFAULT_VERSIONING_RULE: VersioningRule = 'AUTO_UPGRADE';
