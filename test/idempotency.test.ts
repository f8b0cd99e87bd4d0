/**
 * Idempotency-Keys live in PostgreSQL for IDEMPOTENCY_TTL: honoured with the workflow gone from
 * Temporal and no worker running, one process for concurrent duplicates, and forgotten once expired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { forget } from './support/retention.js';
import { idempotencyKeyStore } from '../src/db/repositories/idempotency-keys.js';
import { registrationWorkflowId } from '../src/domain/customers.js';

const TTL_MS = 2 * 3_600_000;
/** Tests that stop and restart the worker wait out its shutdown and a new poller: slow under a loaded CI. */
const WORKER_RESTART_TIMEOUT_MS = 150_000;
let h: Harness;
beforeAll(async () => {
  h = await startHarness('idempotency', { idempotencyTtlMs: TTL_MS, resultWaitMs: 3_000 });
});
afterAll(async () => {
  await h?.close();
});

const registration = () => ({ name: 'Kim Keyholder', email: `${uniqueId('kim')}@example.com` });
const interaction = (summary = 'Asked about the invoice') => ({
  channel: 'call',
  direction: 'inbound',
  summary,
  occurredAt: '2026-01-01T10:00:00Z',
});

async function keyRow(key: string) {
  const { rows } = await h.pool.query('SELECT * FROM idempotency_keys WHERE key = $1', [key]);
  return rows[0];
}

async function count(table: string, where: string, params: unknown[]): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params);
  return Number(rows[0]!.n);
}

/** Repeats the same keyed request until the process has answered for good (a 202 "pending" first). */
async function settled(url: string, body: unknown, key: string) {
  return eventually(async () => {
    const res = await h.json('POST', url, { body, headers: { 'idempotency-key': key } });
    return res.status === 202 && res.body.status === 'pending' ? false : res;
  });
}

async function customer(): Promise<string> {
  return (await settled('/v1/customers', registration(), uniqueId('c'))).body.id;
}

