/**
 * What the master-data and GDPR tests share: registering a customer, reading codes from the
 * mailbox as a person would, waiting for a change to reach a status, and scanning workflow
 * histories for values that must never be there in clear.
 */
import { expect } from 'vitest';
import { temporal } from '@temporalio/proto';
import { eventually, uniqueId, type Harness } from './harness.js';
import { DEFAULT_MASTER_DATA_POLICY, durationMs, type MasterDataPolicy } from '../../src/domain/master-data.js';

export interface TestCustomer {
  id: string;
  name: string;
  email: string;
  phone: string;
}

export async function registerCustomer(h: Harness, overrides: Record<string, unknown> = {}): Promise<TestCustomer> {
  const tag = uniqueId('c').slice(2);
  const body = {
    name: `Jane ${tag} Doe`,
    email: `jane.${tag}@example.com`,
    phone: `+4930${String(parseInt(tag, 16) % 10_000_000).padStart(7, '0')}`,
    address: { street: `Hauptstr. ${parseInt(tag.slice(0, 3), 16)}`, postalCode: '10115', city: 'Berlin', country: 'DE' },
    locale: 'de-DE',
    ...overrides,
  };
  const res = await h.json('POST', '/v1/customers', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id, name: body.name, email: body.email, phone: body.phone };
}

type Mail = Awaited<ReturnType<Harness['mailbox']>>[number] & { deliveredAt?: string };

/** Messages of a template that reached a recipient, oldest first. */
export async function mails(h: Harness, recipient: string, template: string): Promise<Mail[]> {
  const all = (await h.mailbox(recipient)) as Mail[];
  return all.filter((m) => m.template === template).sort((a, b) => String(a.deliveredAt).localeCompare(String(b.deliveredAt)));
}

export async function waitForMail(h: Harness, recipient: string, template: string, count = 1): Promise<Mail[]> {
  return eventually(async () => {
    const found = await mails(h, recipient, template);
    return found.length >= count ? found : undefined;
  });
}

/** The code of the `n`-th code message to a recipient (1-based), read as the person reads it. */
export async function codeFor(h: Harness, recipient: string, n = 1): Promise<string> {
  const messages = await waitForMail(h, recipient, 'verification-code', n);
  const match = /\b(\d{6})\b/.exec(messages[n - 1]!.text);
  if (!match) throw new Error('no code in the message');
  return match[1]!;
}

/** The path of the link in the `n`-th message of a template to a recipient (1-based), read as the person reads it. */
export async function linkFor(h: Harness, recipient: string, template: string, n = 1): Promise<string> {
  const messages = await waitForMail(h, recipient, template, n);
  const match = /(\/links\/[a-z-]+\/[A-Za-z0-9_-]{32})\b/.exec(messages[n - 1]!.text);
  if (!match) throw new Error(`no link in the ${template} message`);
  return match[1]!;
}

/** The customer fetches their export through the link in the "ready" message (no key). */
export async function fetchExportByLink(h: Harness, recipient: string, n = 1) {
  return h.json('GET', await linkFor(h, recipient, 'gdpr-export-ready', n), { as: null });
}

/** Confirms a change of e-mail or phone from the contact point on record too (its `n`-th code), as the customer would. */
export async function confirmFromOldContact(h: Harness, changeId: string, oldRecipient: string, n = 1): Promise<void> {
  const res = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: await codeFor(h, oldRecipient, n) } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

export async function waitForChange(h: Harness, changeId: string, status: string | string[], timeoutMs = 20_000): Promise<any> {
  const wanted = Array.isArray(status) ? status : [status];
  let last: unknown;
  try {
    return await eventually(
      async () => {
        const res = await h.json('GET', `/v1/changes/${changeId}`);
        last = res.body;
        return res.status === 200 && wanted.includes(res.body.status) ? res.body : undefined;
      },
      { timeoutMs },
    );
  } catch (err) {
    throw new Error(`change ${changeId} did not reach ${wanted.join('|')}: ${JSON.stringify(last)}`, { cause: err });
  }
}

