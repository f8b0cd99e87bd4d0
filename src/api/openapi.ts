import { type OpenAPIHono, z } from '@hono/zod-openapi';
import { idempotencyKeySchema } from './idempotency.js';
import { problemSchema } from '../http/problem-schema.js';

export { problemSchema };

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: every wrong field is named in `errors`',
  401: 'No or unknown API key',
  403: 'The key’s user has no role that may do this',
  404: 'No such resource',
  409: 'The request conflicts with the current state',
  410: 'Gone: the link expired or was already used',
  413: 'Body larger than 64 KiB',
  415: 'Body is not application/json',
  422: 'Idempotency-Key reused with a different body, or a business rule refused the request',
  503: 'A dependency is unavailable',
};

export function problemResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { content: { 'application/problem+json': { schema: problemSchema } }, description: PROBLEM_DESCRIPTIONS[s] ?? 'Error' }]),
  ) as Record<S, { content: { 'application/problem+json': { schema: typeof problemSchema } }; description: string }>;
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description };
}

/** A JSON request body with the example that clients see in the document (and the contract test sends). */
export function jsonBody<T extends z.ZodType>(schema: T, example?: z.input<T>) {
  return { content: { 'application/json': { schema, ...(example === undefined ? {} : { example }) } }, required: true };
}

/**
 * Each create operation, where its answer names the new resource (a JSON pointer into the body)
 * and the path of that resource: its 2xx answers link to every operation under that path.
 */
const CREATED_RESOURCES: ReadonlyArray<{ operationId: string; id: string; resource: string }> = [
  { operationId: 'registerCustomer', id: 'id', resource: '/v1/customers/{id}' },
  { operationId: 'createLead', id: 'leadId', resource: '/v1/leads/{id}' },
  { operationId: 'requestChange', id: 'changeId', resource: '/v1/changes/{id}' },
  { operationId: 'requestExport', id: 'requestId', resource: '/v1/gdpr-requests/{id}' },
  { operationId: 'requestErasure', id: 'requestId', resource: '/v1/gdpr-requests/{id}' },
  { operationId: 'createProduct', id: 'id', resource: '/v1/products/{id}' },
  { operationId: 'makeOffer', id: 'offerId', resource: '/v1/offers/{id}' },
  { operationId: 'createCampaign', id: 'id', resource: '/v1/campaigns/{id}' },
  { operationId: 'createUser', id: 'id', resource: '/v1/users/{id}' },
  { operationId: 'createTeam', id: 'id', resource: '/v1/teams/{id}' },
  { operationId: 'issueApiKey', id: 'id', resource: '/v1/api-keys/{id}' },
  { operationId: 'createWebhook', id: 'id', resource: '/v1/webhooks/{id}' },
  { operationId: 'createImport', id: 'importId', resource: '/v1/imports/{id}' },
];

type Registry = OpenAPIHono['openAPIRegistry'];
type RouteDefinition = Extract<Registry['definitions'][number], { type: 'route' }>['route'];

/**
 * Adds OpenAPI `links` from each create operation to the operations that take the new id
 * (operationId-based). Only answers whose body schema has the id field link, and only to
 * operations whose one path parameter is `{id}`; call it once every route is registered.
 */
export function linkCreatedResources(registry: Registry): void {
  const routes = registry.definitions.flatMap((d) => (d.type === 'route' ? [d.route] : []));
  for (const created of CREATED_RESOURCES) {
    const create = routes.find((r) => r.operationId === created.operationId);
    if (!create) throw new Error(`linkCreatedResources: no operation ${created.operationId}`);
    const targets = routes.filter(
      (r) =>
        r.operationId &&
        (r.path === created.resource || r.path.startsWith(`${created.resource}/`)) &&
        (r.path.match(/\{[^}]+\}/g) ?? []).every((p) => p === '{id}'),
    );
    const links = Object.fromEntries(
      targets.map((t) => [
        t.operationId!,
        {
          operationId: t.operationId!,
          parameters: { id: `$response.body#/${created.id}` },
          description: `${t.method.toUpperCase()} ${t.path} for the new resource`,
        },
      ]),
    );
    const responses = create.responses as Record<string, RouteDefinition['responses'][string]>;
    for (const [status, response] of Object.entries(responses)) {
      if (!status.startsWith('2') || !('content' in response) || !response.content) continue;
      const media = response.content['application/json'];
      const schema = (media && 'schema' in media ? media.schema : undefined) as { shape?: Record<string, unknown> } | undefined;
      if (schema?.shape?.[created.id]) responses[status] = { ...response, links };
    }
  }
}

/**
 * What the idempotency middleware does for every POST, declared on every POST: the optional
 * `Idempotency-Key` header and the 422 for a key reused with another body or by another caller.
 */
export function declareIdempotency(registry: Registry): void {
  for (const definition of registry.definitions) {
    if (definition.type !== 'route' || definition.route.method !== 'post') continue;
    const route = definition.route;
    const headers = route.request?.headers;
    const shape = headers && 'shape' in headers ? (headers.shape as Record<string, unknown>) : undefined;
    // Header lists given as an array of parameters are left as they are; none here uses one.
    if ((!headers || shape) && !shape?.['idempotency-key']) {
      const key = z.object({ 'idempotency-key': idempotencyKeySchema.optional() });
      route.request = { ...route.request, headers: shape ? (headers as z.ZodObject).extend(key.shape) : key };
    }
    const responses = route.responses as Record<string, unknown>;
    responses[422] ??= problemResponses(422)[422];
  }
}
