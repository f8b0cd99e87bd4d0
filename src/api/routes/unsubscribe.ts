/**
 * The unsubscribe link of every marketing message, public (no key): whoever holds the link may do
 * this one thing with it, once. GET shows a page that asks to confirm and changes nothing (mail
 * scanners open links); POST records the withdrawal of marketing consent for the message's
 * channel through `recordConsent`, which also stops the customer's running enrollments on that
 * channel. Mail clients POST `List-Unsubscribe=One-Click` to the same address (RFC 8058).
 */
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { linkRoute } from './link-route.js';
import { consentWorkflowId, type ConsentChangeInput } from '../../domain/consent.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import { readUnsubscribeToken, type UnsubscribeTokenRow } from '../../db/repositories/consents.js';
import type { recordConsent } from '../../../workflows/consent.js';
import { resultWaitMs, type ApiDeps, type ApiEnv } from '../env.js';
import { resultWithin } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { jsonContent, problemResponses } from '../openapi.js';
import { consentChangeResultSchema } from './consent.js';

const TOKEN_FORMAT = /^[A-Za-z0-9_-]{32}$/;

const htmlContent = (description: string) => ({ content: { 'text/html': { schema: z.string() } }, description });

const showPage = linkRoute({
  method: 'get',
  path: '/unsubscribe/{token}',
  operationId: 'showUnsubscribe',
  tags: ['consent'],
  summary: 'The page an unsubscribe link opens: asks to confirm, changes nothing',
  responses: {
    200: htmlContent('A page with one button that confirms (POST to the same address)'),
    ...problemResponses(404, 409, 410),
  },
});

const unsubscribe = linkRoute({
  method: 'post',
  path: '/unsubscribe/{token}',
  operationId: 'unsubscribe',
  tags: ['consent'],
  summary: "Withdraw the marketing consent of the link's message's channel (one click, no login)",
  description:
    'The confirm button of the page, or a mail client that sends `List-Unsubscribe=One-Click` (RFC 8058; any body is accepted and ignored). ' +
    'Records the withdrawal with its proof (method `unsubscribe-link`, the message) and ends running enrollments on that channel before their next message. ' +
    'A link works once and for a year; an unknown link answers 404, a used or expired one 410, and a link of an erased customer 409.',
  responses: {
    200: {
      content: { 'application/json': { schema: consentChangeResultSchema }, 'text/html': { schema: z.string() } },
      description: 'Withdrawn (a page when the request accepts HTML, as a browser does)',
    },
    202: jsonContent(z.object({ status: z.literal('pending'), workflowId: z.string() }), 'Accepted, still recording'),
    ...problemResponses(404, 409, 410),
  },
});

/** The token's row if it may still be used; otherwise the problem that says why not. */
async function usableToken(deps: ApiDeps, token: string): Promise<UnsubscribeTokenRow> {
  const row = TOKEN_FORMAT.test(token) ? await readUnsubscribeToken(deps.pool, token) : undefined;
  if (!row) throw new ApiError(404, 'This unsubscribe link is not known');
  if (row.customer_status === 'erased') throw new ApiError(409, 'The customer of this link was erased: there is nobody left to contact');
  if (row.used_at) throw new ApiError(410, `This unsubscribe link was already used at ${row.used_at.toISOString()}`);
  if (row.expires_at.getTime() <= Date.now()) throw new ApiError(410, `This unsubscribe link expired at ${row.expires_at.toISOString()}`);
  return row;
}

const CHANNEL_NAME: Record<string, string> = { email: 'e-mail', sms: 'SMS', phone: 'phone calls' };

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>` +
  `<body style="font-family:sans-serif;max-width:36rem;margin:3rem auto">${body}</body></html>`;

export function unsubscribeRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(showPage, async (c) => {
    const { token } = c.req.valid('param');
    const row = await usableToken(deps, token);
    return c.html(
      page(
        'Unsubscribe',
        `<h1>Unsubscribe</h1><p>Stop news and offers by ${CHANNEL_NAME[row.channel] ?? row.channel}?</p>` +
          `<form method="post" action="/unsubscribe/${token}"><button type="submit">Yes, unsubscribe me</button></form>`,
      ),
      200,
    );
  });

  app.openapi(unsubscribe, async (c) => {
    const { token } = c.req.valid('param');
    const row = await usableToken(deps, token);
    const workflowId = consentWorkflowId(`unsubscribe-${row.token_sha256.slice(0, 32)}`);
    c.set('workflowId', workflowId);
    const input: ConsentChangeInput = {
      consentId: crypto.randomUUID(),
      customerId: row.customer_id,
      channel: row.channel,
      purpose: 'marketing',
      action: 'withdraw',
      proof: { method: 'unsubscribe-link', source: `unsubscribe link of message ${row.message_id}`, confirmation: { messageId: row.message_id } },
      occurredAt: new Date().toISOString(),
      actor: 'customer',
      unsubscribeTokenSha256: row.token_sha256,
    };
    // A second click while the first is recording joins it (same workflow id) rather than racing it.
    const handle = await deps.temporal.workflow.start<typeof recordConsent>('recordConsent', {
      taskQueue: deps.taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: CrmCustomerId, value: row.customer_id },
        { key: CrmProcess, value: CRM_PROCESS.consent },
        { key: CrmStatus, value: 'withdrawn' },
      ],
      staticSummary: `Unsubscribed from marketing by ${row.channel} (link of message ${row.message_id})`,
    });
    const result = await resultWithin(handle.result(), resultWaitMs(deps));
    if (!result) return c.json({ status: 'pending' as const, workflowId }, 202);
    if ((c.req.header('accept') ?? '').includes('text/html')) {
      return c.html(
        page('Unsubscribed', `<h1>You are unsubscribed</h1><p>You will get no more news and offers by ${CHANNEL_NAME[row.channel] ?? row.channel}.</p>`),
        200,
      );
    }
    return c.json(result, 200);
  });

  return app;
}
