/**
 * The codec endpoint accepts the access token the Temporal UI forwards from its OpenID Connect
 * login (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true): verified against the issuer's key set served by
 * a real local HTTP server, found through its discovery document, as an identity provider serves it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { OidcCodecSettings } from '../src/auth/oidc.js';
import { AesGcmPayloadCodec } from '../src/codec/index.js';
import { loadConfig } from '../src/config.js';
import { startHarness, uniqueId, type Harness } from './support/harness.js';

let h: Harness;
let provider: Server;
let issuer: string;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;
const served = { discovery: 0, jwks: 0 };

beforeAll(async () => {
  h = await startHarness('codec_oidc');
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' };
  provider = createServer((req, res) => {
    if (req.url === '/realms/crm/.well-known/openid-configuration') {
      served.discovery++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/protocol/openid-connect/certs` }));
    } else if (req.url === '/realms/crm/protocol/openid-connect/certs') {
      served.jwks++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/realms/crm`;
});
afterAll(async () => {
  await new Promise((resolve) => provider?.close(resolve));
  await h?.close();
});

const AUDIENCE = 'temporal-ui';
const ROLE = 'codec-decode';

const apiWith = (oidc: OidcCodecSettings) =>
  h.apiWith({
    payloadCodec: new AesGcmPayloadCodec(h.keyring),
    codecAccess: { namespace: 'default', uiOrigin: 'https://temporal.example.com', tokens: [], oidc },
  });

async function token(claims: Record<string, unknown>, o: { key?: CryptoKey; issuer?: string; audience?: string; expiresIn?: string | number } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setIssuer(o.issuer ?? issuer)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(o.expiresIn ?? '5m')
    .sign(o.key ?? signingKey);
}

async function sealedBody(text: string) {
  const [sealed] = await new AesGcmPayloadCodec(h.keyring).encode([
    { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode(JSON.stringify(text)) },
  ]);
  return JSON.stringify({
    payloads: [
      {
        metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
        data: Buffer.from(sealed!.data!).toString('base64'),
      },
    ],
  });
}

describe('the codec endpoint with OpenID Connect access tokens', () => {
  it("decodes with the UI user's access token (key set found by discovery), audits its subject, and refuses expired, foreign, wrong-audience, wrong-issuer and role-less tokens", async () => {
    const api = apiWith({ issuer, audience: AUDIENCE, requiredRole: ROLE });
    const body = await sealedBody('decoded for an operator');
    const decode = (bearer: string, workflowId: string) =>
      api.request('/codec/decode', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default', 'x-workflow-id': workflowId, authorization: `Bearer ${bearer}` },
        body,
      });
    const subject = uniqueId('operator');
    const wf = uniqueId('wf');

    const ok = await decode(await token({ sub: subject, roles: ['viewer', ROLE] }), wf);
    expect(ok.status, await ok.clone().text()).toBe(200);
    const out = (await ok.json()) as { payloads: Array<{ data: string }> };
    expect(Buffer.from(out.payloads[0]!.data, 'base64').toString()).toBe('"decoded for an operator"');
    expect((await h.pool.query('SELECT actor, payloads FROM codec_decodes WHERE workflow_id = $1', [wf])).rows).toEqual([
      { actor: `oidc:${subject}`, payloads: 1 },
    ]);
    expect(served.discovery).toBe(1);
    expect(served.jwks).toBeGreaterThanOrEqual(1);
    // A role in the groups claim counts as well.
    expect((await decode(await token({ sub: subject, groups: [ROLE] }), uniqueId('wf'))).status).toBe(200);

    const refusals: Array<[string, string, number, RegExp]> = [
      ['expired', await token({ sub: subject, roles: [ROLE] }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), 401, /expired/],
      ['wrong audience', await token({ sub: subject, roles: [ROLE] }, { audience: 'another-app' }), 401, /aud claim/],
      ['wrong issuer', await token({ sub: subject, roles: [ROLE] }, { issuer: 'https://evil.example.com/realms/crm' }), 401, /iss claim/],
      ['signed by another key', await token({ sub: subject, roles: [ROLE] }, { key: strangerKey }), 401, /not signed by the configured identity provider/],
      ['missing role', await token({ sub: subject, roles: ['viewer'] }), 403, /lacks the role codec-decode/],
      ['no subject', await token({ roles: [ROLE] }), 401, /no subject/],
      ['not a JWT (an API key)', h.keys.admin, 401, /Unknown codec token/],
    ];
    for (const [what, bearer, status, detail] of refusals) {
      const refusedWf = uniqueId('wf');
      const res = await decode(bearer, refusedWf);
      expect(res.status, what).toBe(status);
      expect(res.headers.get('content-type'), what).toMatch(/problem\+json/);
      const text = await res.text();
      expect(JSON.parse(text).detail, what).toMatch(detail);
      // The token is never echoed, and nothing was decoded or audited.
      expect(text, what).not.toContain(bearer);
      expect(text, what).not.toContain('decoded for an operator');
      expect((await h.pool.query('SELECT count(*)::int AS n FROM codec_decodes WHERE workflow_id = $1', [refusedWf])).rows[0].n, what).toBe(0);
    }
  });

  it('uses CODEC_OIDC_JWKS_URL when given, and answers 503 while the key set cannot be fetched', async () => {
    const direct = apiWith({
      issuer,
      audience: AUDIENCE,
      requiredRole: ROLE,
      jwksUrl: `${issuer}/protocol/openid-connect/certs`,
      roleClaims: ['realm_access.roles'],
    });
    const before = served.discovery;
    const req = (api: ReturnType<typeof apiWith>, bearer: string) =>
      api.request('/codec/decode', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ payloads: [] }),
      });
    expect((await req(direct, await token({ sub: 'ops-1', realm_access: { roles: [ROLE] } }))).status).toBe(200);
    expect(served.discovery).toBe(before);
    // The role in a claim this deployment does not read is no role.
    expect((await req(direct, await token({ sub: 'ops-1', roles: [ROLE] }))).status).toBe(403);

    const unreachable = apiWith({ issuer: 'http://127.0.0.1:9/realms/none', audience: AUDIENCE, requiredRole: ROLE });
    const down = await req(unreachable, await token({ sub: 'ops-1', roles: [ROLE] }, { issuer: 'http://127.0.0.1:9/realms/none' }));
    expect(down.status).toBe(503);
    expect(((await down.json()) as { detail: string }).detail).toMatch(/signing keys could not be fetched/);
  });

  it('is configured by CODEC_OIDC_ISSUER, CODEC_OIDC_AUDIENCE, CODEC_OIDC_REQUIRED_ROLE and optionally CODEC_OIDC_JWKS_URL and CODEC_OIDC_ROLE_CLAIMS', () => {
    expect(loadConfig({}).codec.oidc).toBeUndefined();
    expect(
      loadConfig({
        CODEC_OIDC_ISSUER: 'https://id.example.com/realms/crm',
        CODEC_OIDC_AUDIENCE: 'temporal-ui',
        CODEC_OIDC_REQUIRED_ROLE: ROLE,
        CODEC_OIDC_ROLE_CLAIMS: 'roles, realm_access.roles',
      }).codec.oidc,
    ).toEqual({ issuer: 'https://id.example.com/realms/crm', audience: 'temporal-ui', requiredRole: ROLE, roleClaims: ['roles', 'realm_access.roles'] });
    expect(() => loadConfig({ CODEC_OIDC_ISSUER: 'https://id.example.com' })).toThrow(
      /CODEC_OIDC_AUDIENCE, CODEC_OIDC_REQUIRED_ROLE: required when CODEC_OIDC_ISSUER is set/,
    );
    expect(() => loadConfig({ CODEC_OIDC_ISSUER: 'not a url', CODEC_OIDC_AUDIENCE: 'a', CODEC_OIDC_REQUIRED_ROLE: 'r' })).toThrow(/CODEC_OIDC_ISSUER/);
  });
});
