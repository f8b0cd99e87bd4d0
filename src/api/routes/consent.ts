/**
 * Consent of a customer per channel and purpose: the current state and the whole history (read
 * from `consent_events`), and an agent's record of a grant or withdrawal with its proof (a consent
 * given by phone, on a form, in a letter), which starts `recordConsent`. A withdrawal of marketing
 * consent stops the customer's running enrollments on that channel at once.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { CONSENT_TEXTS, consentChangeRequestSchema, consentWorkflowId, type ConsentAction, type ConsentChangeInput } from '../../domain/consent.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import { consentOverview } from '../../db/repositories/consents.js';
import { readCustomerRow } from '../../db/repositories/customers.js';
import type { recordConsent } from '../../../workflows/consent.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { idempotencyKeySchema, newKey, resultWithin, startOnce } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { customerIdParam } from '../schemas.js';

const consentEntryFields = z.object({
  id: z.string(),
  channel: z.string(),
  purpose: z.string(),
  action: z.string().openapi({ description: '`grant` or `withdraw`' }),
  method: z.string().openapi({ description: 'How: double-opt-in, form, call, letter, in-person, import, unsubscribe-link' }),
  textVersion: z.string().nullable().openapi({ description: 'The version of the wording agreed to (a grant)' }),
  text: z.string().nullable().openapi({ description: 'That wording' }),
  source: z.string(),
  confirmation: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'What a grant rests on, e.g. the double opt-in confirmation' }),
  occurredAt: z.string(),
  recordedAt: z.string(),
  recordedBy: z.string(),
  workflowId: z.string().nullable(),
});
export const consentEntrySchema = consentEntryFields.openapi('ConsentEntry');

const overviewSchema = z
  .object({
    customerId: z.string(),
    current: z.array(
      z.object({
        channel: z.string(),
        purpose: z.string(),
        granted: z.boolean(),
        since: z.string().nullable(),
        latest: consentEntryFields.nullable().openapi({ description: 'The grant or withdrawal in force; null when none was ever recorded' }),
      }),
    ),
    history: z.array(consentEntrySchema).openapi({ description: 'Every grant and withdrawal, newest first; never changed' }),
  })
  .openapi('Consents');

export const consentChangeResultSchema = z
  .object({
    consent: consentEntrySchema,
    notifiedEnrollments: z.array(z.string()).openapi({ description: 'Running enrollments told of a marketing withdrawal; those on its channel end at once' }),
  })
  .openapi('ConsentChange');

const pendingSchema = z.object({ status: z.literal('pending'), workflowId: z.string() });

const getConsents = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/consents',
  operationId: 'getConsents',
  tags: ['consent'],
  summary: "A customer's consent per channel and purpose, now and its whole history with proof",
  description: 'Read from `consent_events`. An erased customer keeps the history: it is the proof that contact was allowed (GDPR Art. 7(1)).',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: customerIdParam },
  responses: {
    200: jsonContent(overviewSchema, 'Current consent and history'),
    ...problemResponses(400, 401, 403, 404),
  },
});

const changeRoute = (action: ConsentAction) =>
  createRoute({
    method: 'post',
    path: `/v1/customers/{id}/consents/${action === 'grant' ? 'grants' : 'withdrawals'}`,
    operationId: action === 'grant' ? 'grantConsent' : 'withdrawConsent',
    tags: ['consent'],
    summary: action === 'grant' ? 'Record a consent the customer gave (by phone, on a form, in a letter)' : 'Record a withdrawal of consent',
    description:
      (action === 'grant'
        ? `A grant names the wording agreed to (\`textVersion\`: ${Object.keys(CONSENT_TEXTS).join(', ')}). `
        : 'A withdrawal of marketing consent ends the running enrollments on that channel at once, before their next message. ') +
      'Starts `recordConsent`; the row is appended (never changed) and audited. An erased customer answers 409.',
    middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
    request: {
      params: customerIdParam,
      headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
      body: jsonBody(
        consentChangeRequestSchema.openapi(action === 'grant' ? 'ConsentGrantRequest' : 'ConsentWithdrawalRequest'),
        action === 'grant'
          ? { channel: 'email', purpose: 'marketing', method: 'call', source: 'inbound call, agent anna', textVersion: 'marketing-email-v1' }
          : { channel: 'email', purpose: 'marketing', method: 'letter', source: 'letter of 2026-05-02' },
      ),
    },
    responses: {
      201: jsonContent(consentChangeResultSchema, 'Recorded'),
      202: jsonContent(pendingSchema, 'Accepted, still recording'),
      ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
    },
  });

export function consentRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(getConsents, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await readCustomerRow(deps.pool, id))) throw new ApiError(404, `No customer with id ${id}`);
    return c.json({ customerId: id, ...(await consentOverview(deps.pool, id)) }, 200);
  });

  for (const action of ['grant', 'withdraw'] as const) {
    app.openapi(changeRoute(action), async (c) => {
      const { id: customerId } = c.req.valid('param');
      const body = c.req.valid('json');
      const problem = (path: string, message: string) =>
        new ApiError(400, `Invalid request: body.${path}: ${message}`, { errors: [{ path: `body.${path}`, message, code: 'custom' }] });
      if (action === 'grant' && !body.textVersion) throw problem('textVersion', 'a grant names the wording the customer agreed to');
      const occurredAt = body.occurredAt ? new Date(body.occurredAt) : new Date();
      if (occurredAt.getTime() > Date.now() + 5 * 60_000) throw problem('occurredAt', 'must not be in the future');
      const customer = await readCustomerRow(deps.pool, customerId);
      if (!customer) throw new ApiError(404, `No customer with id ${customerId}`);
      if (customer.status === 'erased') throw new ApiError(409, `Customer ${customerId} was erased: no consent can be recorded`);

      const workflowId = consentWorkflowId(`${customerId}-${c.get('idempotency')?.scope ?? newKey()}`);
      c.set('workflowId', workflowId);
      const input: ConsentChangeInput = {
        consentId: crypto.randomUUID(),
        customerId,
        channel: body.channel,
        purpose: body.purpose,
        action,
        proof: { method: body.method, textVersion: body.textVersion ?? null, source: body.source },
        occurredAt: occurredAt.toISOString(),
        actor: c.get('principal').actor,
      };
      const { handle } = await startOnce<typeof recordConsent>(
        deps.temporal,
        'recordConsent',
        {
          taskQueue: deps.taskQueue,
          workflowId,
          args: [input],
          typedSearchAttributes: [
            { key: CrmCustomerId, value: customerId },
            { key: CrmProcess, value: CRM_PROCESS.consent },
            { key: CrmStatus, value: action === 'grant' ? 'granted' : 'withdrawn' },
          ],
          staticSummary: `Consent ${action === 'grant' ? 'granted' : 'withdrawn'}: ${body.purpose} by ${body.channel} (${body.method})`,
        },
        c.get('idempotency'),
      );
      const result = await resultWithin(handle.result(), resultWaitMs(deps));
      if (!result) return c.json({ status: 'pending' as const, workflowId }, 202);
      return c.json(result, 201);
    });
  }

  return app;
}
