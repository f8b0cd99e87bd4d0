/**
 * OpenID Connect access tokens as a codec credential: the Temporal UI behind OIDC login forwards
 * the operator's access token to the codec endpoint (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true). A
 * token decodes when it is a JWT signed by a key of the issuer's JWKS (fetched from
 * CODEC_OIDC_JWKS_URL, or found through the issuer's discovery document), names the configured
 * issuer and audience, has not expired, and carries the required role in one of the role claims.
 * The token's subject is who the decode audit names.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface OidcCodecSettings {
  issuer: string;
  audience: string;
  /** The issuer's key set; when absent, the `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUrl?: string;
  /** A value that must appear in one of `roleClaims`. */
  requiredRole: string;
  /** Claims read for roles, dotted paths allowed (`realm_access.roles`); default `roles` and `groups`. */
  roleClaims?: string[];
}

export type OidcVerdict = { subject: string } | { refused: string; status: 401 | 403 | 503 };

/** Signature algorithms an identity provider signs access tokens with; never `none` or a MAC with a shared secret. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const DEFAULT_ROLE_CLAIMS = ['roles', 'groups'];
/** How long a failed discovery keeps us from asking again, so a down provider is not hammered. */
const DISCOVERY_RETRY_MS = 10_000;

/** Whether a bearer token has the shape of a JWT (three base64url parts), so it is worth verifying. */
export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

function claimAt(payload: JWTPayload, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), payload);
}

function rolesOf(payload: JWTPayload, claims: string[]): string[] {
  return claims.flatMap((claim) => {
    const v = claimAt(payload, claim);
    if (Array.isArray(v)) return v.filter((r): r is string => typeof r === 'string');
    return typeof v === 'string' ? v.split(/\s+/) : [];
  });
}

export function createOidcVerifier(settings: OidcCodecSettings, fetchImpl: typeof fetch = fetch) {
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let failedAt = 0;
  const keySet = async () => {
    if (jwks) return jwks;
    if (Date.now() - failedAt < DISCOVERY_RETRY_MS) throw new Error('discovery failed a moment ago');
    try {
      let url = settings.jwksUrl;
      if (!url) {
        const res = await fetchImpl(`${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`discovery answered ${res.status}`);
        const doc = (await res.json()) as { jwks_uri?: unknown };
        if (typeof doc.jwks_uri !== 'string') throw new Error('the discovery document names no jwks_uri');
        url = doc.jwks_uri;
      }
      jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000 });
      return jwks;
    } catch (err) {
      failedAt = Date.now();
      throw err;
    }
  };

  return async (token: string): Promise<OidcVerdict> => {
    let set: ReturnType<typeof createRemoteJWKSet>;
    try {
      set = await keySet();
    } catch {
      return { refused: "The identity provider's signing keys could not be fetched; try again shortly", status: 503 };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, set, { issuer: settings.issuer, audience: settings.audience, algorithms: ALGORITHMS }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { refused: 'The access token has expired', status: 401 };
      if (err instanceof errors.JWTClaimValidationFailed) return { refused: `The access token's ${err.claim} claim is not accepted here`, status: 401 };
      // The provider's keys out of reach is no fault of the token.
      if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError)) {
        return { refused: "The identity provider's signing keys could not be fetched; try again shortly", status: 503 };
      }
      return { refused: 'The access token is not signed by the configured identity provider', status: 401 };
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) return { refused: 'The access token names no subject', status: 401 };
    if (!rolesOf(payload, settings.roleClaims ?? DEFAULT_ROLE_CLAIMS).includes(settings.requiredRole)) {
      return { refused: `The access token lacks the role ${settings.requiredRole} that decoding needs`, status: 403 };
    }
    return { subject: payload.sub };
  };
}
