/**
 * A customer's audit trail: every change of a recorded field (master data, retention profile,
 * erasure), who made it, who approved it and which process did it, read from `audit_log`.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import { readCustomerAudit } from '../../db/repositories/audit-log.js';
import { customerExists } from '../../db/repositories/customers.js';
import { jsonContent, problemResponses } from '../openapi.js';
import { customerIdParam } from '../schemas.js';

const auditEntrySchema = z
  .object({
    id: z.number(),
    field: z.string(),
    oldValue: z.unknown(),
    newValue: z.unknown(),
    actor: z.string(),
    approver: z.string().nullable(),
    process: z.string(),
    workflowId: z.string().nullable(),
    changeId: z.string().nullable(),
    at: z.string(),
  })
  .openapi('AuditEntry');

const auditRoute = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/audit',
  operationId: 'getCustomerAudit',
  tags: ['master-data'],
  summary: 'Audit trail of a customer, newest first (keyset pagination)',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    params: customerIdParam,
    query: z.object({
      limit: z.coerce.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
      cursor: z
        .string()
        .regex(/^\d{1,18}$/, 'must be the nextCursor of a previous page')
        .optional(),
    }),
  },
  responses: {
    200: jsonContent(z.object({ items: z.array(auditEntrySchema), nextCursor: z.string().nullable() }), 'One page of the audit trail'),
    ...problemResponses(400, 401, 403, 404),
  },
});

export function auditRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(auditRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    if (!(await customerExists(deps.pool, id))) throw new ApiError(404, `No customer with id ${id}`);
    const rows = await readCustomerAudit(deps.pool, id, limit + 1, cursor);
    const items = rows.slice(0, limit);
    return c.json({ items, nextCursor: rows.length > limit ? String(items.at(-1)!.id) : null }, 200);
  });

  return app;
}
