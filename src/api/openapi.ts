import { z } from '@hono/zod-openapi';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string(), code: z.string() })).optional(),
  })
  .openapi('Problem');

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: every wrong field is named in `errors`',
  401: 'No or unknown API key',
  403: 'The key’s role may not do this',
  404: 'No such resource',
  409: 'The request conflicts with the current state',
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

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { content: { 'application/json': { schema } }, required: true };
}
