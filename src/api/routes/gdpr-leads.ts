/**
 * GDPR requests of a person known only as a lead (no customer): a copy of their data and its
 * erasure, asked for by e-mail address. They start the same workflows as a customer's requests
 * (`gdprExport`, `gdprErasure`, with the address instead of a customer id) and are then confirmed,
 * read, fetched and cancelled through the same /v1/gdpr-requests routes.
 *
 * Every address gets the same answer, 202 with a request, whether anything is held under it or
 * not: the code goes out only when leads of no customer are held under it, and the request looks
 * the same from outside either way, so the API does not tell who is a lead. A second request for
 * an address while one of its kind is open answers with the open one.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { claimLeadRequest, releaseLeadRequest } from '../../db/repositories/gdpr-requests.js';
import { emailSchema, normaliseEmail } from '../../domain/contact-data.js';
import { gdprWorkflowId, type GdprKind } from '../../domain/gdpr.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { throwTemporalProblem } from '../temporal-errors.js';
import { startGdprRequest } from './gdpr.js';

const leadGdprBody = z
  .object({ email: emailSchema.openapi({ description: 'The address the person gave as a lead; the code goes to it' }) })
  .strict()
  .openapi('LeadGdprRequest');

const accepted = jsonContent(
  z.object({ requestId: z.string(), status: z.string(), statusUrl: z.string() }),
  'Request accepted: a code goes to the address when leads are held under it (the answer is the same either way)',
);

const route = (kind: GdprKind) =>
  createRoute({
    method: 'post',
    path: `/v1/lead-data/${kind}`,
    operationId: kind === 'export' ? 'requestLeadExport' : 'requestLeadErasure',
    tags: ['gdpr'],
    summary:
      kind === 'export'
        ? 'Request a copy of every personal datum held about a person known only as a lead, by e-mail address'
        : 'Request the erasure of a person known only as a lead, by e-mail address (after a cancellable grace period)',
    description:
      'Covers the leads under the address that belong to no customer: the lead rows, their timelines, corrections, interactions and messages' +
      (kind === 'erasure' ? ', and ends their running funnels (closed as lost, reason `erased`)' : '') +
      '. A customer under the same address is not touched: that is the customer’s own request. Confirm with the code, then follow the request under /v1/gdpr-requests/{id}.',
    middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
    request: { body: jsonBody(leadGdprBody, { email: 'jane.roe@example.com' }) },
    responses: { 202: accepted, ...problemResponses(400, 401, 403, 503) },
  });

export function leadGdprRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  const start = async (kind: GdprKind, address: string, actor: string): Promise<string> => {
    const email = normaliseEmail(address);
    const requestId = `${kind}-${crypto.randomUUID()}`;
    const workflowId = gdprWorkflowId(requestId);
    const claim = await claimLeadRequest(deps.pool, { requestId, kind, email, requestedBy: actor, workflowId });
    if (!claim.claimed) return claim.openRequestId;
    await startGdprRequest(deps, { kind, requestId, actor, subject: { email } }, async (err) => {
      await releaseLeadRequest(deps.pool, requestId);
      throwTemporalProblem(err);
    });
    return requestId;
  };

  for (const kind of ['export', 'erasure'] as const) {
    app.openapi(route(kind), async (c) => {
      const requestId = await start(kind, c.req.valid('json').email, c.get('principal').actor);
      const statusUrl = `/v1/gdpr-requests/${requestId}`;
      return c.json({ requestId, status: 'awaiting-verification', statusUrl }, 202, { Location: statusUrl });
    });
  }
  return app;
}