describe('Idempotency-Keys kept in PostgreSQL', () => {
  it(
    'answers a repeat from PostgreSQL after the workflow was deleted from Temporal and with no worker running',
    async () => {
      const key = uniqueId('reg');
      const body = registration();
      const first = await settled('/v1/customers', body, key);
      expect(first.status).toBe(201);
      const row = await keyRow(key);
      expect(row).toMatchObject({ operation: 'POST /v1/customers', actor: h.users.agent.id, response_status: 201, response_final: true });
      expect(row.workflow_id).toBe(registrationWorkflowId(key));
      expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(TTL_MS);

      await forget(h, row.workflow_id);
      await h.stopWorker();
      try {
        const repeat = await h.json('POST', '/v1/customers', { body, headers: { 'idempotency-key': key } });
        expect(repeat.status).toBe(201);
        expect(repeat.body).toEqual(first.body);
        expect(repeat.headers.get('location')).toBe(`/v1/customers/${first.body.id}`);
        expect(repeat.headers.get('idempotent-replayed')).toBe('true');
        const other = await h.json('POST', '/v1/customers', { body: registration(), headers: { 'idempotency-key': key } });
        expect(other.status).toBe(422);
        expect(other.headers.get('content-type')).toMatch(/problem\+json/);
        expect(other.body.detail).toMatch(/Idempotency-Key .* different request body/);
      } finally {
        await h.startWorker();
      }
      expect(await count('customers', 'email_normalized = $1', [body.email])).toBe(1);
    },
    WORKER_RESTART_TIMEOUT_MS,
  );

  it(
    'lands a repeat on the same process while it is still in flight, then answers with its result',
    async () => {
      const id = await customer();
      const key = uniqueId('ia');
      const url = `/v1/customers/${id}/interactions`;
      await h.stopWorker();
      let pending;
      try {
        pending = await h.json('POST', url, { body: interaction(), headers: { 'idempotency-key': key } });
        expect(pending.status).toBe(202);
        expect(pending.body.status).toBe('pending');
        const again = await h.json('POST', url, { body: interaction(), headers: { 'idempotency-key': key } });
        expect(again.status).toBe(202);
        expect(again.body.workflowId).toBe(pending.body.workflowId);
      } finally {
        await h.startWorker();
      }
      const done = await settled(url, interaction(), key);
      expect(done.status).toBe(201);
      expect(await count('contact_events', 'customer_id = $1', [id])).toBe(1);
      expect((await keyRow(key)).workflow_id).toBe(pending.body.workflowId);
      // The result is kept: it outlives the workflow.
      await forget(h, pending.body.workflowId);
      const later = await h.json('POST', url, { body: interaction(), headers: { 'idempotency-key': key } });
      expect(later.status).toBe(201);
      expect(later.body.id).toBe(done.body.id);
    },
    WORKER_RESTART_TIMEOUT_MS,
  );

  it(
    'answers a registration that was pending from its record once the workflow has closed and Temporal has forgotten it',
    async () => {
      const key = uniqueId('reg-pending');
      const body = registration();
      await h.stopWorker();
      let pending;
      try {
        pending = await h.json('POST', '/v1/customers', { body, headers: { 'idempotency-key': key } });
        expect(pending.status).toBe(202);
        expect(pending.body).toMatchObject({ status: 'pending', workflowId: registrationWorkflowId(key), statusUrl: `/v1/registrations/${key}` });
        const again = await h.json('POST', '/v1/customers', { body, headers: { 'idempotency-key': key } });
        expect(again.status).toBe(202);
      } finally {
        await h.startWorker();
      }
      // The registration runs on to its end (welcome delivery, onboarding), then Temporal forgets it.
      await h.client.workflow.getHandle(registrationWorkflowId(key)).result();
      await forget(h, registrationWorkflowId(key));
      const done = await h.json('POST', '/v1/customers', { body, headers: { 'idempotency-key': key } });
      expect(done.status).toBe(201);
      expect(done.body.email).toBe(body.email);
      expect(await count('customers', 'email_normalized = $1', [body.email])).toBe(1);
      const replay = await h.json('POST', '/v1/customers', { body, headers: { 'idempotency-key': key } });
      expect(replay.status).toBe(201);
      expect(replay.body.id).toBe(done.body.id);
    },
    WORKER_RESTART_TIMEOUT_MS,
  );

  it('starts one process for concurrent duplicates', async () => {
    const id = await customer();
    const key = uniqueId('burst');
    const url = `/v1/customers/${id}/interactions`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => h.json('POST', url, { body: interaction('Burst'), headers: { 'idempotency-key': key } })),
    );
    for (const a of answers) expect([201, 202]).toContain(a.status);
    const done = await settled(url, interaction('Burst'), key);
    for (const a of answers.filter((x) => x.status === 201)) expect(a.body.id).toBe(done.body.id);
    expect(await count('contact_events', 'customer_id = $1', [id])).toBe(1);
    const { executions } = await h.client.workflowService.listWorkflowExecutions({
      namespace: 'default',
      query: `WorkflowType = 'recordInteraction' AND TaskQueue = '${h.taskQueue}' AND WorkflowId = '${(await keyRow(key)).workflow_id}'`,
    });
    expect(executions).toHaveLength(1);
  });

  it('refuses a key used by another caller, and frees a key whose request was refused before it acted', async () => {
    const key = uniqueId('own');
    const body = registration();
    const invalid = await h.json('POST', '/v1/customers', {
      body: { ...body, email: 'not-an-email' },
      headers: { 'idempotency-key': key },
    });
    expect(invalid.status).toBe(400);
    expect(await keyRow(key)).toBeUndefined();
    const first = await settled('/v1/customers', body, key);
    expect(first.status).toBe(201);
    const stranger = await h.json('POST', '/v1/customers', { as: 'backoffice', body, headers: { 'idempotency-key': key } });
    expect(stranger.status).toBe(422);
    expect(stranger.body.detail).toMatch(/another caller/);
  });

  it('no longer honours an expired key: the same key then names a new request', async () => {
    const id = await customer();
    const key = uniqueId('old');
    const url = `/v1/customers/${id}/interactions`;
    const first = await settled(url, interaction(), key);
    const expire = () =>
      h.pool.query("UPDATE idempotency_keys SET created_at = now() - interval '3 hours', expires_at = now() - interval '1 second' WHERE key = $1", [key]);
    await expire();
    const again = await settled(url, interaction(), key);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.body.id);
    expect(await count('contact_events', 'customer_id = $1', [id])).toBe(2);
    await expire();
    const otherBody = await settled(url, interaction('Something else'), key);
    expect(otherBody.status).toBe(201);
    expect(await count('contact_events', 'customer_id = $1', [id])).toBe(3);
  });

  it('purges expired keys and keeps the others', async () => {
    const live = uniqueId('live');
    const dead = uniqueId('dead');
    await h.pool.query(
      `INSERT INTO idempotency_keys (operation, key, actor, request_hash, scope, created_at, expires_at) VALUES
         ('POST /v1/x', $1, 'a', 'h', gen_random_uuid(), now(), now() + interval '1 hour'),
         ('POST /v1/x', $2, 'a', 'h', gen_random_uuid(), now() - interval '2 hours', now() - interval '1 hour')`,
      [live, dead],
    );
    expect(await idempotencyKeyStore(h.pool, TTL_MS).purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await keyRow(dead)).toBeUndefined();
    expect(await keyRow(live)).toBeDefined();
  });
});
