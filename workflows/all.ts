// Every workflow type the operational worker runs. The bundle's entry point (index.ts) exports
// these after giving each its versioning rule.
export { registerCustomer } from './customers.js';
export { deliverNotification } from './notifications.js';
export { leadFunnel } from './acquisition.js';
export { customerOnboarding } from './onboarding.js';
export { recordInteraction } from './contacts.js';
export { offer } from './offers.js';
export { campaignRun, campaignEnrollment, recordCustomerEvent } from './retention.js';
export { customerMasterData } from './master-data.js';
export { gdprExport, gdprErasure } from './gdpr.js';
export { recordConsent } from './consent.js';
export { taskWorkflow } from './tasks.js';
export { webhookDelivery } from './webhooks.js';
export { importRecords } from './imports.js';
