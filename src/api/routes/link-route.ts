/**
 * The routes of links sent to a customer (unsubscribe, export, erasure cancellation, contact-change
 * stop): public (no key, no security scheme), the link's token in the path. Whoever holds the link
 * may do its one thing; each route says what that is.
 */
import { createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { publicAccess } from '../auth.js';

export const tokenParam = z.object({
  token: z
    .string()
    .max(200)
    .openapi({ param: { name: 'token', in: 'path' }, example: 'bm90LWEtcmVhbC10b2tlbi1leGFtcGxl', description: 'The token of the link in the message' }),
});

type LinkRouteConfig = Omit<RouteConfig, 'middleware' | 'security' | 'request'>;

export function linkRoute<R extends LinkRouteConfig>(route: R) {
  return createRoute({ ...route, middleware: [publicAccess] as const, security: [], request: { params: tokenParam } });
}
