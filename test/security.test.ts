/**
 * What makes the API safe to expose (issue 14, points 1 and 6): request ids the server makes,
 * the version check on every write to a customer, rate limits per key and per client address,
 * page tokens sealed with a configured secret, security headers, and the local codec listener.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { createApi } from '../src/api/app.js';
import { createLocalCodecApp, LOCAL_UI_ACTOR } from '../src/api/routes/codec.js';
import { AesGcmPayloadCodec } from '../src/codec/index.js';
import { loadConfig, pageTokenSecretOf } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startHarness, uniqueId, type Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('security');
});
afterAll(async () => {
  await h?.close();
});

async function customer(): Promise<{ id: string; version: number }> {
  const res = await h.json('POST', '/v1/customers', { body: { name: 'Sec Urity', email: `${uniqueId('sec')}@example.com` } });
  expect(res.status).toBe(201);
  return { id: res.body.id, version: res.body.version };
}

const apiWith = (settings: Parameters<Harness['apiWith']>[0]) => h.apiWith(settings);

/** A request as @hono/node-server hands it in, from a given client address. */
const from = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });

describe('request ids', () => {
  it("makes its own request id for every request; a client's X-Request-Id is neither the id nor an audit step", async () => {
    const c = await customer();
    const url = `/v1/customers/${c.id}/retention-profile`;
    const reused = { 'x-request-id': 'client-chosen-id-1' };
    const first = await h.json('PATCH', url, { as: 'backoffice', headers: reused, body: { churnRisk: 0.3, version: c.version } });
    expect(first.status).toBe(200);
    const second = await h.json('PATCH', url, { as: 'backoffice', headers: reused, body: { churnRisk: 0.6, version: first.body.version } });
    expect(second.status).toBe(200);
    const audited = await h.pool.query("SELECT new_value FROM audit_log WHERE customer_id = $1 AND field = 'churn_risk' ORDER BY id", [c.id]);
    expect(audited.rows.map((r) => r.new_value)).toEqual([0.3, 0.6]);
    const ids = [first.headers.get('x-request-id'), second.headers.get('x-request-id')];
    expect(ids).not.toContain('client-chosen-id-1');
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[0]).not.toBe(ids[1]);
    const problem = await h.json('GET', `/v1/customers/${randomUUID()}`, { headers: reused });
    expect(problem.body.requestId).toBe(problem.headers.get('x-request-id'));
    expect(problem.body.requestId).not.toBe('client-chosen-id-1');
  });
});

