// Every workflow the operational worker runs; this file is the bundle's entry point.
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
export { importRecords } from './imports.js';