export async function waitForGdpr(h: Harness, requestId: string, status: string, timeoutMs = 20_000): Promise<any> {
  let last: unknown;
  try {
    return await eventually(
      async () => {
        const res = await h.json('GET', `/v1/gdpr-requests/${requestId}`);
        last = res.body;
        return res.status === 200 && res.body.status === status ? res.body : undefined;
      },
      { timeoutMs },
    );
  } catch (err) {
    throw new Error(`request ${requestId} did not reach ${status}: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** Every workflow that ran for these customers: by search attribute where visibility answers, else by known ids. */
export async function workflowIdsOf(h: Harness, customerIds: string[], extra: string[] = []): Promise<string[]> {
  const ids = new Set(extra);
  for (const id of customerIds) {
    ids.add(`master-data-${id}`);
    // Every other process of the customer too (registration, onboarding, ...), where visibility answers.
    try {
      for await (const wf of h.client.workflow.list({ query: `CrmCustomerId = '${id}'` })) ids.add(wf.workflowId);
    } catch {
      // the time-skipping server has no visibility queries
    }
  }
  const { rows } = await h.pool.query<{ id: string }>('SELECT id FROM notification_outbox WHERE customer_id = ANY($1)', [customerIds]);
  for (const r of rows) ids.add(`notify-${r.id}`);
  return [...ids];
}

/** A workflow's full history as Temporal stores it, or undefined when Temporal has no such workflow. */
export async function historyIfAny(h: Harness, workflowId: string) {
  try {
    return await h.client.workflow.getHandle(workflowId).fetchHistory();
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError' || (err as { code?: number }).code === 5) return undefined;
    throw err;
  }
}

/**
 * Fetches each workflow's full history as Temporal stores it and looks for each secret's bytes.
 * Returns the hits as "workflowId: secret"; the payload codec should make this empty.
 */
export async function secretsInHistories(h: Harness, workflowIds: string[], secrets: string[]): Promise<string[]> {
  const hits: string[] = [];
  let scanned = 0;
  for (const workflowId of workflowIds) {
    // Not every customer had a change: no workflow, nothing to scan.
    const history = await historyIfAny(h, workflowId);
    if (!history) continue;
    scanned += 1;
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    for (const secret of secrets) {
      if (bytes.includes(Buffer.from(secret, 'utf8'))) hits.push(`${workflowId}: ${secret}`);
    }
  }
  expect(scanned, 'no history was scanned').toBeGreaterThan(0);
  return hits;
}

/** Every row of every text-like column of every table in the test's schema that contains a value. */
export async function personalValuesInTables(h: Harness, values: string[]): Promise<string[]> {
  const { rows: columns } = await h.pool.query<{ table_name: string; column_name: string }>(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
     WHERE c.table_schema = $1 AND (c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json') OR c.data_type = 'ARRAY')`,
    [h.schema],
  );
  expect(columns.length).toBeGreaterThan(10);
  const hits: string[] = [];
  for (const { table_name: table, column_name: column } of columns) {
    for (const value of values) {
      const { rows } = await h.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${h.schema}"."${table}" WHERE position(lower($1) in lower("${column}"::text)) > 0`,
        [value],
      );
      if (Number(rows[0]!.n) > 0) hits.push(`${table}.${column} holds ${value}`);
    }
  }
  return hits;
}

/**
 * Registers customers and reads codes as the tests do, remembering every value that must never
 * appear in clear in a workflow history (the history scan at the end of a file checks them).
 */
export function trackSecrets(harness: () => Harness) {
  const secrets = new Set<string>();
  const customers: TestCustomer[] = [];
  return {
    secrets,
    customers,
    async customer(overrides: Record<string, unknown> = {}): Promise<TestCustomer> {
      const c = await registerCustomer(harness(), overrides);
      customers.push(c);
      for (const s of [c.email, c.phone, c.name]) secrets.add(s);
      return c;
    },
    async code(recipient: string, n = 1): Promise<string> {
      const c = await codeFor(harness(), recipient, n);
      secrets.add(c);
      return c;
    },
  };
}

/**
 * The policy of the tests that wait (master-data-timers, gdpr-timers): sized so that a loaded
 * 2-core CI machine still acts inside each window the tests act in (confirm before expiry, approve
 * before the approval expires, fetch and cancel in time).
 */
export const TIMER_POLICY: MasterDataPolicy = {
  ...DEFAULT_MASTER_DATA_POLICY,
  codeTtl: '12 seconds',
  resendInterval: '5 seconds',
  approvalTimeout: '4 seconds',
  approvalExpiry: '20 seconds',
  exportRetention: '15 seconds',
  erasureGracePeriod: '12 seconds',
};

/** Waits past a policy duration by polling for its effect, never longer than needed. */
export const within = (duration: string) => ({ timeoutMs: durationMs(duration) + 15_000, intervalMs: 200 });
