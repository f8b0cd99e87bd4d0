import { createCustomerActivities } from './customers.js';
import { createNotificationActivities } from './notifications.js';
import { createAcquisitionActivities } from './acquisition.js';
import { createOnboardingActivities } from './onboarding.js';
import { createContactActivities } from './contacts.js';
import { createMasterDataActivities } from './master-data.js';
import { createGdprActivities } from './gdpr.js';
import { createOfferActivities } from './offers.js';
import { createRetentionActivities } from './retention.js';
import { createConsentActivities } from './consent.js';
import { createTaskActivities } from './tasks.js';
import { createWebhookActivities } from './webhooks.js';
import { createImportActivities } from './imports.js';
import { defaultConfig, type Config } from '../src/config.js';
import type { Pool } from '../src/db/pool.js';
import type { MessageTransport } from '../src/notifications/transport.js';

/** The settings the activities act on: read once by the entry point from the config module. */
export type WorkerSettings = Pick<Config, 'acquisition' | 'masterData'> & Partial<Pick<Config, 'consent' | 'webhooks'>>;

export interface ActivityDeps {
  pool: Pool;
  transport: MessageTransport;
  /** The defaults of the config module when not handed in (never the environment). */
  settings?: WorkerSettings;
}

/** Every operational activity, built over the dependencies handed in (real ones in tests too). */
export function createActivities({ settings = defaultConfig(), ...rest }: ActivityDeps) {
  const deps = {
    ...rest,
    acquisition: settings.acquisition,
    masterData: settings.masterData,
    consent: settings.consent ?? defaultConfig().consent,
    webhooks: settings.webhooks ?? defaultConfig().webhooks,
  };
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
    ...createConsentActivities(deps),
    ...createTaskActivities(deps),
    ...createWebhookActivities(deps),
    ...createImportActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
