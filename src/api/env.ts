import type { Client } from '@temporalio/client';
import type { Logger } from '../logger.js';
import type { ApiKeyEntry, Config, Role } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { PayloadCodec } from '@temporalio/common';
import type { IdempotencyClaim } from './idempotency.js';
import type { RateLimits } from '../http/security.js';
import type { OidcCodecSettings } from '../auth/oidc.js';

/** Who calls: the user behind the presented API key (src/api/auth.ts). */
export interface Principal {
  userId: string;
  /** The user id again: what audit rows, timelines and Temporal record as the actor. */
  actor: string;
  roles: Role[];
  name: string;
  email: string;
  /** The key that authenticated this request. */
  keyId: string;
}

/** What the API needs from the outside world; tests hand in the real ones. */
export interface ApiDeps {
  pool: Pool;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  /**
   * The configured keys (API_KEYS, and the development keys of `npm start`): each is a user in the
   * database once the API started (src/api/bootstrap.ts); authentication reads the database.
   */
  keys: ApiKeyEntry[];
  /** PAGE_TOKEN_SECRET: the key of the page tokens' MAC (src/api/listing.ts), the same on every API process. */
  pageTokenSecret: string;
  /** RATE_LIMIT_PER_MINUTE and RATE_LIMIT_PER_ADDRESS_PER_MINUTE; the config defaults when not given. */
  rateLimits?: RateLimits;
  /** How long a start waits for a short workflow's result before answering 202 (`resultWaitMs(deps)`). */
  resultWaitMs?: number;
  /** The payload codec behind the codec endpoint (`/codec/decode`); without it the endpoint answers 404. */
  payloadCodec?: PayloadCodec;
  /** Who may decode, and from where (src/api/routes/codec.ts); the config defaults when not given. */
  codecAccess?: CodecAccess;
  /** Retention campaigns: customers per page of a run and enrollment starts in flight; the config defaults when not given. */
  retention?: Config['retention'];
  /** How long an Idempotency-Key is honoured (IDEMPOTENCY_TTL); 7 days when not given. */
  idempotencyTtlMs?: number;
}

/** The codec endpoint's access: the Temporal namespace it decodes for, and the one browser origin (the Temporal UI) allowed to call it. */
export interface CodecAccess {
  namespace: string;
  uiOrigin?: string;
  /** CODEC_TOKENS: the decode-only credentials, by name and SHA-256. */
  tokens?: Array<{ name: string; sha256: string }>;
  /** CODEC_OIDC_*: access tokens of the Temporal UI's OpenID Connect login that decode too (src/auth/oidc.ts). */
  oidc?: OidcCodecSettings;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { perKey: 600, perAddress: 1200 };

export interface ApiEnv {
  Variables: {
    /** Made by the server for every request (src/http/security.ts). */
    requestId: string;
    /** A client's own X-Request-Id: logged as a correlation field, nothing else. */
    correlationId?: string;
    /** Who decodes through the codec endpoint: a codec token's name (src/api/routes/codec.ts). */
    codecActor?: string;
    logger: Logger;
    principal: Principal;
    workflowId?: string;
    /** Set for a POST that carries an Idempotency-Key (src/api/idempotency.ts). */
    idempotency?: IdempotencyClaim;
  };
}

/** How long a request waits for a workflow's answer when ApiDeps does not say. */
export const DEFAULT_RESULT_WAIT_MS = 10_000;

/** How long a request waits for a workflow's answer before it answers 202 (or 503 for an Update). */
export function resultWaitMs(deps: Pick<ApiDeps, 'resultWaitMs'>): number {
  return deps.resultWaitMs ?? DEFAULT_RESULT_WAIT_MS;
}
