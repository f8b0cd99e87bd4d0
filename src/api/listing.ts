/**
 * What every list of the API shares: its query parameters' building blocks (page size, page
 * token, time ranges) and its page tokens.
 *
 * Page tokens are opaque and sealed. A token carries the position after the last row
 * of a page (a keyset cursor), bound by an HMAC to the listing and the filters that made it, so a
 * client can neither forge a position nor reuse a token with other filters. The MAC key derives
 * from PAGE_TOKEN_SECRET, configured alike on every API process of a deployment, so each accepts the
 * others' tokens; nothing public (such as the key hashes) goes into it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import type { ApiDeps } from './env.js';
import { ApiError } from './problem.js';
import { dateTimeSchema } from '../domain/formats.js';

const MAC_BYTES = 16;

export const isoDateTimeSchema = dateTimeSchema();

/** A `from` after its `to` is a 400 naming the `to` parameter. */
export function checkRanges(v: Record<string, unknown>, ctx: z.RefinementCtx, ranges: Array<[string, string]>): void {
  for (const [from, to] of ranges) {
    const [a, b] = [v[from], v[to]];
    if (typeof a === 'string' && typeof b === 'string' && Date.parse(a) > Date.parse(b))
      ctx.addIssue({ code: 'custom', path: [to], message: `must not be before ${from}` });
  }
}

export const pageTokenSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,4096}$/, 'must be a nextPageToken from an earlier page')
  .openapi({
    description: 'Opaque and signed: the nextPageToken of an earlier page of this listing with the same filters and sort; any other token is a 400',
  });
export const pageSizeSchema = z.coerce.number().int().min(1).max(100).default(20);

export interface PageTokens {
  /** A token for `position` in the listing described by `query`. */
  seal(position: unknown, query: string): string;
  /** The position a token carries; a 400 naming `query.pageToken` when this listing did not make it. */
  open<T>(token: string, query: string): T;
}

export function pageTokens(secret: ApiDeps['pageTokenSecret']): PageTokens {
  const key = createHash('sha256').update(`page-token:${secret}`).digest();
  const mac = (raw: Uint8Array, query: string) => createHmac('sha256', key).update(query).update(raw).digest().subarray(0, MAC_BYTES);
  return {
    seal(position, query) {
      const raw = Buffer.from(JSON.stringify(position));
      return Buffer.concat([mac(raw, query), raw]).toString('base64url');
    },
    open<T>(token: string, query: string): T {
      const sealed = Buffer.from(token, 'base64url');
      const raw = sealed.subarray(MAC_BYTES);
      if (sealed.length > MAC_BYTES && timingSafeEqual(sealed.subarray(0, MAC_BYTES), mac(raw, query))) {
        try {
          return JSON.parse(raw.toString('utf8')) as T;
        } catch {
          // sealed by us, so only an older format could land here: refused like a forged one
        }
      }
      throw new ApiError(400, 'Invalid request: query.pageToken: is not a nextPageToken of this listing', {
        errors: [{ path: 'query.pageToken', message: 'is not a nextPageToken of this listing', code: 'custom' }],
      });
    },
  };
}

/** The filters of a listing as one string (key order does not matter): what a token is bound to. */
export function listingOf(name: string, filters: Record<string, unknown>): string {
  const entries = Object.entries(filters)
    .filter(([k, v]) => v !== undefined && k !== 'pageToken' && k !== 'pageSize')
    .sort(([a], [b]) => a.localeCompare(b));
  return `${name}?${JSON.stringify(entries)}`;
}
