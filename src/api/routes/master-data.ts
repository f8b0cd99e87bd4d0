/**
 * Master-data changes. A change request is an update-with-start on the customer's
 * `customerMasterData` workflow; verification, approval and cancellation are updates on it
 * (./change-commands.ts).
 * Every read comes from the record in PostgreSQL (change_requests, request_events), so it answers
 * the same once Temporal has forgotten the workflow or while no worker runs. GDPR requests live
 * in ./gdpr.ts, the customer's audit trail in ./audit.ts.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { customerMasterData } from '../../../workflows/master-data.js';
import {
  changeRequestSchema,
  effectiveChanges,
  masterDataStateQuery,
  masterDataWorkflowId,
  submitChangeUpdate,
  type SubmitChangeInput,
} from '../../domain/master-data.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { idempotencyKeySchema } from '../idempotency.js';
import { uuidFromKey } from '../ids.js';
import { ApiError } from '../problem.js';
import { listCustomerChanges, readChange, type ChangeView } from '../../db/repositories/changes.js';
import { readMasterData } from '../../db/repositories/customers.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { liveParamSchema, liveState, withLive } from '../live.js';
import { uuidSchema } from '../../domain/formats.js';
import { customerIdParam, transitionSchema, uuidParam, verificationLogSchema, verificationSchema } from '../schemas.js';
import { temporalCall } from '../temporal-errors.js';

export const changeIdParam = uuidParam('a change');
export const approvalBody = z
  .object({
    decision: z.enum(['approve', 'reject'], { message: "must be 'approve' or 'reject'" }),
    comment: z.string().trim().max(1000, 'has at most 1000 characters').optional(),
  })
  .strict()
  .refine((b) => b.decision === 'approve' || (b.comment?.length ?? 0) > 0, { path: ['comment'], message: 'is required when rejecting' })
  .meta({
    if: { properties: { decision: { const: 'reject' } } },
    then: { required: ['comment'], properties: { comment: { pattern: '\\S' } } },
  });

export const changeStateSchema = z
  .object({
    changeId: z.string(),
    customerId: z.string(),
    status: z.string(),
    fields: z.array(z.string()),
    requestedBy: z.string(),
    reason: z.string().optional(),
    preview: z.record(z.string(), z.unknown()).optional(),
    verification: verificationSchema.optional(),
    approval: z
      .object({
        required: z.boolean(),
        dueAt: z.string().optional(),
        escalated: z.boolean(),
        decision: z.string().optional(),
        approver: z.string().optional(),
        comment: z.string().optional(),
      })
      .optional(),
    identityCheck: z
      .object({ method: z.string(), reference: z.string(), approver: z.string(), at: z.string() })
      .optional()
      .openapi({ description: 'The contact point on record was lost: the identity check a backoffice user made instead of its code' }),
    outcome: z.object({ version: z.number().optional(), detail: z.string().optional() }).optional(),
    transitions: z.array(transitionSchema),
  })
  .openapi('ChangeState');
/** A change as the record holds it; `live` only when asked for, while its workflow runs and answers at once. */
const changeRecordSchema = changeStateSchema
  .extend({
    workflowId: z.string(),
    closedAt: z.string().nullable(),
    verificationLog: verificationLogSchema,
    live: z.object({ at: z.string(), state: changeStateSchema }).optional().openapi({
      description:
        "With `?live=true`: the running desk's own view of the change (e.g. attempts left right now), present only when it answered within a second; the record above is authoritative",
    }),
  })
  .openapi('ChangeRecord');
const changeSummarySchema = z
  .object({
    changeId: z.string(),
    status: z.string(),
    fields: z.array(z.string()),
    requestedBy: z.string(),
    decidedBy: z.string().nullable(),
    createdAt: z.string(),
    closedAt: z.string().nullable(),
  })
  .openapi('ChangeSummary');

const requestChangeRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/changes',
  operationId: 'requestChange',
  tags: ['master-data'],
  summary: 'Request a change of master data',
  description:
    'Queues the change on the customer’s change desk (one change at a time). E-mail and phone changes are confirmed with a code sent to the new contact point, ' +
    'address changes with a code to the existing one; name, birth date and bank account need a backoffice user’s approval. A repeat with the same Idempotency-Key returns the same change.',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    params: customerIdParam,
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(changeRequestSchema.openapi('ChangeRequest'), {
      changes: { phone: '+49 30 1234567', address: { street: 'Hauptstr. 1', postalCode: '10115', city: 'Berlin', country: 'DE' } },
      reason: 'Moved to Berlin',
    }),
  },
  responses: {
    202: jsonContent(
      z.object({ changeId: z.string(), status: z.string(), position: z.number().int(), statusUrl: z.string() }),
      'Change accepted; follow `Location`',
    ),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

const changeStateRoute = createRoute({
  method: 'get',
  path: '/v1/changes/{id}',
  operationId: 'getChange',
  tags: ['master-data'],
  summary: 'State and timeline of a change request',
  description:
    'Read from PostgreSQL: answers the same with the workflow gone or no worker running. `?live=true` adds the running desk’s own view of the change when it answers within a second.',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: changeIdParam, query: z.object({ live: liveParamSchema }).strict() },
  responses: { 200: jsonContent(changeRecordSchema, 'The change'), ...problemResponses(400, 401, 403, 404) },
});

