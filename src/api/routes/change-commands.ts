/**
 * Commands on a master-data change: verification with the customer's code, a new code, the
 * four-eyes approval and cancellation. Each is an update on the customer's `customerMasterData`
 * workflow, found through the change's record; a change whose desk has closed answers from it.
 * The reveal is no command: it shows an approver the full new bank account (every read masks it)
 * and writes who saw it, when and why to the audit log.
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
import { readNewBankAccount, type ChangeView } from '../../db/repositories/changes.js';
import { writeAudit } from '../../db/repositories/audit-log.js';
import { maskIban } from '../../domain/contact-data.js';
import { CRM_PROCESS } from '../../domain/processes.js';
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

const revealBody = z
  .object({ reason: z.string().trim().min(3, 'is required: say why you need the full value (at least 3 characters)').max(500, 'has at most 500 characters') })
  .strict();

const revealRoute = createRoute({
  method: 'post',
  path: '/v1/changes/{id}/reveal',
  operationId: 'revealChange',
  tags: ['master-data'],
  summary: 'Show an approver the full new values of a change, bank account included (audited)',
  description:
    'Every read of a change masks a new bank account. A user who may approve this change (backoffice or admin, not its requester, while it awaits approval) ' +
    'gets the full new value of every field of a change that sets a bank account here; who revealed it, when, which change and why is written to the customer’s audit trail (field `bankAccount:reveal`, the value masked).',
  middleware: [requireRole(...BACKOFFICE_ROLES)] as const,
  request: { params: changeIdParam, body: jsonBody(revealBody, { reason: 'Checking the account holder before approving' }) },
  responses: {
    200: jsonContent(
      z
        .object({
          changeId: z.string(),
          customerId: z.string(),
          values: z.record(z.string(), z.unknown()).openapi({ description: 'The full new value of every changed field' }),
          revealedBy: z.string(),
          revealedAt: z.string(),
        })
        .openapi('ChangeReveal'),
      'The full new values; the reveal is audited',
    ),
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

const AWAITING_APPROVAL: readonly string[] = ['awaiting-approval', 'escalated'];

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

  app.openapi(revealRoute, async (c) => {
    const change = await changeOf(deps, c.req.valid('param').id);
    const { userId } = c.get('principal');
    // The same four-eyes rule as the approval (workflows/master-data.ts): whoever asked for a change may not approve it, so may not reveal it.
    if (change.requestedBy === userId) throw new ApiError(403, 'The requester of a change may not approve it, so may not reveal it: a second person must');
    if (!AWAITING_APPROVAL.includes(change.status))
      throw new ApiError(409, `Change ${change.changeId} is ${change.status}, not awaiting approval: there is nothing to reveal`);
    if (!change.fields.includes('bankAccount')) {
      throw new ApiError(409, `Change ${change.changeId} sets no bank account: GET /v1/changes/${change.changeId} shows its new values in full`);
    }
    const iban = await readNewBankAccount(deps.pool, change.changeId);
    if (!iban)
      throw new ApiError(409, `The full bank account of change ${change.changeId} was not recorded (requested before reveals existed); ask the customer`);
    const revealedAt = new Date().toISOString();
    await writeAudit(
      deps.pool,
      {
        step: `reveal:${c.get('requestId')}`,
        customerId: change.customerId,
        actor: userId,
        process: CRM_PROCESS.masterData,
        workflowId: change.workflowId,
        changeId: change.changeId,
      },
      [{ field: 'bankAccount:reveal', oldValue: null, newValue: { shown: maskIban(iban), reason: c.req.valid('json').reason } }],
    );
    const values = { ...change.preview, bankAccount: iban };
    return c.json({ changeId: change.changeId, customerId: change.customerId, values, revealedBy: userId, revealedAt }, 200);
  });

  return app;
}
