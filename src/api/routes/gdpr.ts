/**
 * GDPR requests, a process of its own: a copy of a customer's data and its erasure. Each is a
 * workflow (`gdpr-export-<uuid>`, `gdpr-erasure-<customerId>`) confirmed with a code; verification,
 * resend and cancellation are its updates. Every read comes from the record in PostgreSQL
 * (gdpr_requests, gdpr_exports, request_events), so it answers the same once Temporal has
 * forgotten the workflow or while no worker runs.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { gdprErasure, gdprExport } from '../../../workflows/gdpr.js';
import {
  ERASURE_VERIFIED_CANCEL,
  cancelErasureUpdate,
  gdprKindOf,
  gdprRequestIdSchema,
  gdprWorkflowId,
  resendGdprCodeUpdate,
  verifyGdprUpdate,
  type GdprKind,
} from '../../domain/gdpr.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import { openErasureOf, openGdprRequest, readGdprRequest } from '../../db/repositories/gdpr-requests.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { cancelBody, codeBody, customerIdParam, transitionSchema, verificationLogSchema, verificationSchema, verifyResultSchema } from '../schemas.js';
import { temporalCall, throwTemporalProblem } from '../temporal-errors.js';
import { liveCustomer } from './master-data.js';

const gdprIdParam = z.object({ id: gdprRequestIdSchema.openapi({ param: { name: 'id', in: 'path' } }) });
const gdprStateSchema = z
  .object({
    requestId: z.string(),
    kind: z.enum(['export', 'erasure']),
    customerId: z.string().optional().openapi({ description: 'The customer the request is about; absent for a person known only as a lead' }),
    subject: z.enum(['customer', 'lead']).optional().openapi({ description: 'lead: a person known only as a lead, identified by e-mail address' }),
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
    verificationLog: verificationLogSchema,
    export: z
      .object({
        bytes: z.number(),
        expiresAt: z.string(),
        retrievedAt: z.string().nullable(),
        retrievedBy: z.string().nullable(),
        discardedAt: z.string().nullable(),
      })
      .optional()
      .openapi({ description: 'An export: its size, until when it can be fetched, and who fetched it when' }),
  })
  .openapi('GdprRequestRecord');

export const gdprStartResponse = jsonContent(
  z.object({ requestId: z.string(), status: z.string(), statusUrl: z.string() }),
  'Request accepted; a code went to the customer',
);

const exportRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/export',
  operationId: 'requestExport',
  tags: ['gdpr'],
  summary: 'Request a copy of every personal datum held about the customer',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: customerIdParam },
  responses: { 202: gdprStartResponse, ...problemResponses(400, 401, 403, 404, 409) },
});

const erasureRoute = createRoute({
  method: 'post',
  path: '/v1/customers/{id}/erasure',
  operationId: 'requestErasure',
  tags: ['gdpr'],
  summary: 'Request the erasure of the customer’s personal data (after a cancellable grace period)',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
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
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: gdprIdParam },
  responses: { 200: jsonContent(gdprRecordSchema, 'The request'), ...problemResponses(400, 401, 403, 404) },
});

const gdprVerifyRoute = createRoute({
  method: 'post',
  path: '/v1/gdpr-requests/{id}/verification',
  operationId: 'verifyGdprRequest',
  tags: ['gdpr'],
  summary: 'Confirm an export or erasure with the code the customer received',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: gdprIdParam, body: jsonBody(codeBody, { code: '123456' }) },
  responses: {
    200: jsonContent(verifyResultSchema, 'The code was right'),
    ...problemResponses(400, 401, 403, 404, 409, 422, 503),
  },
});

const gdprResendRoute = createRoute({
  method: 'post',
  path: '/v1/gdpr-requests/{id}/verification/resend',
  operationId: 'resendGdprCode',
  tags: ['gdpr'],
  summary: 'Send a new code (rate-limited)',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: gdprIdParam },
  responses: { 200: jsonContent(verificationSchema, 'A new code was sent'), ...problemResponses(400, 401, 403, 404, 409, 429, 503) },
});

/** Why staff get no export (the answer of the retired staff download). */
export const EXPORT_ONLY_BY_LINK =
  'An export is handed only to the customer: the "Your data export is ready" message to their verified contact point carries a single-use link (GET /links/export/{token}); staff see the request\'s status at GET /v1/gdpr-requests/{id}';

const downloadExportRoute = createRoute({
  method: 'get',
  path: '/v1/gdpr-requests/{id}/export',
  operationId: 'downloadExport',
  tags: ['gdpr'],
  summary: 'Refused for staff (403): the export goes only to the customer, through the link sent to their verified contact point',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: gdprIdParam },
  responses: { ...problemResponses(400, 401, 403, 404) },
});

const cancelErasureRoute = createRoute({
  method: 'post',
  path: '/v1/gdpr-requests/{id}/cancel',
  operationId: 'cancelGdprRequest',
  tags: ['gdpr'],
  summary: 'Cancel an erasure before the customer confirmed it',
  description:
    'Staff may cancel an erasure while it awaits the customer\'s code. Once the customer confirmed it (grace period) only they can cancel it, through the link in the "Your data will be erased" message (POST /links/erasure-cancellation/{token}); staff get 409.',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: gdprIdParam, body: jsonBody(cancelBody, { reason: 'The customer withdrew the request' }) },
  responses: { 200: jsonContent(gdprStateSchema, 'The erasure was cancelled'), ...problemResponses(400, 401, 403, 404, 409, 503) },
});

