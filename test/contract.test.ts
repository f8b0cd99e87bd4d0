/**
 * The API contract: both OpenAPI documents are valid OpenAPI 3.1; every example request of the
 * operational document is sent through the real app and answers 2xx or an error the operation
 * documents; every response of this file is checked against the schema its operation declares
 * (test/support/contract.ts, through the harness); undeclared methods answer 405 with Allow.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, type Operation } from './support/contract.js';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { startAnalyticsHarness, type AnalyticsHarness } from './support/analytics.js';

let h: Harness;
let contract: Contract;
const counts = { operations: 0, examples: 0, answered2xx: 0, documentedErrors: 0 };

beforeAll(async () => {
  h = await startHarness('contract', { checkResponses: true });
  contract = await h.contract();
  counts.operations = contract.operations.length;
});
afterAll(async () => {
  if (contract)
    console.info(
      `contract: ${counts.operations} operations, ${counts.examples} examples sent (${counts.answered2xx} 2xx, ${counts.documentedErrors} documented errors), ${contract.responsesChecked} responses checked`,
    );
  await h?.close();
});

async function validOpenApi31(document: unknown) {
  const result = await new Validator().validate(document as Record<string, unknown>);
  expect(result.errors ?? [], JSON.stringify(result.errors ?? []).slice(0, 2000)).toEqual([]);
  expect(result.valid).toBe(true);
  expect((document as { openapi: string }).openapi).toMatch(/^3\.1\./);
}

/** Sends a raw request through a real HTTP server: TRACE cannot be built as a fetch Request. */
async function rawRequest(fetch: (req: Request) => Response | Promise<Response>, method: string, path: string, headers: Record<string, string> = {}) {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** `$response.body#/id` evaluated on a response body. */
function fromBody(expression: string, body: unknown): string | undefined {
  const match = /^\$response\.body#(\/.*)$/.exec(expression);
  if (!match) throw new Error(`unsupported link expression ${expression}`);
  let value: unknown = body;
  for (const segment of match[1]!.slice(1).split('/'))
    value = (value as Record<string, unknown> | undefined)?.[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
  return typeof value === 'string' ? value : undefined;
}

describe('the operational API contract', () => {
  it('/openapi.json is a valid OpenAPI 3.1 document, with an operationId on every operation and an example on every request body', async () => {
    await validOpenApi31(contract.document);
    for (const op of contract.operations) {
      expect(op.operationId, `${op.method} ${op.path}`).toMatch(/^[a-z][A-Za-z]+$/);
      const body = op.definition.requestBody?.content?.['application/json'];
      if (body) {
        expect(body.example, `example of ${op.operationId}`).toBeDefined();
        expect(contract.requestBodyErrors(op.operationId, body.example), `example of ${op.operationId} against its own schema`).toEqual([]);
      }
    }
    expect(new Set(contract.operations.map((o) => o.operationId)).size).toBe(contract.operations.length);
  });

  it('every example request answers 2xx or an error its operation documents; ids come from the links of the create operations', async () => {
    const registrationKey = uniqueId('contract');
    /** Path parameters per operationId, filled from the links of create answers. */
    const params = new Map<string, Record<string, string>>();
    const pending = [...contract.operations];
    let customerId: string | undefined;
    let campaignId: string | undefined;
    /** Tasks are made by processes, not by a create operation: the first one the processes above opened, else an unknown id (a documented 404). */
    const task: { id?: string } = {};
    /** Messages are queued by processes too: the first one queued by the processes above, else an unknown id (a documented 404). */
    const message: { id?: string } = {};

    const paramsFor = (op: Operation): Record<string, string> | undefined => {
      const names = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      if (names.length === 0) return {};
      if (op.operationId === 'getRegistration') return { key: registrationKey };
      // An unsubscribe token exists only in a delivered message: the example token is unknown (404, documented).
      if (op.operationId === 'showUnsubscribe' || op.operationId === 'unsubscribe') return { token: 'bm90LWEtcmVhbC10b2tlbi1leGFtcGxl' };
      // So do the customer's links (export, erasure cancellation, stopping a contact change).
      if (op.path.startsWith('/links/')) return { token: 'bm90LWEtcmVhbC1saW5rLXRva2VuLWV4YW1wbGU' };
      if (op.path.startsWith('/v1/tasks/{id}')) return { id: task.id ?? randomUUID() };
      if (op.operationId === 'getMessage') return { id: message.id ?? randomUUID() };
      // A webhook delivery exists only once an event went out: an unknown delivery of a real subscription (a documented 404).
      if (op.path.startsWith('/v1/webhooks/{id}/deliveries/{deliveryId}')) {
        const subscription = params.get('getWebhook');
        return subscription && { id: subscription.id!, deliveryId: randomUUID() };
      }
      if (op.operationId === 'getEnrollment') return campaignId && customerId ? { id: campaignId, customerId } : undefined;
      const linked = params.get(op.operationId);
      return linked && names.every((n) => n in linked) ? linked : undefined;
    };

    const send = async (op: Operation, values: Record<string, string>) => {
      const url = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(values[name]!));
      const content: Record<string, { example?: unknown }> = op.definition.requestBody?.content ?? {};
      const example = content['application/json']?.example;
      // A file upload (an import) has no JSON body: its first media type's example goes as that type.
      const [fileType, file] = example === undefined ? (Object.entries(content)[0] ?? []) : [];
      const headers: Record<string, string> = op.operationId === 'registerCustomer' ? { 'idempotency-key': registrationKey } : {};
      if (fileType) headers['content-type'] = fileType;
      const query = op.operationId === 'createImport' ? '?kind=customers' : '';
      const raw = await h.request(op.method, `${url}${query}`, { as: 'admin', body: example, rawBody: file?.example as string | undefined, headers });
      const text = await raw.text();
      // A download (CSV) is not JSON: its body is kept as text.
      const res = { status: raw.status, body: /json/.test(raw.headers.get('content-type') ?? '') && text ? JSON.parse(text) : text || undefined };
      if (example !== undefined || file?.example !== undefined) counts.examples++;
      const declared = Object.keys(op.definition.responses);
      expect(res.status, `${op.method} ${url} (${op.operationId}): ${JSON.stringify(res.body)?.slice(0, 300)}`).toBeLessThan(500);
      expect(declared, `${op.operationId} answered an undocumented ${res.status}`).toContain(String(res.status));
      if (res.status < 300) counts.answered2xx++;
      else counts.documentedErrors++;
      for (const response of Object.values(
        op.definition.responses as Record<string, { links?: Record<string, { operationId: string; parameters: Record<string, string> }> }>,
      )) {
        for (const link of Object.values(response.links ?? {})) {
          if (res.status >= 300) continue;
          const linked = Object.fromEntries(Object.entries(link.parameters).map(([name, expression]) => [name, fromBody(expression, res.body)]));
          if (Object.values(linked).every((v) => v !== undefined)) params.set(link.operationId, linked as Record<string, string>);
        }
      }
      if (op.operationId === 'registerCustomer') customerId = res.body?.id;
      if (op.operationId === 'createCampaign') campaignId = res.body?.id;
      return res;
    };

    // Every offer rule needs a product the customer owns: the example upsells crm-pro (tier 2)
    // to a customer who bought crm-basic (tier 1) of the same category and agreed to offers.
    const ownLowerTier = async (id: string) => {
      const product = await h.json('POST', '/v1/products', {
        as: 'admin',
        body: { id: 'crm-basic', name: 'CRM Basic', category: 'crm', tier: 1, price: 19.9 },
      });
      expect(product.status).toBe(201);
      const purchase = await h.json('POST', `/v1/customers/${id}/events`, {
        as: 'admin',
        body: { type: 'purchase', productId: 'crm-basic' },
      });
      expect(purchase.status, JSON.stringify(purchase.body)).toBeLessThan(300);
      // An offer is marketing: only to a customer who agreed to offers by e-mail.
      const consent = await h.json('POST', `/v1/customers/${id}/consents/grants`, {
        as: 'admin',
        body: { channel: 'email', purpose: 'marketing', method: 'form', source: 'contract test', textVersion: 'marketing-email-v1' },
      });
      expect(consent.status, JSON.stringify(consent.body)).toBe(201);
    };

    // Operations that link to others first (they create what the rest take), in rounds: a create
    // that needs an id (an offer for a customer) runs once its id is known.
    const creates = pending.filter((op) => Object.values(op.definition.responses).some((r) => (r as { links?: unknown }).links));
    expect(creates.map((c) => c.operationId)).toEqual(
      expect.arrayContaining(['registerCustomer', 'createLead', 'createProduct', 'createCampaign', 'requestChange', 'makeOffer']),
    );
    const ordered = [...creates.filter((c) => c.operationId === 'createProduct'), ...creates.filter((c) => c.operationId !== 'createProduct')];
    let progress = true;
    while (ordered.length > 0 && progress) {
      progress = false;
      for (const op of [...ordered]) {
        const values = paramsFor(op);
        if (!values) continue;
        if (op.operationId === 'makeOffer') await ownLowerTier(values.id!);
        const res = await send(op, values);
        expect(res.status, `create ${op.operationId} must succeed so its links can be followed: ${JSON.stringify(res.body)}`).toBeLessThan(300);
        ordered.splice(ordered.indexOf(op), 1);
        pending.splice(pending.indexOf(op), 1);
        progress = true;
      }
    }
    expect(
      ordered.map((o) => o.operationId),
      'create operations whose ids nothing provides',
    ).toEqual([]);

    task.id = (await h.pool.query<{ id: string }>('SELECT id FROM tasks ORDER BY created_at LIMIT 1')).rows[0]?.id;
    message.id = (await h.pool.query<{ id: string }>('SELECT id FROM notification_outbox ORDER BY created_at LIMIT 1')).rows[0]?.id;
    for (const op of pending) {
      const values = paramsFor(op);
      expect(values, `no id for ${op.operationId} (${op.path}): no create operation links to it`).toBeDefined();
      await send(op, values!);
    }
    expect(counts.examples).toBe(contract.operations.filter((o) => o.definition.requestBody).length);
  }, 180_000);

  it('the response checker refuses an undeclared status, an undeclared content type and a body that breaks the schema', async () => {
    const problem = (status: number) =>
      new Response(JSON.stringify({ type: 'about:blank', title: 'x', status }), {
        status,
        headers: { 'content-type': 'application/problem+json' },
      });
    await expect(contract.check('GET', '/v1/products', problem(418))).rejects.toThrow(/does not declare/);
    await expect(contract.check('GET', '/v1/products', new Response('[]', { status: 200, headers: { 'content-type': 'text/plain' } }))).rejects.toThrow(
      /Content-Type text\/plain/,
    );
    await expect(
      contract.check('GET', '/v1/products', new Response('{"products":"no"}', { status: 200, headers: { 'content-type': 'application/json' } })),
    ).rejects.toThrow(/does not match the declared schema/);
    await expect(contract.check('GET', '/v1/products', problem(401))).resolves.toBe(true);
    await expect(contract.check('GET', '/healthz', new Response('{}', { status: 200 }))).resolves.toBe(false);
  });

  it('an undeclared method on a declared path answers 405 with Allow listing the declared methods; an unknown path stays 404', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const [path, item] of Object.entries(contract.document.paths as Record<string, Record<string, unknown>>)) {
      const declared = Object.keys(item)
        .filter((m) => ['get', 'put', 'post', 'delete', 'patch'].includes(m))
        .map((m) => m.toUpperCase());
      const method = ['DELETE', 'PUT', 'PATCH', 'POST'].find((m) => !declared.includes(m))!;
      const url = path.replace(/\{[^}]+\}/g, id);
      const res = await h.json(method, url, { as: 'admin' });
      expect(res.status, `${method} ${url}`).toBe(405);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 405, title: 'Method Not Allowed' });
      const expected = new Set(declared);
      if (expected.has('GET')) expected.add('HEAD');
      expect(res.headers.get('allow')!.split(', ').sort(), `Allow of ${url}`).toEqual([...expected].sort());
    }
    const trace = await rawRequest(h.api.fetch, 'TRACE', '/v1/campaigns', { authorization: `Bearer ${h.keys.admin}` });
    expect(trace.status).toBe(405);
    expect(trace.headers.allow).toBe('GET, HEAD, POST');
    expect(JSON.parse(trace.body)).toMatchObject({ status: 405, detail: expect.stringContaining('TRACE') });

    const unknown = await h.json('DELETE', '/v1/nothing-here', { as: 'admin' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('allow')).toBeNull();
  });

  it('serves Swagger UI at /docs without a CDN', async () => {
    const page = await h.request('GET', '/docs', { as: null });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/assets/swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    expect((await h.request('GET', '/docs/assets/swagger-ui-bundle.js', { as: null })).status).toBe(200);
  });
});

