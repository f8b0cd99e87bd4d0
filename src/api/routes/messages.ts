/**
 * Messages: one queued message as the record holds it (`notification_outbox`): its channel,
 * template, where it stands (pending, sent, withheld, undeliverable) and why, how often delivery
 * was tried. Read from PostgreSQL; the delivery workflow (`notify-<id>`) may be long gone.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { MESSAGE_STATUSES, messageStatus, readMessage } from '../../db/repositories/outbox.js';
import { notificationWorkflowId } from '../../domain/notifications.js';
import { operational } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { jsonContent, problemResponses } from '../openapi.js';
import { ApiError } from '../problem.js';
import { uuidParam } from '../schemas.js';

const messageSchema = z
  .object({
    id: z.string(),
    customerId: z.string().nullable(),
    channel: z.enum(['email', 'sms']),
    recipient: z.string().openapi({ description: 'The address or number it goes to (`erased` once its customer was erased)' }),
    template: z.string(),
    status: z.enum(MESSAGE_STATUSES).openapi({
      description:
        '`pending`: waiting for (another) attempt; `sent`; `withheld`: marketing whose consent was withdrawn; `undeliverable`: given up on, see `reason`',
    }),
    reason: z
      .object({
        type: z.string().openapi({ description: 'RecipientErased, RecipientInvalid, NoTransport or RetriesExhausted; `Withheld` for a withheld message' }),
        detail: z.string().nullable().openapi({ description: 'The transport’s words (cleared by an erasure)' }),
      })
      .nullable()
      .openapi({ description: 'Why a message was not sent (withheld or undeliverable)' }),
    attempts: z.number().int().openapi({ description: 'Delivery attempts so far' }),
    lastError: z.string().nullable().openapi({ description: 'The error of the last failed attempt' }),
    createdAt: z.string(),
    sentAt: z.string().nullable(),
    withheldAt: z.string().nullable(),
    undeliverableAt: z.string().nullable(),
    workflowId: z.string().openapi({ description: 'The delivery workflow in the Temporal UI (kept for the namespace retention)' }),
  })
  .openapi('Message');

const getRoute = createRoute({
  method: 'get',
  path: '/v1/messages/{id}',
  operationId: 'getMessage',
  tags: ['messages'],
  summary: 'A queued message: where its delivery stands and, if it was not sent, why',
  middleware: [operational] as const,
  request: { params: uuidParam('a message') },
  responses: { 200: jsonContent(messageSchema, 'The message'), ...problemResponses(400, 401, 403, 404) },
});

export function messageRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const row = await readMessage(deps.pool, id);
    if (!row) throw new ApiError(404, `No message with id ${id}`);
    const status = messageStatus(row);
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return c.json(
      {
        id: row.id,
        customerId: row.customer_id,
        channel: row.channel,
        recipient: row.recipient,
        template: row.template,
        status,
        reason:
          status === 'undeliverable'
            ? { type: row.undeliverable_type!, detail: row.undeliverable_reason }
            : status === 'withheld'
              ? { type: 'Withheld', detail: row.withheld_reason }
              : null,
        attempts: row.attempts,
        lastError: row.last_error,
        createdAt: row.created_at.toISOString(),
        sentAt: iso(row.sent_at),
        withheldAt: iso(row.withheld_at),
        undeliverableAt: iso(row.undeliverable_at),
        workflowId: notificationWorkflowId(row.id),
      },
      200,
    );
  });

  return app;
}