describe('the version check on every write to a customer', () => {
  it('refuses a retention-profile change based on another version, or without one, and writes nothing', async () => {
    const c = await customer();
    const url = `/v1/customers/${c.id}/retention-profile`;
    const stale = await h.json('PATCH', url, { as: 'backoffice', body: { churnRisk: 0.9, version: c.version + 5 } });
    expect(stale.status).toBe(409);
    expect(stale.body.version).toBe(c.version);
    const none = await h.json('PATCH', url, { as: 'backoffice', body: { churnRisk: 0.9 } });
    expect(none.status).toBe(400);
    expect(none.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.version']);
    const disagree = await h.json('PATCH', url, { as: 'backoffice', body: { churnRisk: 0.9, version: c.version }, headers: { 'if-match': '"99"' } });
    expect(disagree.status).toBe(400);
    const row = await h.pool.query('SELECT churn_risk, version FROM customers WHERE id = $1', [c.id]);
    expect(row.rows[0]).toEqual({ churn_risk: null, version: c.version });
  });

  it('never writes to an erased customer again', async () => {
    const c = await customer();
    // As the erasure leaves a customer (activities/gdpr.ts ERASURE_COVERAGE.customers).
    const { rows } = await h.pool.query(
      "UPDATE customers SET name = 'Erased customer', phone = NULL, churn_risk = NULL, timezone = NULL, status = 'erased', erased_at = now(), version = version + 1 WHERE id = $1 RETURNING version",
      [c.id],
    );
    const res = await h.json('PATCH', `/v1/customers/${c.id}/retention-profile`, {
      as: 'admin',
      body: { churnRisk: 0.5, timezone: 'Europe/Berlin', version: rows[0].version },
    });
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/erased/);
    const after = await h.pool.query('SELECT churn_risk, timezone, version FROM customers WHERE id = $1', [c.id]);
    expect(after.rows[0]).toEqual({ churn_risk: null, timezone: null, version: rows[0].version });
    expect(
      (await h.pool.query("SELECT count(*)::int AS n FROM audit_log WHERE customer_id = $1 AND field IN ('churn_risk', 'timezone')", [c.id])).rows[0].n,
    ).toBe(0);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After to a key over its limit, from any address, and to an address over its limit, with any key', async () => {
    const api = apiWith({ rateLimits: { perKey: 3, perAddress: 5 } });
    const asAgent = { headers: { authorization: `Bearer ${h.keys.agent}` } };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await api.request('/v1/customers?pageSize=1', asAgent, from(`10.0.0.${i + 1}`))).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await api.request('/v1/customers?pageSize=1', asAgent, from('10.0.0.9'));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    expect(((await limited.json()) as { detail: string }).detail).toMatch(/Too many requests/);
    // Another key is not limited by the first one's use.
    expect((await api.request('/v1/customers?pageSize=1', { headers: { authorization: `Bearer ${h.keys.admin}` } }, from('10.0.1.1'))).status).toBe(200);

    // One address guessing keys: limited by its address whatever key it presents.
    const guesses: number[] = [];
    for (let i = 0; i < 6; i++)
      guesses.push((await api.request('/v1/customers', { headers: { authorization: `Bearer guess-${i}` } }, from('10.0.2.1'))).status);
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await api.request('/healthz', {}, from('10.0.2.2'))).status).toBe(200);
    // The limited address still reads the health probes: a supervisor polling /readyz learns the truth.
    expect((await api.request('/healthz', {}, from('10.0.2.1'))).status).toBe(200);
    expect((await api.request('/readyz', {}, from('10.0.2.1'))).status).toBe(200);
  });

  /** The API served over real HTTP on an ephemeral port of 127.0.0.1, the peer of every request of this test. */
  async function served(settings: Partial<Parameters<typeof createApi>[0]>): Promise<{ url: string; close: () => Promise<void> }> {
    const api = apiWith(settings);
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: api.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }
  const statusesOf = async (url: string, n: number, forwardedFor: (i: number) => string | undefined) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      const xff = forwardedFor(i);
      const res = await fetch(`${url}/v1/customers`, { headers: { authorization: `Bearer guess-${i}`, ...(xff ? { 'x-forwarded-for': xff } : {}) } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    return statuses;
  };

  it('over real HTTP: a client not behind a trusted proxy cannot dodge the address limit with a forged X-Forwarded-For', async () => {
    // No trusted proxies (the default), and trusted ones that are not this peer: the header is ignored either way.
    for (const trustedProxies of [undefined, ['10.0.0.0/8', '192.0.2.7']]) {
      const api = await served({ rateLimits: { perKey: 100, perAddress: 3, ...(trustedProxies ? { trustedProxies } : {}) } });
      try {
        expect(await statusesOf(api.url, 5, (i) => `203.0.113.${i + 1}`)).toEqual([401, 401, 401, 429, 429]);
      } finally {
        await api.close();
      }
    }
  });

  it('over real HTTP: behind a trusted proxy each client has its own budget, read from the right of X-Forwarded-For', async () => {
    const api = await served({ rateLimits: { perKey: 100, perAddress: 3, trustedProxies: ['127.0.0.1', '10.1.0.0/16'] } });
    try {
      // Two clients through the proxy (one through a second, inner proxy): three each, then 429 for each alone.
      expect(await statusesOf(api.url, 4, () => '198.51.100.1')).toEqual([401, 401, 401, 429]);
      expect(await statusesOf(api.url, 3, () => '198.51.100.2, 10.1.2.3')).toEqual([401, 401, 401]);
      // What a client writes into the header itself stands left of what the proxy appended: the limited client stays limited.
      expect(await statusesOf(api.url, 2, (i) => `192.0.2.${i + 1}, 198.51.100.1`)).toEqual([429, 429]);
      // The proxy's own requests (no header) count for the proxy.
      expect(await statusesOf(api.url, 1, () => undefined)).toEqual([401]);
    } finally {
      await api.close();
    }
  });

  it('are configured by RATE_LIMIT_PER_MINUTE and RATE_LIMIT_PER_ADDRESS_PER_MINUTE', () => {
    expect(loadConfig({}).api.rateLimits).toEqual({ perKey: 600, perAddress: 1200 });
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '30', RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '90' }).api.rateLimits).toEqual({ perKey: 30, perAddress: 90 });
    expect(() => loadConfig({ RATE_LIMIT_PER_MINUTE: '0' })).toThrow(/RATE_LIMIT_PER_MINUTE/);
    expect(loadConfig({ TRUSTED_PROXIES: ' 10.0.0.1, 172.16.0.0/12,fd00::/8 ' }).api.rateLimits.trustedProxies).toEqual([
      '10.0.0.1',
      '172.16.0.0/12',
      'fd00::/8',
    ]);
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/TRUSTED_PROXIES: '10.0.0.0\/33' has a prefix length outside 0-32/);
    expect(() => loadConfig({ TRUSTED_PROXIES: 'proxy.local' })).toThrow(/TRUSTED_PROXIES: 'proxy.local' is neither an IP address nor a CIDR range/);
  });
});

