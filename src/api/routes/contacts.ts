/**
 * Interactions with leads and customers. Recording starts `recordInteraction` (id
 * `interaction-<key>`), which writes the contact_events row and tells the subject's running
 * process; the history is an operational read of contact_events, newest first, by cursor.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { interactionRequestSchema, interactionWorkflowId, type InteractionSubject } from '../../domain/contacts.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import type { recordInteraction } from '../../../workflows/contacts.js';
import { listInteractions } from '../../db/repositories/contact-events.js';
import { customerExists } from '../../db/repositories/customers.js';
import { leadExists } from '../../db/repositories/leads.js';
import { operational } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { idempotencyKeySchema, newKey, resultWithin, startOnce } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { uuidParam } from '../schemas.js';

const interactionSchema = z
  .object({
    id: z.string(),
    leadId: z.string().nullable(),
    customerId: z.string().nullable(),
    channel: z.string(),
    direction: z.string(),
    kind: z.string(),
    summary: z.string(),
    occurredAt: z.string(),
    recordedBy: z.string(),
    process: z.string().nullable(),
    workflowId: z.string().nullable(),
  })
  .openapi('Interaction');

const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be a nextCursor from an earlier page')
      .openapi({ description: 'Opaque: the nextCursor of an earlier page, unchanged' })
      .transform((v, ctx) => {
        const [at, id] = Buffer.from(v, 'base64url').toString('utf8').split('|');
        if (!at || !id || Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/.test(id)) {
          ctx.addIssue({ code: 'custom', message: 'must be a nextCursor from an earlier page' });
          return z.NEVER;
        }
        return { at, id };
      })
      .optional(),
  })
  .strict();

const pageSchema = z.object({ items: z.array(interactionSchema), nextCursor: z.string().optional() }).openapi('InteractionPage');

function routesFor(subject: 'lead' | 'customer') {
  const base = subject === 'lead' ? '/v1/leads/{id}/interactions' : '/v1/customers/{id}/interactions';
  const record = createRoute({
    method: 'post',
    path: base,
    operationId: subject === 'lead' ? 'recordLeadInteraction' : 'recordCustomerInteraction',
    tags: ['contacts'],
    summary: `Record an interaction with a ${subject}`,
    description:
      `Writes the interaction to the contact history and tells the ${subject === 'lead' ? "lead's funnel (contact resets the SLA; a new lead becomes contacted)" : "customer's onboarding (the first contact)"}. ` +
      'A repeat with the same Idempotency-Key returns the first result.',
    middleware: [operational] as const,
    request: {
      params: uuidParam(`a ${subject}`),
      headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
      body: jsonBody(interactionRequestSchema.openapi('InteractionRequest'), {
        channel: 'call',
        direction: 'outbound',
        summary: 'Discussed the renewal; sending a quote',
      }),
    },
    responses: {
      201: jsonContent(interactionSchema, 'The interaction was recorded'),
      202: jsonContent(z.object({ status: z.literal('pending'), workflowId: z.string() }), 'Accepted; still being recorded'),
      ...problemResponses(400, 401, 403, 404, 413, 415, 422),
    },
  });
  const list = createRoute({
    method: 'get',
    path: base,
    operationId: subject === 'lead' ? 'listLeadInteractions' : 'listCustomerInteractions',
    tags: ['contacts'],
    summary: `Contact history of a ${subject}, newest first`,
    middleware: [operational] as const,
    request: { params: uuidParam(`a ${subject}`), query: pageQuery },
    responses: { 200: jsonContent(pageSchema, 'A page of the history'), ...problemResponses(400, 401, 403, 404) },
  });
  return { record, list };
}

export function contactRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  const exists = async (subject: 'lead' | 'customer', id: string) => {
    const found = subject === 'lead' ? await leadExists(deps.pool, id) : await customerExists(deps.pool, id);
    if (!found) throw new ApiError(404, `No ${subject} with id ${id}`);
  };

  for (const subject of ['lead', 'customer'] as const) {
    const { record, list } = routesFor(subject);

    app.openapi(record, async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      await exists(subject, id);
      const workflowId = interactionWorkflowId(c.get('idempotency')?.scope ?? newKey());
      c.set('workflowId', workflowId);
      const target: InteractionSubject = subject === 'lead' ? { kind: 'lead', leadId: id } : { kind: 'customer', customerId: id };
      const { handle } = await startOnce<typeof recordInteraction>(
        deps.temporal,
        'recordInteraction',
        {
          taskQueue: deps.taskQueue,
          workflowId,
          args: [{ subject: target, interaction: body, actor: c.get('principal').actor }],
          typedSearchAttributes: [
            { key: CrmProcess, value: CRM_PROCESS.contacts },
            { key: CrmStatus, value: 'recording' },
            ...(subject === 'customer' ? [{ key: CrmCustomerId, value: id }] : []),
          ],
          staticSummary: `${body.channel} (${body.direction}) with ${subject} ${id}`,
        },
        c.get('idempotency'),
      );
      const event = await resultWithin(handle.result(), resultWaitMs(deps));
      if (!event) return c.json({ status: 'pending' as const, workflowId }, 202);
      return c.json(event, 201, { Location: `/v1/${subject}s/${id}/interactions` });
    });

    app.openapi(list, async (c) => {
      const { id } = c.req.valid('param');
      const { limit, cursor } = c.req.valid('query');
      await exists(subject, id);
      const page = await listInteractions(deps.pool, subject, id, cursor, limit);
      const nextCursor = page.next ? Buffer.from(`${page.next.at}|${page.next.id}`).toString('base64url') : undefined;
      return c.json({ items: page.items, ...(nextCursor ? { nextCursor } : {}) }, 200);
    });
  }
  return app;
}
