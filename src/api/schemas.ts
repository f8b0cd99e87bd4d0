/**
 * Schemas more than one route module answers with: path ids, the timeline of a process, and the
 * one-time-code verification that master-data changes and GDPR requests share.
 */
import { z } from '@hono/zod-openapi';
import { uuidSchema } from '../domain/formats.js';

/** `{id}` in a path, a UUID; `what` names it in the message, e.g. 'a customer'. */
export const uuidParam = (what: string) => z.object({ id: uuidSchema(`must be ${what} id (UUID)`).openapi({ param: { name: 'id', in: 'path' } }) });

export const customerIdParam = uuidParam('a customer');

/** One step of a process's timeline: its new status, when, who, why. */
export const transitionSchema = z.object({ status: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() });

export const codeBody = z
  .object({
    code: z
      .string()
      .trim()
      .regex(/^\d{6}$/, 'must be the 6-digit code from the message'),
  })
  .strict();
export const cancelBody = z.object({ reason: z.string().trim().max(500).optional() }).strict();

export const verificationSchema = z.object({
  targets: z.array(z.object({ target: z.string(), channel: z.string(), sentTo: z.string(), verified: z.boolean() })),
  attemptsLeft: z.number().int(),
  resendsLeft: z.number().int(),
  expiresAt: z.string().optional(),
  nextResendAt: z.string().optional(),
});
export const verifyResultSchema = z.object({ status: z.string(), verified: z.boolean(), attemptsLeft: z.number().int() });
export const verificationLogSchema = z.array(transitionSchema).openapi({ description: 'Codes sent and wrong codes entered (never the codes), oldest first' });