describe('page tokens', () => {
  it('are sealed with the configured secret: another API process with the same secret accepts them, one with another secret refuses them', async () => {
    await customer();
    await customer();
    const auth = { headers: { authorization: `Bearer ${h.keys.agent}` } };
    const first = await apiWith({}).request('/v1/customers?pageSize=1', auth);
    const token = ((await first.json()) as { nextPageToken: string }).nextPageToken;
    expect(token).toBeTruthy();
    const next = `/v1/customers?pageSize=1&pageToken=${token}`;
    expect((await apiWith({}).request(next, auth)).status).toBe(200);
    // Same users and keys, another secret: the token cannot be forged from anything public.
    const other = await apiWith({ pageTokenSecret: 'another-secret-of-another-deploy-0123' }).request(next, auth);
    expect(other.status).toBe(400);
    expect(((await other.json()) as { errors: Array<{ path: string }> }).errors[0]!.path).toBe('query.pageToken');
  });

  it('need PAGE_TOKEN_SECRET outside development and test', () => {
    expect(() => pageTokenSecretOf(loadConfig({ NODE_ENV: 'production' }))).toThrow(/PAGE_TOKEN_SECRET: required when NODE_ENV=production/);
    expect(() => loadConfig({ NODE_ENV: 'production', PAGE_TOKEN_SECRET: 'short' })).toThrow(/at least 32/);
    expect(pageTokenSecretOf(loadConfig({ NODE_ENV: 'production', PAGE_TOKEN_SECRET: 'x'.repeat(32) }))).toBe('x'.repeat(32));
    expect(pageTokenSecretOf(loadConfig({}))).toBeUndefined();
  });
});

describe('security headers', () => {
  it('are on every response: API, problem, docs page, preflight', async () => {
    for (const res of [
      await h.request('GET', '/healthz', { as: null }),
      await h.request('GET', '/v1/customers', { as: null }),
      await h.request('GET', '/docs', { as: null }),
      await h.request('GET', '/no/such/route', { as: null }),
    ]) {
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
    // The docs page loads its scripts from files: the CSP allows no inline script.
    const docs = await (await h.request('GET', '/docs', { as: null })).text();
    expect(docs).not.toMatch(/<script>(?!<\/script>)/);
  });
});

describe('the local codec listener of npm start', () => {
  it('decodes without a credential (it listens on 127.0.0.1 only), audits the local UI, and neither encodes nor serves anything else', async () => {
    const app = createLocalCodecApp({
      pool: h.pool,
      temporal: h.client,
      taskQueue: h.taskQueue,
      logger: createLogger('silent'),
      keys: [],
      pageTokenSecret: 'unused-here-0123456789-0123456789',
      payloadCodec: new AesGcmPayloadCodec(h.keyring),
      codecAccess: { namespace: 'default', uiOrigin: 'http://localhost:8233' },
    });
    const [sealed] = await new AesGcmPayloadCodec(h.keyring).encode([
      { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('"local"') },
    ]);
    const workflowId = uniqueId('wf');
    const body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
          data: Buffer.from(sealed!.data!).toString('base64'),
        },
      ],
    });
    const post = (path: string, headers: Record<string, string>) =>
      app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const res = await post('/codec/decode', { 'x-namespace': 'default', 'x-workflow-id': workflowId });
    expect(res.status).toBe(200);
    const out = (await res.json()) as { payloads: Array<{ data: string }> };
    expect(Buffer.from(out.payloads[0]!.data, 'base64').toString()).toBe('"local"');
    expect((await h.pool.query('SELECT actor, payloads FROM codec_decodes WHERE workflow_id = $1', [workflowId])).rows).toEqual([
      { actor: LOCAL_UI_ACTOR, payloads: 1 },
    ]);
    expect((await post('/codec/decode', { 'x-namespace': 'other' })).status).toBe(403);
    expect((await post('/codec/encode', { 'x-namespace': 'default' })).status).toBe(404);
    expect((await app.request('/v1/customers')).status).toBe(404);
  });
});
