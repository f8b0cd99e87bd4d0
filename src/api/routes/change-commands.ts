/**
 * Commands on a master-data change: verification with the customer's code, a new code, the
 * four-eyes approval and cancellation. Each is an update on the customer's `customerMasterData`
 * workflow, found through the change's record; a change whose desk has closed answers from it.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  IDENTITY_CHECK_METHODS,
  cancelChangeUpdate,
  confirmIdentityUpdate,
  decideApprovalUpdate,
  resendChangeCodeUpdate,
  verifyChangeUpdate,
} from '../../domain/master-data.js';
import { BACKOFFICE_ROLES, OPERATIONAL_ROLES, requireRole } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import type { ChangeView } from '../../db/repositories/changes.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { cancelBody, codeBody, verificationSchema, verifyResultSchema } from '../schemas.js';
import { temporalCall } from '../temporal-errors.js';
import { approvalBody, changeHandle, changeIdParam, changeOf, changeStateSchema } from './master-data.js';

const verifyChangeRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/verification',
  operationId: 'verifyChange',
  tags: ['master-data'],
  summary: 'Confirm a change with the code the customer received',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: changeIdParam, body: jsonBody(codeBody, { code: '123456' }) },
  responses: {
    200: jsonContent(verifyResultSchema, 'The code was right'),
    ...problemResponses(400, 401, 403, 404, 409, 422, 503),
  },
});

const resendChangeRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/verification/resend',
  operationId: 'resendChangeCode',
  tags: ['master-data'],
  summary: 'Send a new code (rate-limited)',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: changeIdParam },
  responses: { 200: jsonContent(verificationSchema, 'A new code was sent'), ...problemResponses(400, 401, 403, 404, 409, 429, 503) },
});

const approvalRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/approval',
  operationId: 'decideChange',
  tags: ['master-data'],
  summary: 'Approve or reject a change (four eyes: not by its requester)',
  middleware: [requireRole(...BACKOFFICE_ROLES)] as const,
  request: {
    params: changeIdParam,
    body: jsonBody(approvalBody, { decision: 'reject', comment: 'The new bank account belongs to someone else' }),
  },
  responses: { 200: jsonContent(changeStateSchema, 'The decision was recorded'), ...problemResponses(400, 401, 403, 404, 409, 503) },
});

const identityCheckBody = z
  .object({
    identityCheck: z
      .object({
        method: z.enum(IDENTITY_CHECK_METHODS, { message: `must be one of ${IDENTITY_CHECK_METHODS.join(', ')}` }),
        reference: z.string().trim().min(3, 'names the document, call or record checked (at least 3 characters)').max(200, 'has at most 200 characters'),
      })
      .strict(),
  })
  .strict()
  .openapi('IdentityCheck');

const identityCheckRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/identity-check',
  operationId: 'confirmChangeIdentity',
  tags: ['master-data'],
  summary: 'Confirm an e-mail or phone change whose old contact point is lost, by a documented identity check (four eyes)',
  description:
    'A change of e-mail or phone needs the code sent to the new contact point and the code sent to the one on record. When the customer has lost the one on record, ' +
    'a backoffice user (not the requester: 403) checks their identity and records how (`id-document`, `video-call`, `callback-known-number`) with a reference; ' +
    "that stands in for the old contact point's code only. 409 when the change does not wait for it.",
  middleware: [requireRole(...BACKOFFICE_ROLES)] as const,
  request: {
    params: changeIdParam,
    body: jsonBody(identityCheckBody, { identityCheck: { method: 'id-document', reference: 'passport C01X00T47, checked at the branch' } }),
  },
  responses: { 200: jsonContent(changeStateSchema, 'The identity check was recorded'), ...problemResponses(400, 401, 403, 404, 409, 503) },
});

const cancelChangeRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/cancel',
  operationId: 'cancelChange',
  tags: ['master-data'],
  summary: 'Cancel a change that has not been applied',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: changeIdParam, body: jsonBody(cancelBody, { reason: 'Entered by mistake' }) },
  responses: { 200: jsonContent(changeStateSchema, 'The change was cancelled'), ...problemResponses(400, 401, 403, 404, 409, 503) },
});

export function changeCommandRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const wait = resultWaitMs(deps);

  const closedChange = (change: ChangeView) => `Change ${change.changeId} is ${change.status}`;

  app.openapi(verifyChangeRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const result = await temporalCall(
      () =>
        changeHandle(deps, change).executeUpdate(verifyChangeUpdate, {
          args: [{ id: change.changeId, code: c.req.valid('json').code, actor: c.get('principal').actor }],
        }),
      wait,
      { gone: closedChange(change) },
    );
    if (!result.verified) {
      throw new ApiError(422, result.status === 'failed' ? 'Wrong code; no attempts are left, so the change has failed' : 'Wrong or expired code', {
        changeStatus: result.status,
        attemptsLeft: result.attemptsLeft,
      });
    }
    return c.json(result, 200);
  });

  app.openapi(resendChangeRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const view = await temporalCall(
      () =>
        changeHandle(deps, change).executeUpdate(resendChangeCodeUpdate, {
          args: [{ id: change.changeId, actor: c.get('principal').actor }],
        }),
      wait,
      { gone: closedChange(change) },
    );
    return c.json(view, 200);
  });

  app.openapi(approvalRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const body = c.req.valid('json');
    const state = await temporalCall(
      () =>
        changeHandle(deps, change).executeUpdate(decideApprovalUpdate, {
          args: [
            {
              changeId: change.changeId,
              decision: body.decision,
              ...(body.comment ? { comment: body.comment } : {}),
              approver: c.get('principal').actor,
            },
          ],
        }),
      wait,
      { gone: closedChange(change) },
    );
    return c.json(state, 200);
  });

  app.openapi(identityCheckRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const { identityCheck } = c.req.valid('json');
    const state = await temporalCall(
      () =>
        changeHandle(deps, change).executeUpdate(confirmIdentityUpdate, {
          args: [{ changeId: change.changeId, approver: c.get('principal').actor, identityCheck }],
        }),
      wait,
      { gone: closedChange(change) },
    );
    return c.json(state, 200);
  });

  app.openapi(cancelChangeRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const { reason } = c.req.valid('json');
    const state = await temporalCall(
      () =>
        changeHandle(deps, change).executeUpdate(cancelChangeUpdate, {
          args: [{ id: change.changeId, actor: c.get('principal').actor, ...(reason ? { reason } : {}) }],
        }),
      wait,
      { gone: closedChange(change) },
    );
    return c.json(state, 200);
  });

  return app;
}
