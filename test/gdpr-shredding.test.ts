/**
 * Erasure reaches every copy (issue 14, build point 5): a customer registers, changes their bank
 * account, is a lead in a running funnel under the same address and exports their data; then they
 * are erased. Afterwards a scan of every history of every workflow of theirs (raw bytes, and every
 * payload decoded with the worker's own codec), the file mailbox and the API finds none of their
 * personal values: payloads about them fail with "destroyed by erasure", running processes ended
 * with the reason `erased`.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import type { Payload } from '@temporalio/common';
import { KeyDestroyedError } from '../src/codec/index.js';
import { startHarness, uniqueId, type Harness } from './support/harness.js';
import { startAnalyticsHarness, type AnalyticsHarness } from './support/analytics.js';
import { codeFor, historyIfAny, registerCustomer, TIMER_POLICY, waitForChange, waitForGdpr, waitForMail, within } from './support/master-data.js';

let h: Harness;
let a: AnalyticsHarness | undefined;
const POLICY = { ...TIMER_POLICY, erasureGracePeriod: '3 seconds' };

beforeAll(async () => {
  h = await startHarness('gdpr_shredding', { masterDataPolicy: POLICY });
});
afterAll(async () => {
  await a?.stop();
  await h?.close();
});

/** Every payload object inside a history (workflow inputs, activity inputs and results, summaries, queries...). */
function payloadsIn(node: unknown, out: Payload[] = [], seen = new Set<unknown>()): Payload[] {
  if (!node || typeof node !== 'object' || seen.has(node) || node instanceof Uint8Array) return out;
  seen.add(node);
  const o = node as Record<string, unknown>;
  if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object') {
    out.push(o as Payload);
    return out;
  }
  for (const v of Array.isArray(node) ? node : Object.values(o)) payloadsIn(v, out, seen);
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...(await filesUnder(p)));
    else files.push(p);
  }
  return files;
}

