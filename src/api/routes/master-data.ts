/**
 * Master-data changes and GDPR requests. A change request is an update-with-start on the
 * customer's `customerMasterData` workflow; verification, approval and cancellation are updates
 * on it. GDPR requests are workflows of their own (`gdpr-export-<uuid>`, `gdpr-erasure-<customerId>`).
 * Every read comes from the record in PostgreSQL (change_requests, gdpr_requests, request_events),
 * so it answers the same once Temporal has forgotten the workflow or while no worker runs.
 */
import { createHash } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { customerMasterData } from '../../../workflows/master-data.js';
import type { gdprErasure, gdprExport } from '../../../workflows/gdpr.js';
import {
  DEFAULT_MASTER_DATA_POLICY,
  FAILURE_TYPES,
  cancelChangeUpdate,
  cancelErasureUpdate,
  changeRequestSchema,
  decideApprovalUpdate,
  effectiveChanges,
  exportRetrievedSignal,
  gdprKindOf,
  gdprRequestIdSchema,
  gdprWorkflowId,
  masterDataStateQuery,
  masterDataWorkflowId,
  resendChangeCodeUpdate,
  resendGdprCodeUpdate,
  submitChangeUpdate,
  verifyChangeUpdate,
  verifyGdprUpdate,
  type MasterData,
} from '../../domain/master-data.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { idempotencyKeySchema, resultWithin } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { listCustomerChanges, readChange, type ChangeView } from '../../db/repositories/changes.js';
import { readCustomerAudit } from '../../db/repositories/audit-log.js';
import { customerExists } from '../../db/repositories/customers.js';
import { openErasureOf, openGdprRequest, readGdprRequest, takeExport } from '../../db/repositories/gdpr-requests.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { liveParamSchema, liveState, withLive } from '../live.js';
import { uuidSchema } from '../../domain/formats.js';

const customerIdParam = z.object({ id: uuidSchema('must be a customer id (UUID)').openapi({ param: { name: 'id', in: 'path' } }) });
const changeIdParam = z.object({ id: uuidSchema('must be a change id (UUID)').openapi({ param: { name: 'id', in: 'path' } }) });
const gdprIdParam = z.object({ id: gdprRequestIdSchema.openapi({ param: { name: 'id', in: 'path' } }) });
const codeBody = z.object({ code: z.string().trim().regex(/^\d{6}$/, 'must be the 6-digit code from the message') }).strict();
const cancelBody = z.object({ reason: z.string().trim().max(500).optional() }).strict();
const approvalBody = z
  .object({
    decision: z.enum(['approve', 'reject'], { message: "must be 'approve' or 'reject'" }),
    comment: z.string().trim().max(1000, 'has at most 1000 characters').optional(),
  })
  .strict()
  .refine((b) => b.decision === 'approve' || (b.comment?.length ?? 0) > 0, { path: ['comment'], message: 'is required when rejecting' })
  .meta({ if: { properties: { decision: { const: 'reject' } } }, then: { required: ['comment'], properties: { comment: { pattern: '\\S' } } } });

const transitionSchema = z.object({ status: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() });
const verificationSchema = z.object({
  targets: z.array(z.object({ target: z.string(), channel: z.string(), sentTo: z.string(), verified: z.boolean() })),
  attemptsLeft: z.number().int(),
  resendsLeft: z.number().int(),
  expiresAt: z.string().optional(),
  nextResendAt: z.string().optional(),
});
const changeStateSchema = z
  .object({
    changeId: z.string(),
    customerId: z.string(),
    status: z.string(),
    fields: z.array(z.string()),
    requestedBy: z.string(),
    reason: z.string().optional(),
    preview: z.record(z.string(), z.unknown()).optional(),
    verification: verificationSchema.optional(),
    approval: z.object({ required: z.boolean(), dueAt: z.string().optional(), escalated: z.boolean(), decision: z.string().optional(), approver: z.string().optional(), comment: z.string().optional() }).optional(),
    outcome: z.object({ version: z.number().optional(), detail: z.string().optional() }).optional(),
    transitions: z.array(transitionSchema),
  })
  .openapi('ChangeState');
