/**
 * Commands on a running lead funnel: correct its data, move it to another stage, hand it to
 * another owner. Each is an Update the funnel validates before anything is written; a refusal is
 * the status its type names (409 for these) with the reason and the lead's stage. The lead itself,
 * its intake and its reads are in ./acquisition.ts.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  correctLeadUpdate,
  leadCorrectionSchema,
  leadWorkflowId,
  reassignRequestSchema,
  reassignUpdate,
  transitionRequestSchema,
  transitionUpdate,
} from '../../domain/acquisition.js';
import type { leadFunnel } from '../../../workflows/acquisition.js';
import { operational } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { idempotencyKeySchema, resultWithin } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { refusalOf, temporalProblem } from '../temporal-errors.js';
import { leadRecordOf } from './acquisition.js';
import { leadIdParam, leadSchema, pendingSchema } from './lead-schemas.js';
import { activeUserOrProblem } from './user-schemas.js';

const correctRoute = createRoute({
  method: 'patch',
  path: '/v1/leads/{id}',
  operationId: 'correctLead',
  tags: ['leads'],
  summary: 'Correct a lead’s data',
  description:
    'Corrects name, phone, company, company size, interest or locale through the funnel’s `correct` update, so the funnel and the record agree: ' +
    'the record and one audit entry per changed field (old and new value, who) are written together, and the score is recomputed. ' +
    '`null` clears an optional field. A closed lead is a 409.',
  middleware: [operational] as const,
  request: {
    params: leadIdParam,
    body: jsonBody(leadCorrectionSchema.openapi('LeadCorrection'), { phone: '+1 212 555 0199', companySize: '201-1000' }),
  },
  responses: {
    200: jsonContent(leadSchema, 'The corrected lead'),
    202: jsonContent(pendingSchema, 'Accepted; the correction is still being carried out'),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

const transitionRoute = createRoute({
  method: 'post',
  path: '/v1/leads/{id}/transitions',
  operationId: 'moveLead',
  tags: ['leads'],
  summary: 'Move a lead to another stage',
  description:
    'The funnel validates the move before it is recorded: only allowed edges; `qualified` needs need, budget and timeline; ' +
    '`proposal` needs product and amount; `lost` needs a reason. A refused move is a 409 with the reason and leaves no trace. ' +
    'Send `from` to refuse the move if the lead has moved on since you looked. A repeat with the same Idempotency-Key returns the first result.',
  middleware: [operational] as const,
  request: {
    params: leadIdParam,
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(transitionRequestSchema.openapi('LeadTransitionRequest'), {
      to: 'contacted',
      from: 'new',
      note: 'Called; wants a demo next week',
    }),
  },
  responses: {
    200: jsonContent(leadSchema, 'The lead after the move'),
    202: jsonContent(pendingSchema, 'Accepted; the move is still being carried out'),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

const reassignRoute = createRoute({
  method: 'post',
  path: '/v1/leads/{id}/owner',
  operationId: 'reassignLead',
  tags: ['leads'],
  summary: 'Hand a lead to another owner',
  description:
    'The new owner, an active user, inherits the lead and its running deadlines (reminders go to their e-mail). An unknown user is a 400, a ' +
    'deactivated one, a closed lead or the same owner a 409.',
  middleware: [operational] as const,
  request: {
    params: leadIdParam,
    body: jsonBody(reassignRequestSchema.openapi('LeadReassignRequest'), {
      ownerId: '0b5d6f9e-3c1a-4e2b-9f7d-2a4c6e8b0d13',
      reason: 'Territory change',
    }),
  },
  responses: { 200: jsonContent(leadSchema, 'The lead with its new owner'), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
});

/**
 * What a failed command means: a refusal by the funnel (with the lead's stage), or no running
 * funnel: the lead is unknown (404) or closed (409 with its final stage).
 */
export async function commandProblem(deps: ApiDeps, leadId: string, err: unknown, closedMeans: string): Promise<unknown> {
  const refusal = refusalOf(err);
  if (refusal) return new ApiError(refusal.status, refusal.reason, { stage: (await leadRecordOf(deps, leadId)).stage });
  const lead = await leadRecordOf(deps, leadId);
  if (lead.closed) return new ApiError(409, `the lead is already ${lead.stage}; ${closedMeans}`, { stage: lead.stage });
  return temporalProblem(err) ?? err;
}

/**
 * Waits up to `waitMs` for a command of the lead's funnel: true once it is done, false while it is
 * still being carried out (the caller answers 202 and follows the lead); a failure is its problem.
 */
export async function doneWithin(deps: ApiDeps, leadId: string, command: Promise<unknown>, waitMs: number, closedMeans: string): Promise<boolean> {
  command.catch(() => undefined); // awaited below; this only keeps a late failure from going unhandled
  try {
    return (await resultWithin(command, waitMs)) !== undefined;
  } catch (err) {
    throw await commandProblem(deps, leadId, err, closedMeans);
  }
}

export function leadCommandRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const waitMs = resultWaitMs(deps);

  app.openapi(correctRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const handle = deps.temporal.workflow.getHandle<typeof leadFunnel>(leadWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    const corrected = handle.executeUpdate(correctLeadUpdate, { args: [{ ...body, actor: c.get('principal').actor }] });
    if (!(await doneWithin(deps, id, corrected, waitMs, 'a closed lead is not corrected'))) {
      return c.json({ status: 'pending' as const, leadId: id, workflowId: handle.workflowId }, 202, { Location: `/v1/leads/${id}` });
    }
    return c.json(await leadRecordOf(deps, id), 200);
  });

  app.openapi(transitionRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const scope = c.get('idempotency')?.scope;
    const handle = deps.temporal.workflow.getHandle<typeof leadFunnel>(leadWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    const moved = handle.executeUpdate(transitionUpdate, {
      args: [{ ...body, actor: c.get('principal').actor }],
      ...(scope ? { updateId: `transition-${scope}` } : {}),
    });
    // Accepted but not yet done (a conversion waiting for the database, no worker running): the
    // move completes on its own; the caller follows the lead.
    if (!(await doneWithin(deps, id, moved, waitMs, 'a closed lead does not move'))) {
      return c.json({ status: 'pending' as const, leadId: id, workflowId: handle.workflowId }, 202, { Location: `/v1/leads/${id}` });
    }
    return c.json(await leadRecordOf(deps, id), 200);
  });

  app.openapi(reassignRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await activeUserOrProblem(deps.pool, body.ownerId, 'body.ownerId');
    const handle = deps.temporal.workflow.getHandle<typeof leadFunnel>(leadWorkflowId(id));
    c.set('workflowId', handle.workflowId);
    try {
      await handle.executeUpdate(reassignUpdate, { args: [{ ...body, actor: c.get('principal').actor }] });
    } catch (err) {
      throw await commandProblem(deps, id, err, 'a closed lead keeps its owner');
    }
    return c.json(await leadRecordOf(deps, id), 200);
  });
  return app;
}