describe('erasure reaches every copy', () => {
  it('leaves no personal value of an erased customer in any history, running or closed, in the mailbox or in the API', { timeout: 240_000 }, async () => {
    const c = await registerCustomer(h);
    const iban = 'DE44500105175407324931';
    // A master-data change that carries their bank account, approved and applied.
    const change = await h.json('POST', `/v1/customers/${c.id}/changes`, { body: { changes: { bankAccount: iban }, reason: 'customer called' } });
    expect(change.status, JSON.stringify(change.body)).toBe(202);
    await waitForChange(h, change.body.changeId, 'awaiting-approval');
    await h.json('POST', `/v1/changes/${change.body.changeId}/approval`, { as: 'backoffice', body: { decision: 'approve' } });
    await waitForChange(h, change.body.changeId, 'applied');
    // A lead funnel for them (an opportunity), still running when the erasure comes.
    const lead = await h.json('POST', `/v1/customers/${c.id}/opportunities`, {
      body: { productIds: ['tv-basic'], interest: `${c.name} wants fibre` },
      headers: { 'Idempotency-Key': uniqueId('opportunity') },
    });
    expect([201, 202], JSON.stringify(lead.body)).toContain(lead.status);
    const leadId: string = lead.body.id ?? String(lead.body.workflowId).replace(/^lead-/, '');
    // An export, assembled and fetched.
    const exp = await h.json('POST', `/v1/customers/${c.id}/export`, { body: {} });
    expect(exp.status, JSON.stringify(exp.body)).toBe(202);
    await waitForGdpr(h, exp.body.requestId, 'awaiting-verification');
    expect((await h.json('POST', `/v1/gdpr-requests/${exp.body.requestId}/verification`, { body: { code: await codeFor(h, c.email, 1) } })).status).toBe(200);
    await waitForGdpr(h, exp.body.requestId, 'ready', 60_000);
    await waitForMail(h, c.email, 'gdpr-export-ready');

    // Every workflow of the person, collected before the erasure (visibility, the record, known ids).
    const ids = new Set<string>([`master-data-${c.id}`, `gdpr-${exp.body.requestId}`, `lead-${leadId}`]);
    for await (const wf of h.client.workflow.list({ query: `CrmCustomerId = '${c.id}'` })) ids.add(wf.workflowId);
    const leadRow = await h.pool.query<{ workflow_id: string }>('SELECT workflow_id FROM leads WHERE id = $1', [leadId]);
    if (leadRow.rows[0]?.workflow_id) ids.add(leadRow.rows[0].workflow_id);
    const messages = await h.pool.query<{ id: string }>('SELECT id FROM notification_outbox WHERE customer_id = $1 OR lower(recipient) = lower($2)', [
      c.id,
      c.email,
    ]);
    for (const m of messages.rows) ids.add(`notify-${m.id}`);
    const tasks = await h.pool.query<{ id: string }>('SELECT id FROM tasks WHERE customer_id = $1 OR lead_id = $2', [c.id, leadId]);
    for (const t of tasks.rows) ids.add(`task-${t.id}`);
    expect((await h.client.workflow.getHandle(`lead-${leadId}`).describe()).status.name).toBe('RUNNING');

    // The erasure.
    const erasure = await h.json('POST', `/v1/customers/${c.id}/erasure`, { body: {} });
    expect(erasure.status, JSON.stringify(erasure.body)).toBe(202);
    const erasureId: string = erasure.body.requestId;
    ids.add(`gdpr-${erasureId}`);
    await waitForGdpr(h, erasureId, 'awaiting-verification');
    expect((await h.json('POST', `/v1/gdpr-requests/${erasureId}/verification`, { body: { code: await codeFor(h, c.email, 2) } })).status).toBe(200);
    const erased = await waitForGdpr(h, erasureId, 'erased', within(POLICY.erasureGracePeriod).timeoutMs + 60_000);
    expect(erased.erasedRows.subject_keys).toBeGreaterThanOrEqual(2);

    // Running processes ended with the reason recorded: the funnel as lost 'erased', the rest terminated.
    const funnel = await h.client.workflow.getHandle(`lead-${leadId}`).describe();
    expect(funnel.status.name).not.toBe('RUNNING');
    expect((await h.pool.query('SELECT stage, lost_reason FROM leads WHERE id = $1', [leadId])).rows[0]).toMatchObject({ stage: 'lost' });
    const running: string[] = [];
    for await (const wf of h.client.workflow.list({ query: `CrmCustomerId = '${c.id}' AND ExecutionStatus = 'Running'` })) {
      if (wf.workflowId !== `gdpr-${erasureId}`) running.push(wf.workflowId);
    }
    expect(running).toEqual([]);
    const audit = await h.json('GET', `/v1/customers/${c.id}/audit?limit=200`);
    const entry = audit.body.items.find((i: { field: string }) => i.field === 'erasure');
    expect(entry.newValue.processesEnded.reason).toBe('erased');

    // The scan. Values of at least 6 characters: the name, e-mail, phone, IBAN and the street.
    const values = [c.name, c.email, c.phone, iban, `${c.name} wants fibre`];
    const hits: string[] = [];
    let destroyed = 0;
    let scanned = 0;
    for (const workflowId of ids) {
      const history = await historyIfAny(h, workflowId);
      if (!history) continue;
      scanned++;
      const raw = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
      for (const v of values) if (raw.includes(Buffer.from(v))) hits.push(`${workflowId} raw: ${v}`);
      // Every payload as the worker reads it: about the person, it no longer opens; otherwise it holds none of their values.
      for (const p of payloadsIn(history)) {
        try {
          const [open] = await h.payloadCodec.decode([p]);
          const bytes = Buffer.from(open!.data ?? new Uint8Array());
          for (const v of values) if (bytes.includes(Buffer.from(v))) hits.push(`${workflowId} decoded: ${v} in ${bytes.toString().slice(0, 400)}`);
        } catch (err) {
          expect(err, workflowId).toBeInstanceOf(KeyDestroyedError);
          destroyed++;
        }
      }
    }
    expect(scanned).toBeGreaterThan(5);
    expect(destroyed).toBeGreaterThan(10);
    expect(hits).toEqual([]);

    // The codec endpoint (the Temporal UI's) shows why instead of data.
    const registration = await h.client.workflow.getHandle(`onboarding-${c.id}`).fetchHistory();
    const sealed = payloadsIn(registration.events?.[0]).find((p) => p.metadata?.['encryption-key-kind'])!;
    expect(sealed).toBeDefined();
    const wire = {
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(sealed.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
          data: Buffer.from(sealed.data!).toString('base64'),
        },
      ],
    };
    const decoded = await h.json('POST', '/codec/decode', { as: { key: h.codecToken }, headers: { 'x-namespace': 'default' }, body: wire });
    expect(decoded.status).toBe(200);
    expect(JSON.parse(Buffer.from(decoded.body.payloads[0].data, 'base64').toString()).erased).toMatch(/destroyed by erasure/);

    // Analytics (its own store, fed from Temporal only) keeps their runs counted under pseudonyms, and
    // after it has read the erasure no mapping, workflow id, customer id or value of theirs.
    await h.client.workflow.getHandle(`gdpr-${erasureId}`).result();
    a = await startAnalyticsHarness(h.taskQueue);
    expect((await a.ingest()).ingested).toBeGreaterThan(5);
    const counted = await a.service.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${a.schema}".process_runs WHERE workflow_id LIKE 'wf-%'`);
    expect(counted.rows[0]!.n).toBeGreaterThan(5);
    const { rows: columns } = await a.service.pool.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = $1 AND data_type IN ('text', 'character varying', 'jsonb', 'json')`,
      [a.schema],
    );
    const analyticsHits: string[] = [];
    for (const { table_name: table, column_name: column } of columns) {
      // Task workflows not tagged with the customer (a lead's contact task) keep their mapping: a known gap (README).
      for (const v of [c.id, leadId, ...[...ids].filter((id) => !id.startsWith('task-')), ...values]) {
        const found = await a.service.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${a.schema}"."${table}" WHERE position(lower($1) in lower("${column}"::text)) > 0`,
          [v],
        );
        if (found.rows[0]!.n > 0) analyticsHits.push(`${table}.${column} holds ${v}`);
      }
    }
    expect(analyticsHits).toEqual([]);

    // The file mailbox keeps nothing of theirs.
    for (const file of await filesUnder(h.mailDir)) {
      const content = await readFile(file, 'utf8');
      for (const v of values) expect(content.includes(v), `${file} holds ${v}`).toBe(false);
    }
    expect(await h.mailbox(c.email)).toEqual([]);

    // The API answers with the erased record.
    const shown = await h.json('GET', `/v1/customers/${c.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.status).toBe('erased');
    for (const v of values) expect(JSON.stringify(shown.body)).not.toContain(v);
    const shownLead = await h.json('GET', `/v1/leads/${leadId}`);
    for (const v of values) expect(JSON.stringify(shownLead.body)).not.toContain(v);
  });
});
