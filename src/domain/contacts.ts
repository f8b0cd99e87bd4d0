/**
 * Contact management: interactions agents record with a lead or a customer (call, e-mail, meeting,
 * note). Each one is a row in contact_events, written by the `recordInteraction` workflow, which
 * then tells the subject's running process (the lead's funnel, the customer's onboarding).
 */
import { z } from 'zod';
import { dateTimeSchema } from './formats.js';
import { defineSignal } from '@temporalio/workflow';

export const INTERACTION_CHANNELS = ['call', 'email', 'meeting', 'note'] as const;
export const INTERACTION_DIRECTIONS = ['inbound', 'outbound', 'internal'] as const;

export const interactionRequestSchema = z
  .object({
    channel: z.enum(INTERACTION_CHANNELS),
    direction: z.enum(INTERACTION_DIRECTIONS),
    summary: z.string().trim().min(1, 'must not be empty').max(2000, 'has at most 2000 characters').meta({ pattern: '\\S' }),
    occurredAt: dateTimeSchema().optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.channel === 'note' && v.direction !== 'internal') {
      ctx.addIssue({ code: 'custom', path: ['direction'], message: 'a note is always internal' });
    }
    // A small allowance for clock skew between the agent's device and the server.
    if (v.occurredAt && Date.parse(v.occurredAt) > Date.now() + 5 * 60_000) {
      ctx.addIssue({ code: 'custom', path: ['occurredAt'], message: 'must not be in the future' });
    }
  });
export type InteractionRequest = z.infer<typeof interactionRequestSchema>;

export type InteractionSubject = { kind: 'lead'; leadId: string } | { kind: 'customer'; customerId: string };

export interface RecordInteractionInput {
  subject: InteractionSubject;
  interaction: InteractionRequest;
  actor: string;
}

export interface Interaction {
  id: string;
  leadId: string | null;
  customerId: string | null;
  channel: string;
  direction: string;
  kind: string;
  summary: string;
  occurredAt: string;
  recordedBy: string;
  process: string | null;
  workflowId: string | null;
}

/** What a running process hears when an interaction is recorded for its subject. */
export interface InteractionRecorded {
  eventId: string;
  channel: (typeof INTERACTION_CHANNELS)[number];
  direction: (typeof INTERACTION_DIRECTIONS)[number];
  occurredAt: string;
  recordedBy: string;
}

export const interactionRecordedSignal = defineSignal<[InteractionRecorded]>('interactionRecorded');

/** Only a conversation with the person counts as contact; an internal note does not. */
export function isContact(e: Pick<InteractionRecorded, 'direction'>): boolean {
  return e.direction !== 'internal';
}

export function interactionWorkflowId(key: string): string {
  return `interaction-${key}`;
}
