/**
 * The one error mapper of the API: every error leaves as `application/problem+json` (RFC 9457)
 * with the request id, and only real faults become a 500 (an unreachable database is a 503 with
 * Retry-After).
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { isDatabaseUnavailable } from '../http/database-unavailable.js';
import type { ApiEnv } from './env.js';

/** The detail of a 503 while the database cannot be reached (no host, port or driver text). */
export const DATABASE_UNAVAILABLE = 'The CRM database is unavailable at the moment; nothing was changed. Retry shortly.';

export interface FieldError {
  path: string;
  message: string;
  code: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An error a handler throws to answer with a given problem; caught by `onError`. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export function problemResponse(
  c: Context<ApiEnv>,
  status: ContentfulStatusCode,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  const body: Problem = {
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    instance: c.req.path,
    requestId: c.get('requestId'),
    ...extensions,
  };
  return c.body(JSON.stringify(body), status, { 'Content-Type': 'application/problem+json', ...headers });
}

export function fieldErrors(error: z.ZodError, prefix: string): FieldError[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.'),
    message: issue.message,
    code: issue.code,
  }));
}

/** Answers a zod validation failure from any request part (body, query, path, header). */
export function validationProblem(c: Context<ApiEnv>, error: z.ZodError, target: string): Response {
  const errors = fieldErrors(error, target === 'json' ? 'body' : target === 'param' ? 'path' : target);
  const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  return problemResponse(c, 400, `Invalid request: ${detail}`, { errors });
}

export function onError(err: Error, c: Context<ApiEnv>): Response {
  if (err instanceof ApiError) return problemResponse(c, err.status, err.detail, err.extensions, err.headers);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    // Hono's body parsers throw 400 for malformed JSON.
    const detail = status === 400 && /JSON/i.test(err.message) ? 'Malformed JSON in request body' : err.message || TITLES[status] || 'Error';
    return problemResponse(c, status, detail);
  }
  if (isDatabaseUnavailable(err)) {
    // An outage of the record store, not a fault: nothing was written, and repeating is safe.
    c.get('logger')?.warn({ err: { type: err.name, message: err.message } }, 'database unavailable');
    return problemResponse(c, 503, DATABASE_UNAVAILABLE, {}, { 'Retry-After': '5' });
  }
  c.get('logger')?.error(
    { err: { type: err.name, message: err.message, cause: String((err as { cause?: unknown }).cause ?? ''), stack: err.stack } },
    'unhandled error',
  );
  return problemResponse(c, 500, 'An unexpected error occurred; quote the request id when reporting it.');
}
