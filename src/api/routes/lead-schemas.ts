/**
 * What the API answers about a lead, shared by the lead reads (./acquisition.ts) and the funnel's
 * commands (./acquisition-commands.ts).
 */
import { z } from '@hono/zod-openapi';
import { COMPANY_SIZES, LEAD_KINDS, LEAD_STAGES, RECORD_SOURCES } from '../../domain/acquisition.js';
import { uuidParam } from '../schemas.js';

export const leadIdParam = uuidParam('a lead');

export const stageSchema = z.enum(LEAD_STAGES);
export const sourceSchema = z.enum(RECORD_SOURCES);
export const kindSchema = z.enum(LEAD_KINDS).openapi({ description: 'lead: a person not yet a customer; opportunity: the funnel for an existing customer' });

/** The deal of a lead or opportunity, in every read and list of them. */
export const dealShape = {
  amount: z.number().nullable().openapi({ description: 'What the deal is worth, in `currency`' }),
  currency: z.string().nullable().openapi({ description: 'ISO 4217' }),
  expectedClose: z.string().nullable().openapi({ description: 'Expected close date (YYYY-MM-DD)' }),
  productIds: z.array(z.string()).openapi({ description: 'Catalogue products the deal sells; a won deal adds them to the customer' }),
  probability: z.number().nullable().openapi({ description: "The current stage's probability (STAGE_PROBABILITIES as the funnel started)" }),
  weightedAmount: z.number().nullable().openapi({ description: 'amount × probability: what the deal adds to the forecast' }),
};

export const leadSchema = z
  .object({
    leadId: z.uuid(),
    kind: kindSchema,
    workflowId: z.string(),
    stage: stageSchema,
    closed: z.boolean(),
    name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    company: z.string().nullable(),
    companySize: z.enum(COMPANY_SIZES).nullable(),
    source: sourceSchema,
    interest: z.string().nullable(),
    locale: z.string(),
    owner: z.string(),
    score: z
      .object({
        value: z.number(),
        grade: z.enum(['A', 'B', 'C']),
        reasons: z.array(z.object({ rule: z.string(), points: z.number(), detail: z.string() })),
        scoredAt: z.string(),
      })
      .optional(),
    qualification: z.object({ need: z.string(), budget: z.number(), currency: z.string(), timeline: z.string() }).optional(),
    proposal: z.object({ product: z.string(), amount: z.number(), currency: z.string() }).optional(),
    lostReason: z.string().optional(),
    customerId: z.string().optional(),
    onboardingWorkflowId: z.string().optional(),
    nextDue: z.object({ kind: z.enum(['contact-reminder', 'contact-escalation', 'idle-to-nurture', 'reactivation']), at: z.string() }).optional(),
    alerts: z.array(z.object({ kind: z.enum(['contact-reminder', 'contact-escalation']), at: z.string(), recipient: z.string() })),
    interactions: z.number().int(),
    lastContactAt: z.string().optional(),
    lastActivityAt: z.string().optional(),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    closedAt: z.string().optional(),
    transitions: z
      .array(
        z.object({
          from: stageSchema.nullable(),
          to: stageSchema,
          at: z.string(),
          actor: z.string(),
          reason: z.string().optional(),
          workflowId: z.string(),
          runId: z.string().nullable(),
        }),
      )
      .openapi({ description: 'Every stage the lead entered: who moved it, when, from where and why' }),
    ...dealShape,
    dealChanges: z
      .array(
        z.object({
          amount: z.number().nullable(),
          currency: z.string().nullable(),
          expectedClose: z.string().nullable(),
          productIds: z.array(z.string()),
          probability: z.number().nullable(),
          at: z.string(),
          actor: z.string(),
          reason: z.string().optional(),
          workflowId: z.string(),
        }),
      )
      .openapi({ description: 'The deal as taken in and after each change (each changed field is also audited in the audit log as `deal.<field>`)' }),
    reassignments: z.array(z.object({ from: z.string(), to: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() })),
    corrections: z
      .array(
        z.object({
          field: z.string(),
          from: z.unknown(),
          to: z.unknown(),
          actor: z.string(),
          at: z.string(),
          workflowId: z.string().nullable(),
        }),
      )
      .openapi({ description: 'Corrections of the lead (PATCH), from the audit log: old and new value, who, when' }),
    live: z
      .object({ at: z.string(), state: z.object({}).loose() })
      .optional()
      .openapi({ description: 'Only with `?live=true`, for an open lead whose funnel answered in time: its state query, as of `at`' }),
  })
  .openapi('Lead');

export const pendingSchema = z.object({ status: z.literal('pending'), leadId: z.string(), workflowId: z.string() });