/** A change as the record holds it; `live` only when asked for, while its workflow runs and answers at once. */
const changeRecordSchema = changeStateSchema
  .extend({
    workflowId: z.string(),
    closedAt: z.string().nullable(),
    verificationLog: z.array(transitionSchema).openapi({ description: 'Codes sent and wrong codes entered (never the codes), oldest first' }),
    live: z
      .object({ at: z.string(), state: changeStateSchema })
      .optional()
      .openapi({ description: "With `?live=true`: the running desk's own view of the change (e.g. attempts left right now), present only when it answered within a second; the record above is authoritative" }),
  })
  .openapi('ChangeRecord');
const changeSummarySchema = z
  .object({ changeId: z.string(), status: z.string(), fields: z.array(z.string()), requestedBy: z.string(), decidedBy: z.string().nullable(), createdAt: z.string(), closedAt: z.string().nullable() })
  .openapi('ChangeSummary');
const gdprStateSchema = z
  .object({
    requestId: z.string(),
    kind: z.enum(['export', 'erasure']),
    customerId: z.string(),
    status: z.string(),
    requestedBy: z.string(),
    verification: verificationSchema.optional(),
    dueAt: z.string().optional(),
    exportBytes: z.number().optional(),
    erasedRows: z.record(z.string(), z.number()).optional(),
    transitions: z.array(transitionSchema),
  })
  .openapi('GdprRequestState');
const gdprRecordSchema = gdprStateSchema
  .extend({
    workflowId: z.string(),
    requestedAt: z.string(),
    closedAt: z.string().nullable(),
    verificationLog: z.array(transitionSchema).openapi({ description: 'Codes sent and wrong codes entered (never the codes), oldest first' }),
    export: z
      .object({ bytes: z.number(), expiresAt: z.string(), retrievedAt: z.string().nullable(), retrievedBy: z.string().nullable(), discardedAt: z.string().nullable() })
      .optional()
      .openapi({ description: 'An export: its size, until when it can be fetched, and who fetched it when' }),
  })
  .openapi('GdprRequestRecord');
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

const STAFF = ['agent', 'backoffice', 'admin'] as const;
const APPROVERS = ['backoffice', 'admin'] as const;

// ---------------------------------------------------------------------------------------------
// Routes

const requestChangeRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/changes',
  operationId: 'requestChange',
  tags: ['master-data'],
  summary: 'Request a change of master data',
  description:
    'Queues the change on the customer’s change desk (one change at a time). E-mail and phone changes are confirmed with a code sent to the new contact point, ' +
    'address changes with a code to the existing one; name, birth date and bank account need a backoffice user’s approval. A repeat with the same Idempotency-Key returns the same change.',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: customerIdParam, headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }), body: jsonBody(changeRequestSchema.openapi('ChangeRequest'), { changes: { phone: '+49 30 1234567', address: { street: 'Hauptstr. 1', postalCode: '10115', city: 'Berlin', country: 'DE' } }, reason: 'Moved to Berlin' }) },
  responses: {
    202: jsonContent(z.object({ changeId: z.string(), status: z.string(), position: z.number().int(), statusUrl: z.string() }), 'Change accepted; follow `Location`'),
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 503),
  },
});

const changeStateRoute = createRoute({
  method: 'get',
  path: '/v1/changes/{id}',
  operationId: 'getChange',
  tags: ['master-data'],
  summary: 'State and timeline of a change request',
  description: 'Read from PostgreSQL: answers the same with the workflow gone or no worker running. `?live=true` adds the running desk’s own view of the change when it answers within a second.',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: changeIdParam, query: z.object({ live: liveParamSchema }).strict() },
  responses: { 200: jsonContent(changeRecordSchema, 'The change'), ...problemResponses(400, 401, 403, 404) },
});

const customerChangesRoute = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/changes',
  operationId: 'listCustomerChanges',
  tags: ['master-data'],
  summary: "The customer's change requests, newest first (keyset pagination)",
  middleware: [requireRole(...STAFF)] as const,
  request: {
    params: customerIdParam,
    query: z.object({
      limit: z.coerce.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
      after: uuidSchema('must be the nextAfter of a previous page').optional(),
    }),
  },
  responses: { 200: jsonContent(z.object({ items: z.array(changeSummarySchema), nextAfter: z.string().nullable() }), 'One page of change requests'), ...problemResponses(400, 401, 403, 404) },
});

const verifyChangeRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/verification',
  operationId: 'verifyChange',
  tags: ['master-data'],
  summary: 'Confirm a change with the code the customer received',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: changeIdParam, body: jsonBody(codeBody, { code: '123456' }) },
  responses: {
    200: jsonContent(z.object({ status: z.string(), verified: z.boolean(), attemptsLeft: z.number().int() }), 'The code was right'),
    ...problemResponses(400, 401, 403, 404, 409, 422, 503),
  },
});

const resendChangeRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/verification/resend',
  operationId: 'resendChangeCode',
  tags: ['master-data'],
  summary: 'Send a new code (rate-limited)',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: changeIdParam },
  responses: { 200: jsonContent(verificationSchema, 'A new code was sent'), ...problemResponses(400, 401, 403, 404, 409, 429, 503) },
});

const approvalRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/approval',
  operationId: 'decideChange',
  tags: ['master-data'],
  summary: 'Approve or reject a change (four eyes: not by its requester)',
  middleware: [requireRole(...APPROVERS)] as const,
  request: { params: changeIdParam, body: jsonBody(approvalBody, { decision: 'reject', comment: 'The new bank account belongs to someone else' }) },
  responses: { 200: jsonContent(changeStateSchema, 'The decision was recorded'), ...problemResponses(400, 401, 403, 404, 409, 503) },
});

const cancelChangeRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/cancel',
  operationId: 'cancelChange',
  tags: ['master-data'],
  summary: 'Cancel a change that has not been applied',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: changeIdParam, body: jsonBody(cancelBody, { reason: 'Entered by mistake' }) },
  responses: { 200: jsonContent(changeStateSchema, 'The change was cancelled'), ...problemResponses(400, 401, 403, 404, 409, 503) },
});

const auditRoute = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/audit',
  operationId: 'getCustomerAudit',
  tags: ['master-data'],
  summary: 'Audit trail of a customer, newest first (keyset pagination)',
  middleware: [requireRole(...STAFF)] as const,
  request: {
    params: customerIdParam,
    query: z.object({
      limit: z.coerce.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
      cursor: z.string().regex(/^\d{1,18}$/, 'must be the nextCursor of a previous page').optional(),
    }),
  },
  responses: { 200: jsonContent(z.object({ items: z.array(auditEntrySchema), nextCursor: z.string().nullable() }), 'One page of the audit trail'), ...problemResponses(400, 401, 403, 404) },
});

const gdprStartResponse = jsonContent(z.object({ requestId: z.string(), status: z.string(), statusUrl: z.string() }), 'Request accepted; a code went to the customer');

const exportRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/export',
  operationId: 'requestExport',
  tags: ['gdpr'],
  summary: 'Request a copy of every personal datum held about the customer',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: customerIdParam },
  responses: { 202: gdprStartResponse, ...problemResponses(400, 401, 403, 404, 409) },
});

const erasureRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/erasure',
  operationId: 'requestErasure',
  tags: ['gdpr'],
  summary: 'Request the erasure of the customer’s personal data (after a cancellable grace period)',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: customerIdParam },
  responses: { 202: gdprStartResponse, ...problemResponses(400, 401, 403, 404, 409) },
});

const gdprStateRoute = createRoute({
  method: 'get',
  path: '/v1/gdpr-requests/{id}',
  operationId: 'getGdprRequest',
  tags: ['gdpr'],
  summary: 'State and timeline of an export or erasure request',
  description: 'Read from PostgreSQL: answers the same with the workflow gone or no worker running.',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: gdprIdParam },
  responses: { 200: jsonContent(gdprRecordSchema, 'The request'), ...problemResponses(400, 401, 403, 404) },
});

const gdprVerifyRoute = createRoute({
  method: 'post',
  path: '/v1/gdpr-requests/{id}/verification',
  operationId: 'verifyGdprRequest',
  tags: ['gdpr'],
  summary: 'Confirm an export or erasure with the code the customer received',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: gdprIdParam, body: jsonBody(codeBody, { code: '123456' }) },
  responses: {
    200: jsonContent(z.object({ status: z.string(), verified: z.boolean(), attemptsLeft: z.number().int() }), 'The code was right'),
    ...problemResponses(400, 401, 403, 404, 409, 422, 503),
  },
});

const gdprResendRoute = createRoute({
  method: 'post',
  path: '/v1/gdpr-requests/{id}/verification/resend',
  operationId: 'resendGdprCode',
  tags: ['gdpr'],
  summary: 'Send a new code (rate-limited)',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: gdprIdParam },
  responses: { 200: jsonContent(verificationSchema, 'A new code was sent'), ...problemResponses(400, 401, 403, 404, 409, 429, 503) },
});