describe('the analytics API contract', () => {
  let a: AnalyticsHarness;
  let analytics: Contract;
  beforeAll(async () => {
    a = await startAnalyticsHarness(h.taskQueue);
    analytics = await Contract.load(a.service.app);
  });
  afterAll(async () => {
    if (analytics) console.info(`analytics contract: ${analytics.operations.length} operations, ${analytics.responsesChecked} responses checked`);
    await a?.stop();
  });

  const get = async (path: string, auth = true) => {
    const res = await a.service.app.request(path, { headers: auth ? { authorization: `Bearer ${a.key}` } : {} });
    expect(await analytics.check('GET', path, res), `GET ${path} is an operation of the analytics document`).toBe(true);
    return res;
  };

  it('/openapi.json is a valid OpenAPI 3.1 document of every report, generated from the zod schemas', async () => {
    await validOpenApi31(analytics.document);
    expect(analytics.operations.map((o) => o.operationId).sort()).toEqual([
      'campaignsReport',
      'changesReport',
      'forecastReport',
      'funnelReport',
      'ingestStatus',
      'pipelineReport',
      'processesReport',
      'salesReport',
      'taskSlaReport',
    ]);
    expect(analytics.byId('funnelReport').definition.parameters.map((p: { name: string }) => p.name)).toEqual(['from', 'to', 'groupBy']);
  });

  it('every report answers as its schema says, with the documented parameters and without; a bad range is a documented 400; no key a documented 401', async () => {
    await a.ingest();
    for (const op of analytics.operations) {
      const query = new URLSearchParams(
        (op.definition.parameters ?? [])
          .filter((p: { example?: string }) => p.example !== undefined)
          .map((p: { name: string; example: string }) => [p.name, p.example]),
      );
      const ranged = (op.definition.parameters ?? []).some((p: { name: string }) => p.name === 'from');
      if (ranged) query.set('groupBy', 'week');
      expect((await get(op.path)).status).toBe(200);
      expect((await get(`${op.path}?${query}`)).status).toBe(200);
      expect((await get(op.path, false)).status).toBe(401);
      if (ranged) {
        const bad = await get(`${op.path}?from=2026-02-30&to=2025-01-01&extra=1`);
        expect(bad.status).toBe(400);
        const body = (await bad.json()) as { errors: Array<{ path: string }> };
        expect(body.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['query.from']));
      } else if (op.definition.parameters?.length) {
        const bad = await get(`${op.path}?currency=euro&extra=1`);
        expect(bad.status).toBe(400);
        const body = (await bad.json()) as { errors: Array<{ path: string }> };
        expect(body.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['query.currency']));
      }
    }
  });

  it('serves /docs, and answers an undeclared method with 405 and Allow', async () => {
    const page = await a.service.app.request('/docs');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('CRM analytics API');
    expect((await a.service.app.request('/docs/assets/swagger-ui.css')).status).toBe(200);

    const post = await a.service.app.request('/v1/analytics/funnel', { method: 'POST', headers: { authorization: `Bearer ${a.key}` } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(post.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const trace = await rawRequest(a.service.app.fetch, 'TRACE', '/v1/analytics/ingest', { authorization: `Bearer ${a.key}` });
    expect(trace.status).toBe(405);
    expect(trace.headers.allow).toBe('GET, HEAD');
    expect((await a.service.app.request('/v1/analytics/nothing', { headers: { authorization: `Bearer ${a.key}` } })).status).toBe(404);
  });
});