/**
 * Starts a GDPR request's workflow about a customer or a person known only as a lead (whose
 * address is named nowhere outside the workflow's input) and opens its row; `refused` turns a
 * failed start into the answer.
 */
export async function startGdprRequest(
  deps: ApiDeps,
  r: { kind: GdprKind; requestId: string; actor: string; subject: { customerId: string } | { email: string } },
  refused: (err: unknown) => Promise<never>,
): Promise<void> {
  const workflowId = gdprWorkflowId(r.requestId);
  const customerId = 'customerId' in r.subject ? r.subject.customerId : undefined;
  const about = customerId ? `customer ${customerId}` : 'a person known only as a lead';
  let runId: string;
  try {
    const handle = await deps.temporal.workflow.start<typeof gdprExport | typeof gdprErasure>(r.kind === 'export' ? 'gdprExport' : 'gdprErasure', {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [{ requestId: r.requestId, ...r.subject, requestedBy: r.actor }],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        ...(customerId ? [{ key: CrmCustomerId, value: customerId }] : []),
        { key: CrmProcess, value: CRM_PROCESS.gdpr },
        { key: CrmStatus, value: 'awaiting-verification' },
      ],
      staticSummary: r.kind === 'export' ? `GDPR export for ${about}` : `GDPR erasure of ${about}`,
      staticDetails: `Requested by ${r.actor}`,
    });
    runId = handle.firstExecutionRunId;
  } catch (err) {
    return refused(err);
  }
  // The row exists before the caller can ask for it; the workflow's first step writes the same row
  // and the timeline, in its own time.
  await openGdprRequest(deps.pool, {
    requestId: r.requestId,
    kind: r.kind,
    ...(customerId ? { customerId } : {}),
    subject: customerId ? 'customer' : 'lead',
    status: 'awaiting-verification',
    requestedBy: r.actor,
    transitions: [],
    workflowId,
    runId,
  });
}

export function gdprRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const wait = resultWaitMs(deps);

  const startGdpr = async (kind: 'export' | 'erasure', customerId: string, actor: string) => {
    await liveCustomer(deps, customerId);
    const requestId = kind === 'export' ? `export-${crypto.randomUUID()}` : `erasure-${customerId}`;
    await startGdprRequest(deps, { kind, requestId, actor, subject: { customerId } }, async (err) => {
      // Only an erasure has a fixed id: the one already running is named.
      const running = err instanceof WorkflowExecutionAlreadyStartedError ? { requestId: (await openErasureOf(deps.pool, customerId)) ?? requestId } : {};
      throwTemporalProblem(err, { alreadyStarted: 'An erasure of this customer is already in progress', extensions: running });
    });
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
      () =>
        gdprHandle(state).executeUpdate(verifyGdprUpdate, {
          args: [{ id, code: c.req.valid('json').code, actor: c.get('principal').actor }],
        }),
      wait,
      { gone: `Request ${id} is ${state.status}` },
    );
    if (!result.verified) {
      throw new ApiError(422, result.status === 'failed' ? 'Wrong code; no attempts are left, so the request has failed' : 'Wrong or expired code', {
        requestStatus: result.status,
        attemptsLeft: result.attemptsLeft,
      });
    }
    return c.json(result, 200);
  });

  app.openapi(gdprResendRoute, async (c) => {
    const { id } = c.req.valid('param');
    const state = await gdprState(id);
    const view = await temporalCall(() => gdprHandle(state).executeUpdate(resendGdprCodeUpdate, { args: [{ id, actor: c.get('principal').actor }] }), wait, {
      gone: `Request ${id} is ${state.status}`,
    });
    return c.json(view, 200);
  });

  app.openapi(downloadExportRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (gdprKindOf(id) !== 'export') throw new ApiError(404, `${id} is not an export request`);
    await gdprState(id);
    // Staff never hold the content: a takeover of the account by a colleague, or of a key, gets nothing.
    throw new ApiError(403, EXPORT_ONLY_BY_LINK);
  });

  app.openapi(cancelErasureRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (gdprKindOf(id) !== 'erasure') throw new ApiError(409, 'Only an erasure can be cancelled');
    const state = await gdprState(id);
    if (state.status === 'grace-period' || state.status === 'erasing' || state.status === 'erased') {
      throw new ApiError(
        409,
        state.status === 'grace-period' ? `Staff cannot cancel this erasure: ${ERASURE_VERIFIED_CANCEL}` : `The erasure is ${state.status}`,
      );
    }
    const { reason } = c.req.valid('json');
    const result = await temporalCall(
      () =>
        gdprHandle(state).executeUpdate(cancelErasureUpdate, {
          args: [{ id, actor: c.get('principal').actor, ...(reason ? { reason } : {}) }],
        }),
      wait,
      { gone: `Request ${id} is ${state.status}` },
    );
    return c.json(result, 200);
  });

  return app;
}