const downloadExportRoute = createRoute({
  method: 'get',
  path: '/v1/gdpr-requests/{id}/export',
  operationId: 'downloadExport',
  tags: ['gdpr'],
  summary: 'Fetch a ready export; it can be fetched once, then it is gone',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: gdprIdParam },
  responses: {
    200: jsonContent(z.record(z.string(), z.unknown()), 'Every personal datum held about the customer'),
    ...problemResponses(400, 401, 403, 404, 409),
    410: { content: { 'application/problem+json': { schema: z.object({}).loose() } }, description: 'Already fetched or discarded' },
  },
});

const cancelErasureRoute = createRoute({
  method: 'post',
  path: '/v1/gdpr-requests/{id}/cancel',
  operationId: 'cancelGdprRequest',
  tags: ['gdpr'],
  summary: 'Cancel an erasure during its grace period',
  middleware: [requireRole(...STAFF)] as const,
  request: { params: gdprIdParam, body: jsonBody(cancelBody, { reason: 'The customer withdrew the request' }) },
  responses: { 200: jsonContent(gdprStateSchema, 'The erasure was cancelled'), ...problemResponses(400, 401, 403, 404, 409, 503) },
});

// ---------------------------------------------------------------------------------------------
// Mapping Temporal outcomes to HTTP

const STATUS_OF_FAILURE: Record<string, 403 | 404 | 409 | 429> = {
  [FAILURE_TYPES.invalidTransition]: 409,
  [FAILURE_TYPES.sameActor]: 403,
  [FAILURE_TYPES.notFound]: 404,
  [FAILURE_TYPES.rateLimited]: 429,
};

/**
 * Runs an update; a validator's refusal becomes the problem it names. An update needs a running
 * worker: when none answers within `waitMs` the caller gets a 503 instead of a hanging request
 * (a retry with the same Idempotency-Key names the same change, so repeating is safe).
 */
async function temporalCall<T>(call: () => Promise<T>, gone: string, waitMs: number): Promise<T> {
  let answered: T | undefined;
  try {
    answered = await resultWithin(call(), waitMs);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      const status = STATUS_OF_FAILURE[err.cause.type ?? ''];
      if (status) throw new ApiError(status, err.cause.message);
    }
    if (err instanceof WorkflowNotFoundError || (err as Error).name === 'WorkflowNotFoundError') throw new ApiError(409, gone);
    if (/already completed|workflow execution.*(completed|closed)/i.test((err as Error).message ?? '')) throw new ApiError(409, gone);
    throw err;
  }
  if (answered === undefined) throw new ApiError(503, `The process did not answer within ${waitMs / 1000} s; try again (repeating is safe)`, {}, { 'Retry-After': '5' });
  return answered;
}

