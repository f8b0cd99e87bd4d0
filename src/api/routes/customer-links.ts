/**
 * The links sent to a customer's verified contact point, public (no key): whoever holds the link
 * may do its one thing, once, until it expires (customer-links.ts). They exist so that what only
 * the person may do is out of staff's reach: fetching their export, cancelling an erasure they
 * confirmed, stopping a change of their contact details.
 */
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { linkRoute } from './link-route.js';
import { cancelErasureUpdate, exportRetrievedSignal, gdprWorkflowId } from '../../domain/gdpr.js';
import { linkRefusal, readLink, useLink, type LinkPurpose, type LinkRow } from '../../db/repositories/customer-links.js';
import { readGdprRequest, takeExport } from '../../db/repositories/gdpr-requests.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import { jsonContent, problemResponses } from '../openapi.js';
import { temporalCall } from '../temporal-errors.js';
import { readChange } from '../../db/repositories/changes.js';
import { readMasterData } from '../../db/repositories/customers.js';
import { uuidFromKey } from '../ids.js';
import { submitToDesk } from './master-data.js';

const exportLink = linkRoute({
  method: 'get',
  path: '/links/export/{token}',
  operationId: 'fetchExportByLink',
  tags: ['gdpr'],
  summary: 'Fetch a ready export through the single-use link sent to the customer (no key)',
  description:
    'The "Your data export is ready" message to the verified contact point carries this link. It works once, until the export\'s retention ends: ' +
    'an unknown link answers 404, a used or expired one (or an export already fetched or discarded) 410.',
  responses: {
    200: jsonContent(z.record(z.string(), z.unknown()), 'Every personal datum held about the customer'),
    ...problemResponses(404, 410),
  },
});

const erasureCancelLink = linkRoute({
  method: 'post',
  path: '/links/erasure-cancellation/{token}',
  operationId: 'cancelErasureByLink',
  tags: ['gdpr'],
  summary: 'Cancel a confirmed erasure during its grace period through the link sent to the customer (no key)',
  description:
    'The "Your data will be erased" message carries this link; it works once, until the erasure is due. Unknown link: 404; used or expired: 410; the erasure no longer in its grace period: 409.',
  responses: {
    200: jsonContent(z.object({ requestId: z.string(), status: z.string() }), 'The erasure was cancelled'),
    ...problemResponses(404, 409, 410, 503),
  },
});

const changeStopLink = linkRoute({
  method: 'post',
  path: '/links/contact-change-stop/{token}',
  operationId: 'stopContactChangeByLink',
  tags: ['master-data'],
  summary: 'Stop a change of e-mail or phone within its cooling-off period through the link sent to the old contact point (no key)',
  description:
    'The "Your contact details were changed" message to the replaced contact point carries this link; it works once, until CONTACT_CHANGE_COOLING_OFF has passed. ' +
    "It submits a revert to the customer's change desk (the old value restored, audited, the new contact point told). Unknown link: 404; used or expired: 410; " +
    'the contact point changed again since, or the customer is erased: 409.',
  responses: {
    202: jsonContent(z.object({ changeId: z.string(), revertOf: z.string(), status: z.string(), statusUrl: z.string() }), 'The revert was submitted'),
    ...problemResponses(404, 409, 410, 503),
  },
});

/** The link's row while it may still be used; otherwise the 404 or 410 that says why not. */
async function usableLink(deps: ApiDeps, purpose: LinkPurpose, token: string, what: string): Promise<LinkRow> {
  const row = await readLink(deps.pool, purpose, token);
  const refused = linkRefusal(row, what);
  if (refused) throw new ApiError(refused.status, refused.detail);
  return row!;
}

export function customerLinkRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(exportLink, async (c) => {
    const row = await usableLink(deps, 'export-download', c.req.valid('param').token, 'export');
    if (!(await useLink(deps.pool, row.token_sha256))) throw new ApiError(410, 'This export link was already used');
    // The content never passes through Temporal, so it is not copied into any workflow history.
    const taken = await takeExport(deps.pool, row.request_id, 'customer');
    if (taken.outcome !== 'taken') {
      throw new ApiError(410, taken.outcome === 'retrieved' ? 'This export was already fetched; request a new one' : 'This export is gone; request a new one');
    }
    // The record already says it was fetched; the workflow hears of it when a worker runs.
    await deps.temporal.workflow
      .getHandle(gdprWorkflowId(row.request_id))
      .signal(exportRetrievedSignal, { actor: 'customer' })
      .catch(() => undefined);
    return c.json(taken.content, 200, { 'Cache-Control': 'no-store' });
  });

  app.openapi(erasureCancelLink, async (c) => {
    const row = await usableLink(deps, 'erasure-cancel', c.req.valid('param').token, 'cancellation');
    const id = row.request_id;
    const state = await readGdprRequest(deps.pool, id);
    if (!state || state.status !== 'grace-period') throw new ApiError(409, `The erasure is ${state?.status ?? 'gone'} and can no longer be cancelled`);
    const result = await temporalCall(
      () =>
        deps.temporal.workflow.getHandle(state.workflowId).executeUpdate(cancelErasureUpdate, {
          args: [{ id, actor: 'customer', reason: 'cancelled by the customer through the link', via: 'customer-link' }],
        }),
      resultWaitMs(deps),
      { gone: `Request ${id} is ${state.status}` },
    );
    await useLink(deps.pool, row.token_sha256);
    return c.json({ requestId: id, status: result.status }, 200);
  });

  app.openapi(changeStopLink, async (c) => {
    const row = await usableLink(deps, 'change-revert', c.req.valid('param').token, 'stop');
    const changeId = row.request_id;
    const change = await readChange(deps.pool, changeId);
    if (!change) throw new ApiError(404, 'The change of this link is not known');
    const current = await readMasterData(deps.pool, change.customerId);
    if (!current || current.status === 'erased') throw new ApiError(409, 'The customer of this link was erased');
    // The values the change replaced, from its audit entries.
    const { rows } = await deps.pool.query<{ field: 'email' | 'phone'; old_value: unknown; new_value: unknown }>(
      "SELECT field, old_value, new_value FROM audit_log WHERE change_id = $1 AND field IN ('email', 'phone')",
      [changeId],
    );
    const changes: Record<string, string> = {};
    const base: Record<string, unknown> = {};
    for (const r of rows) {
      if (typeof r.old_value !== 'string') continue;
      if (current.data[r.field] !== r.new_value)
        throw new ApiError(409, `The ${r.field === 'email' ? 'e-mail address' : 'phone number'} changed again since; contact us`);
      changes[r.field] = r.old_value;
      base[r.field] = current.data[r.field];
    }
    if (Object.keys(changes).length === 0) throw new ApiError(409, 'The change replaced no contact point that could be restored');
    const revertId = uuidFromKey(`revert:${changeId}`, '8');
    const result = await submitToDesk(deps, {
      changeId: revertId,
      customerId: change.customerId,
      changes,
      base,
      baseVersion: current.version,
      requestedBy: 'customer',
      reason: `stopped from the previous contact point within the cooling-off period (change ${changeId})`,
      revertOf: changeId,
    });
    await useLink(deps.pool, row.token_sha256);
    const statusUrl = `/v1/changes/${revertId}`;
    return c.json({ changeId: revertId, revertOf: changeId, status: result.status, statusUrl }, 202, { Location: statusUrl });
  });

  return app;
}
