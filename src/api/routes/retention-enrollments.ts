/**
 * A campaign's enrollments: why did this customer get this message? The enrollment's record (its
 * log in PostgreSQL) answers; a running enrollment's own state is a live detail on request.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { FINAL_ENROLLMENT_STATUSES, enrollmentStateQuery } from '../../domain/retention.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import { readEnrollment } from '../../db/repositories/campaigns.js';
import { jsonContent, problemResponses } from '../openapi.js';
import { liveParamSchema, liveState, withLive } from '../live.js';
import { uuidSchema } from '../../domain/formats.js';
import { campaignParam } from './retention.js';

const getEnrollment = createRoute({
  method: 'get',
  path: '/v1/campaigns/{id}/enrollments/{customerId}',
  operationId: 'getEnrollment',
  tags: ['retention'],
  summary: "Why did this customer get this message? The enrollment's state and its history",
  description:
    "From PostgreSQL: the latest enrollment's state and log (every step taken or held back, with its reason), as its workflow showed it, and every earlier enrollment. " +
    "`?live=true` adds the running workflow's own state, present only when it answered within a second.",
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    params: campaignParam.extend({
      customerId: uuidSchema('must be a customer id (UUID)').openapi({ param: { name: 'customerId', in: 'path' } }),
    }),
    query: z.object({ live: liveParamSchema }).strict(),
  },
  responses: {
    200: jsonContent(
      z.object({
        workflowId: z.string(),
        state: z.record(z.string(), z.unknown()),
        live: z.object({ at: z.string(), state: z.record(z.string(), z.unknown()) }).optional(),
        enrollments: z.array(
          z.object({
            runKey: z.string(),
            status: z.string(),
            endReason: z.string().nullable(),
            enrolledAt: z.string(),
            endedAt: z.string().nullable(),
          }),
        ),
      }),
      'The enrollment',
    ),
    ...problemResponses(400, 401, 403, 404),
  },
});

export function enrollmentRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(getEnrollment, async (c) => {
    const { id, customerId } = c.req.valid('param');
    const found = await readEnrollment(deps.pool, id, customerId);
    if (!found) throw new ApiError(404, `Customer ${customerId} was never enrolled in campaign ${id}`);
    // While the enrollment runs, its workflow's own view is shown beside the record when asked for, as such.
    const ask = !FINAL_ENROLLMENT_STATUSES.includes(found.state.status) && (c.req.valid('query').live ?? false);
    const answer = await withLive(found, ask, () => liveState(deps.temporal, found.workflowId, enrollmentStateQuery));
    return c.json(
      {
        ...answer,
        state: answer.state as unknown as Record<string, unknown>,
        ...(answer.live ? { live: { at: answer.live.at, state: answer.live.state as unknown as Record<string, unknown> } } : {}),
      },
      200,
    );
  });

  return app;
}
