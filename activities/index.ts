import { createCustomerActivities } from './customers.js';
import { createNotificationActivities } from './notifications.js';
import { createAcquisitionActivities } from './acquisition.js';
import { createOnboardingActivities } from './onboarding.js';
import { createContactActivities } from './contacts.js';
import { createMasterDataActivities } from './master-data.js';
import { createGdprActivities } from './gdpr.js';
import { createOfferActivities } from './offers.js';
import { createRetentionActivities } from './retention.js';
import type { Pool } from '../src/db/pool.js';
import type { MessageTransport } from '../src/notifications/transport.js';

export interface ActivityDeps {
  pool: Pool;
  transport: MessageTransport;
}

/** Every operational activity, built over the dependencies handed in (real ones in tests too). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCustomerActivities(deps),
    ...createNotificationActivities(deps),
    ...createAcquisitionActivities(deps),
    ...createOnboardingActivities(deps),
    ...createContactActivities(deps),
    ...createMasterDataActivities(deps),
    ...createGdprActivities(deps),
    ...createOfferActivities(deps),
    ...createRetentionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