/** A change id from the caller's Idempotency-Key, so a repeat names the same change. */
function changeIdFor(customerId: string, key: string | undefined): string {
  if (!key) return crypto.randomUUID();
  const h = createHash('sha256').update(`${customerId}:${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface CustomerRow {
  name: string;
  email: string;
  phone: string | null;
  address: MasterData['address'];
  birth_date: string | null;
  bank_account_iban: string | null;
  status: string;
  version: number;
}

async function readMasterData(deps: ApiDeps, id: string): Promise<{ data: MasterData; status: string; version: number }> {
  const { rows } = await deps.pool.query<CustomerRow>(
    "SELECT name, email, phone, address, to_char(birth_date, 'YYYY-MM-DD') AS birth_date, bank_account_iban, status, version FROM customers WHERE id = $1",
    [id],
  );
  const r = rows[0];
  if (!r) throw new ApiError(404, `No customer with id ${id}`);
  if (r.status === 'erased') throw new ApiError(409, 'The customer has been erased');
  return { data: { email: r.email, phone: r.phone, address: r.address, name: r.name, birthDate: r.birth_date, bankAccount: r.bank_account_iban }, status: r.status, version: r.version };
}

async function changeOf(deps: ApiDeps, id: string): Promise<ChangeView> {
  const change = await readChange(deps.pool, id);
  if (!change) throw new ApiError(404, `No change request with id ${id}`);
  return change;
}

function changeHandle(deps: ApiDeps, change: ChangeView) {
  return deps.temporal.workflow.getHandle<typeof customerMasterData>(change.workflowId);
}

export function masterDataRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const policy = deps.masterDataPolicy ?? DEFAULT_MASTER_DATA_POLICY;
  const wait = deps.resultWaitMs ?? 10_000;

  app.openapi(requestChangeRoute, async (c) => {
    const { id: customerId } = c.req.valid('param');
    const body = c.req.valid('json');
    const current = await readMasterData(deps, customerId);
    const effective = effectiveChanges(current.data, body.changes);
    if (effective.fields.length === 0) {
      throw new ApiError(400, 'Invalid request: body.changes: every value equals the current one, so there is nothing to change', {
        errors: [{ path: 'body.changes', message: 'every value equals the current one', code: 'no_op' }],
      });
    }
    const changeId = changeIdFor(customerId, c.get('idempotency')?.scope);
    const actor = c.get('principal').actor;
    const workflowId = masterDataWorkflowId(customerId);
    c.set('workflowId', workflowId);
    const start = new WithStartWorkflowOperation<typeof customerMasterData>('customerMasterData', {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [{ customerId }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: CrmCustomerId, value: customerId },
        { key: CrmProcess, value: 'master-data' },
        { key: CrmStatus, value: 'queued' },
      ],
      staticSummary: `Master-data changes of customer ${customerId}`,
      staticDetails: 'Changes are processed one at a time, in the order they were requested.',
    });
    const result = await temporalCall(
      () =>
        deps.temporal.workflow.executeUpdateWithStart(submitChangeUpdate, {
          updateId: changeId,
          args: [
            {
              changeId,
              customerId,
              changes: effective.changes,
              base: effective.base,
              baseVersion: current.version,
              requestedBy: actor,
              ...(body.reason ? { reason: body.reason } : {}),
              policy,
            },
          ],
          startWorkflowOperation: start,
        }),
      'The change desk closed while the request arrived; repeat the request', wait);
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

  const closedChange = (change: ChangeView) => `Change ${change.changeId} is ${change.status}`;

  app.openapi(verifyChangeRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const result = await temporalCall(
      () => changeHandle(deps, change).executeUpdate(verifyChangeUpdate, { args: [{ id: change.changeId, code: c.req.valid('json').code, actor: c.get('principal').actor }] }),
      closedChange(change), wait);
    if (!result.verified) {
      throw new ApiError(422, result.status === 'failed' ? 'Wrong code; no attempts are left, so the change has failed' : 'Wrong or expired code', { changeStatus: result.status, attemptsLeft: result.attemptsLeft });
    }
    return c.json(result, 200);
  });

  app.openapi(resendChangeRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const view = await temporalCall(() => changeHandle(deps, change).executeUpdate(resendChangeCodeUpdate, { args: [{ id: change.changeId, actor: c.get('principal').actor }] }), closedChange(change), wait);
    return c.json(view, 200);
  });

  app.openapi(approvalRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const body = c.req.valid('json');
    const state = await temporalCall(
      () =>
        changeHandle(deps, change).executeUpdate(decideApprovalUpdate, {
          args: [{ changeId: change.changeId, decision: body.decision, ...(body.comment ? { comment: body.comment } : {}), approver: c.get('principal').actor }],
        }),
      closedChange(change), wait);
    return c.json(state, 200);
  });

  app.openapi(cancelChangeRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const { reason } = c.req.valid('json');
    const state = await temporalCall(
      () => changeHandle(deps, change).executeUpdate(cancelChangeUpdate, { args: [{ id: change.changeId, actor: c.get('principal').actor, ...(reason ? { reason } : {}) }] }),
      closedChange(change), wait);
    return c.json(state, 200);
  });

  app.openapi(auditRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    if (!(await customerExists(deps.pool, id))) throw new ApiError(404, `No customer with id ${id}`);
    const rows = await readCustomerAudit(deps.pool, id, limit + 1, cursor);
    const items = rows.slice(0, limit);
    return c.json({ items, nextCursor: rows.length > limit ? String(items.at(-1)!.id) : null }, 200);
  });

  // -------------------------------------------------------------------------------------------
  // GDPR

  const startGdpr = async (kind: 'export' | 'erasure', customerId: string, actor: string) => {
    await readMasterData(deps, customerId);
    const requestId = kind === 'export' ? `export-${crypto.randomUUID()}` : `erasure-${customerId}`;
    const workflowId = gdprWorkflowId(requestId);
    let runId: string;
    try {
      const handle = await deps.temporal.workflow.start<typeof gdprExport | typeof gdprErasure>(kind === 'export' ? 'gdprExport' : 'gdprErasure', {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [{ requestId, customerId, requestedBy: actor, policy }],
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [
          { key: CrmCustomerId, value: customerId },
          { key: CrmProcess, value: 'master-data' },
          { key: CrmStatus, value: 'awaiting-verification' },
        ],
        staticSummary: kind === 'export' ? `GDPR export for customer ${customerId}` : `GDPR erasure of customer ${customerId}`,
        staticDetails: `Requested by ${actor}`,
      });
      runId = handle.firstExecutionRunId;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new ApiError(409, 'An erasure of this customer is already in progress', { requestId: (await openErasureOf(deps.pool, customerId)) ?? requestId });
      }
      throw err;
    }
    // The row exists before the caller can ask for it; the workflow's first step writes the same row
    // and the timeline, in its own time.
    await openGdprRequest(deps.pool, { requestId, kind, customerId, status: 'awaiting-verification', requestedBy: actor, transitions: [], workflowId, runId });
    return requestId;
  };

  app.openapi(exportRoute, async (c) => {
    const requestId = await startGdpr('export', c.req.valid('param').id, c.get('principal').actor);
    const statusUrl = `/v1/gdpr-requests/${requestId}`;
    return c.json({ requestId, status: 'awaiting-verification', statusUrl }, 202, { Location: statusUrl });
  });

  app.openapi(erasureRoute, async (c) => {
    const requestId = await startGdpr('erasure', c.req.valid('param').id, c.get('principal').actor);
    const statusUrl = `/v1/gdpr-requests/${requestId}`;
    return c.json({ requestId, status: 'awaiting-verification', statusUrl }, 202, { Location: statusUrl });
  });

  const gdprHandle = (state: { workflowId: string }) => deps.temporal.workflow.getHandle(state.workflowId);
  /** The request as the record holds it: no workflow or worker needed. */
  const gdprState = async (requestId: string) => {
    const state = await readGdprRequest(deps.pool, requestId);
    if (!state) throw new ApiError(404, `No GDPR request ${requestId}`);
    return state;
  };

  app.openapi(gdprStateRoute, async (c) => c.json(await gdprState(c.req.valid('param').id), 200));

  app.openapi(gdprVerifyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const state = await gdprState(id);
    const result = await temporalCall(
      () => gdprHandle(state).executeUpdate(verifyGdprUpdate, { args: [{ id, code: c.req.valid('json').code, actor: c.get('principal').actor }] }),
      `Request ${id} is ${state.status}`, wait);
    if (!result.verified) {
      throw new ApiError(422, result.status === 'failed' ? 'Wrong code; no attempts are left, so the request has failed' : 'Wrong or expired code', { requestStatus: result.status, attemptsLeft: result.attemptsLeft });
    }
    return c.json(result, 200);
  });

  app.openapi(gdprResendRoute, async (c) => {
    const { id } = c.req.valid('param');
    const state = await gdprState(id);
    const view = await temporalCall(() => gdprHandle(state).executeUpdate(resendGdprCodeUpdate, { args: [{ id, actor: c.get('principal').actor }] }), `Request ${id} is ${state.status}`, wait);
    return c.json(view, 200);
  });

  app.openapi(downloadExportRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (gdprKindOf(id) !== 'export') throw new ApiError(404, `${id} is not an export request`);
    const actor = c.get('principal').actor;
    // The content never passes through Temporal, so it is not copied into any workflow history.
    const taken = await takeExport(deps.pool, id, actor);
    if (taken.outcome !== 'taken') {
      if (taken.outcome === 'not-ready') throw new ApiError(409, `The export is not ready: the request is ${(await gdprState(id)).status}`);
      throw new ApiError(410, taken.outcome === 'retrieved' ? 'This export was already fetched; request a new one' : 'This export was discarded; request a new one');
    }
    // The record already says who fetched it; the workflow hears of it when a worker runs.
    await deps.temporal.workflow
      .getHandle(gdprWorkflowId(id))
      .signal(exportRetrievedSignal, { actor })
      .catch(() => undefined);
    return c.json(taken.content, 200, { 'Cache-Control': 'no-store' });
  });

  app.openapi(cancelErasureRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (gdprKindOf(id) !== 'erasure') throw new ApiError(409, 'Only an erasure can be cancelled');
    const state = await gdprState(id);
    const { reason } = c.req.valid('json');
    const result = await temporalCall(
      () => gdprHandle(state).executeUpdate(cancelErasureUpdate, { args: [{ id, actor: c.get('principal').actor, ...(reason ? { reason } : {}) }] }),
      `Request ${id} is ${state.status}`, wait);
    return c.json(result, 200);
  });

  return app;
}
