/**
 * Onboarding of a customer: confirming the e-mail address is the `customerOnboarding` workflow's
 * `confirmOptIn` update. The onboarding is read from its record in PostgreSQL, which the workflow
 * writes before it answers; the running workflow's own state is a live detail, on request.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { confirmOptInUpdate, onboardingStateQuery, onboardingWorkflowId, optInRequestSchema, resendOptInUpdate } from '../../domain/onboarding.js';
import { readOnboarding, type OnboardingRecord } from '../../db/repositories/onboardings.js';
import { liveParamSchema, liveState, withLive } from '../live.js';
import type { customerOnboarding } from '../../../workflows/onboarding.js';
import { operational } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { customerIdParam } from '../schemas.js';
import { isWorkflowGone, refusalOf, temporalProblem } from '../temporal-errors.js';

const onboardingStateSchema = z
  .object({
    customerId: z.string(),
    workflowId: z.string(),
    origin: z.enum(['lead', 'registration']),
    leadId: z.string().optional(),
    status: z.enum(['starting', 'in-progress', 'onboarded', 'stalled']),
    accountManager: z.string().optional(),
    optIn: z.object({
      status: z.string(),
      attempts: z.number(),
      resends: z.number().optional(),
      sentAt: z.string().optional(),
      confirmedAt: z.string().optional(),
    }),
    firstContact: z.object({ dueAt: z.string().optional(), doneAt: z.string().optional(), reminderSentAt: z.string().optional() }),
    checkInAt: z.string().optional(),
    reasons: z.array(z.string()),
    withheld: z
      .array(z.object({ step: z.string(), at: z.string(), reason: z.string() }))
      .openapi({ description: 'Messages not sent because the customer must not be contacted, and why' }),
    transitions: z.array(z.object({ status: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() })),
    startedAt: z.string(),
    finishedAt: z.string().optional(),
    live: z
      .object({ at: z.string(), state: z.object({}).loose() })
      .optional()
      .openapi({
        description: 'Only with `?live=true`, for an onboarding not yet ended whose workflow answered in time: its state query, as of `at`',
      }),
  })
  .loose()
  .openapi('OnboardingState');

const getRoute = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/onboarding',
  operationId: 'getOnboarding',
  tags: ['onboarding'],
  summary: 'Where the onboarding of a customer stands: its steps, outcome and timeline',
  description:
    'From the record in PostgreSQL, with no worker needed. `live=true` adds the running workflow’s own state as `live` when it answers within a second.',
  middleware: [operational] as const,
  request: { params: customerIdParam, query: z.object({ live: liveParamSchema }).strict() },
  responses: { 200: jsonContent(onboardingStateSchema, 'The onboarding'), ...problemResponses(400, 401, 403, 404) },
});

const optInRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/onboarding/opt-in',
  operationId: 'confirmOptIn',
  tags: ['onboarding'],
  summary: 'Confirm the e-mail address with the mailed code (double opt-in)',
  description: 'A wrong code is a 422 that says how many attempts are left; after five the confirmation is locked (409).',
  middleware: [operational] as const,
  request: { params: customerIdParam, body: jsonBody(optInRequestSchema.openapi('OptInRequest'), { code: '123456' }) },
  responses: {
    200: jsonContent(onboardingStateSchema, 'Confirmed'),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
  },
});

const resendRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/onboarding/opt-in/resend',
  operationId: 'resendOptIn',
  tags: ['onboarding'],
  summary: 'Send a new confirmation code (the old one stops working)',
  description: 'At most three times; refused (409) once the address is confirmed, locked or onboarding has ended.',
  middleware: [operational] as const,
  // A parameterless command: no body, or an empty JSON object.
  request: { params: customerIdParam, body: { ...jsonBody(z.object({}).strict().openapi('OptInResendRequest'), {}), required: false } },
  responses: { 200: jsonContent(onboardingStateSchema, 'A new code is on its way'), ...problemResponses(400, 401, 403, 404, 409, 415) },
});

async function readState(deps: ApiDeps, customerId: string): Promise<OnboardingRecord> {
  const onboarding = await readOnboarding(deps.pool, customerId);
  if (!onboarding) throw new ApiError(404, `No onboarding for customer ${customerId}`);
  return onboarding;
}

/** A refused update is the status its type names; no running onboarding is a 404 or 409 from the record. */
async function updateProblem(deps: ApiDeps, customerId: string, err: unknown): Promise<unknown> {
  const refusal = refusalOf(err);
  if (refusal) return new ApiError(refusal.status, refusal.reason);
  if (!isWorkflowGone(err)) return temporalProblem(err) ?? err;
  const state = await readState(deps, customerId); // 404 when there is no onboarding
  return new ApiError(409, `onboarding has ended (${state.status})`);
}

export function onboardingRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(getRoute, async (c) => {
    const onboarding = await readState(deps, c.req.valid('param').id);
    const ask = (c.req.valid('query').live ?? false) && onboarding.status !== 'onboarded' && onboarding.status !== 'stalled';
    return c.json(await withLive(onboarding, ask, () => liveState(deps.temporal, onboarding.workflowId, onboardingStateQuery)), 200);
  });

  app.openapi(optInRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { code } = c.req.valid('json');
    const handle = deps.temporal.workflow.getHandle<typeof customerOnboarding>(onboardingWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    let answer;
    try {
      answer = await handle.executeUpdate(confirmOptInUpdate, { args: [{ code, actor: c.get('principal').actor }] });
    } catch (err) {
      throw await updateProblem(deps, id, err);
    }
    if (!answer.confirmed) {
      throw new ApiError(422, `The code is wrong; ${answer.attemptsLeft} attempt(s) left`, { attemptsLeft: answer.attemptsLeft });
    }
    return c.json(await readState(deps, id), 200);
  });

  app.openapi(resendRoute, async (c) => {
    const { id } = c.req.valid('param');
    const handle = deps.temporal.workflow.getHandle<typeof customerOnboarding>(onboardingWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    try {
      await handle.executeUpdate(resendOptInUpdate, { args: [{ actor: c.get('principal').actor }] });
    } catch (err) {
      throw await updateProblem(deps, id, err);
    }
    return c.json(await readState(deps, id), 200);
  });

  return app;
}