const customerChangesRoute = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/changes',
  operationId: 'listCustomerChanges',
  tags: ['master-data'],
  summary: "The customer's change requests, newest first (keyset pagination)",
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    params: customerIdParam,
    query: z.object({
      limit: z.coerce.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
      after: uuidSchema('must be the nextAfter of a previous page').optional(),
    }),
  },
  responses: {
    200: jsonContent(z.object({ items: z.array(changeSummarySchema), nextAfter: z.string().nullable() }), 'One page of change requests'),
    ...problemResponses(400, 401, 403, 404),
  },
});

/** A change id from the caller's Idempotency-Key, so a repeat names the same change. */
function changeIdFor(customerId: string, key: string | undefined): string {
  return key ? uuidFromKey(`${customerId}:${key}`, '8') : crypto.randomUUID();
}

/** The customer's master data as it stands: 404 for no customer, 409 for an erased one. */
export async function liveCustomer(deps: ApiDeps, id: string): Promise<NonNullable<Awaited<ReturnType<typeof readMasterData>>>> {
  const current = await readMasterData(deps.pool, id);
  if (!current) throw new ApiError(404, `No customer with id ${id}`);
  if (current.status === 'erased') throw new ApiError(409, 'The customer has been erased');
  return current;
}

export async function changeOf(deps: ApiDeps, id: string): Promise<ChangeView> {
  const change = await readChange(deps.pool, id);
  if (!change) throw new ApiError(404, `No change request with id ${id}`);
  return change;
}

export function changeHandle(deps: ApiDeps, change: ChangeView) {
  return deps.temporal.workflow.getHandle<typeof customerMasterData>(change.workflowId);
}

/** The start of a customer's change desk, for an update-with-start: it opens if it was closed. */
export function deskStart(customerId: string, taskQueue: string) {
  return new WithStartWorkflowOperation<typeof customerMasterData>('customerMasterData', {
    workflowId: masterDataWorkflowId(customerId),
    taskQueue,
    args: [{ customerId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: CrmCustomerId, value: customerId },
      { key: CrmProcess, value: CRM_PROCESS.masterData },
      { key: CrmStatus, value: 'queued' },
    ],
    staticSummary: `Master-data changes of customer ${customerId}`,
    staticDetails: 'Changes are processed one at a time, in the order they were requested.',
  });
}

/** Submits a change to the customer's desk (update-with-start: the desk opens if it was closed). */
export async function submitToDesk(deps: ApiDeps, submit: SubmitChangeInput) {
  const startWorkflowOperation = deskStart(submit.customerId, deps.taskQueue);
  return temporalCall(
    () => deps.temporal.workflow.executeUpdateWithStart(submitChangeUpdate, { updateId: submit.changeId, args: [submit], startWorkflowOperation }),
    resultWaitMs(deps),
    { gone: 'The change desk closed while the request arrived; repeat the request' },
  );
}

export function masterDataRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(requestChangeRoute, async (c) => {
    const { id: customerId } = c.req.valid('param');
    const body = c.req.valid('json');
    const current = await liveCustomer(deps, customerId);
    const effective = effectiveChanges(current.data, body.changes);
    if (effective.fields.length === 0) {
      throw new ApiError(400, 'Invalid request: body.changes: every value equals the current one, so there is nothing to change', {
        errors: [{ path: 'body.changes', message: 'every value equals the current one', code: 'no_op' }],
      });
    }
    const changeId = changeIdFor(customerId, c.get('idempotency')?.scope);
    const actor = c.get('principal').actor;
    c.set('workflowId', masterDataWorkflowId(customerId));
    const result = await submitToDesk(deps, {
      changeId,
      customerId,
      changes: effective.changes,
      base: effective.base,
      baseVersion: current.version,
      requestedBy: actor,
      ...(body.reason ? { reason: body.reason } : {}),
    });
    const statusUrl = `/v1/changes/${changeId}`;
    return c.json({ ...result, statusUrl }, 202, { Location: statusUrl });
  });

  app.openapi(changeStateRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    // A live detail of a running change (attempts left right now), when asked for; the record answers without it.
    const ask = !change.closedAt && (c.req.valid('query').live ?? false);
    const live = async () => {
      const desk = await liveState(deps.temporal, change.workflowId, masterDataStateQuery);
      const mine = desk?.state.changes.find((s) => s.changeId === change.changeId);
      return desk && mine ? { at: desk.at, state: mine } : undefined;
    };
    return c.json(await withLive(change, ask, live), 200);
  });

  app.openapi(customerChangesRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { limit, after } = c.req.valid('query');
    const rows = await listCustomerChanges(deps.pool, id, limit + 1, after);
    if (!rows) throw new ApiError(404, `No customer with id ${id}`);
    const items = rows.slice(0, limit);
    return c.json({ items, nextAfter: rows.length > limit ? items.at(-1)!.changeId : null }, 200);
  });

  return app;
}
