/**
 * Customer registration: the contract between the API, the `registerCustomer` workflow and its
 * activities. A registration dedupes by normalised e-mail, creates the customer, records the
 * audit trail and queues the welcome message in one transaction.
 */
import { z } from 'zod';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { addressSchema, emailSchema, localeSchema, personNameSchema, phoneSchema } from './contact-data.js';

export const registrationRequestSchema = z
  .object({
    name: personNameSchema,
    email: emailSchema,
    phone: phoneSchema.optional(),
    address: addressSchema.optional(),
    locale: localeSchema.default('en'),
  })
  .strict();
export type RegistrationRequest = z.infer<typeof registrationRequestSchema>;

export interface RegistrationInput {
  /** Chosen by the API before start, so the workflow's search attributes name it from the first event. */
  customerId: string;
  request: RegistrationRequest;
  actor: string;
}

export type RegistrationResult = { outcome: 'created'; customerId: string; welcomeMessageId: string } | { outcome: 'duplicate'; customerId: string };

export interface Transition {
  status: string;
  at: string;
  actor: string;
  reason?: string;
}

export interface RegistrationState {
  status: 'received' | 'registered' | 'duplicate';
  customerId: string;
  transitions: Transition[];
}

export const registrationStateQuery = defineQuery<RegistrationState>('state');
/**
 * Answers as soon as the customer is committed (or the e-mail found taken): the API's
 * update-with-start waits for this, not for the welcome delivery and onboarding that follow.
 */
export const registrationOutcomeUpdate = defineUpdate<RegistrationResult>('outcome');
/** One update id per registration, so repeats of a request meet the same update. */
export const REGISTRATION_OUTCOME_UPDATE_ID = 'outcome';

export function registrationWorkflowId(key: string): string {
  return `customer-register-${key}`;
}

export interface Customer {
  id: string;
  /** The number people quote (letters, phone calls); assigned in order of registration. */
  customerNumber: number;
  name: string;
  email: string;
  phone: string | null;
  address: z.infer<typeof addressSchema> | null;
  locale: string;
  /** YYYY-MM-DD */
  birthDate: string | null;
  /** Masked (DE89…3000); the full IBAN stays in the customer row. */
  bankAccount: string | null;
  status: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}
