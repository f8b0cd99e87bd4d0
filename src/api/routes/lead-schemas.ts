/**
 * What the API answers about a lead, shared by the lead reads (./acquisition.ts) and the funnel's
 * commands (./acquisition-commands.ts).
 */
import { z } from '@hono/zod-openapi';
import { COMPANY_SIZES, LEAD_SOURCES, LEAD_STAGES } from '../../domain/acquisition.js';
import { uuidParam } from '../schemas.js';

export const leadIdParam = uuidParam('a lead');

export const stageSchema = z.enum(LEAD_STAGES);

export const leadSchema = z
  .object({
    leadId: z.uuid(),
    workflowId: z.string(),
    stage: stageSchema,
    closed: z.boolean(),
    name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    company: z.string().nullable(),
    companySize: z.enum(COMPANY_SIZES).nullable(),
    source: z.enum(LEAD_SOURCES),
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
