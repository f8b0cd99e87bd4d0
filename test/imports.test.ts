import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, uniqueId, type Harness } from './support/harness.js';
import { CrmSource } from '../src/domain/search-attributes.js';
import { ERASURE_COVERAGE } from '../activities/gdpr.js';
import { inTransaction } from '../src/db/pool.js';
import { eraseLeadData } from '../src/db/repositories/lead-data.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('imports');
});
afterAll(async () => {
  await h?.close();
});

const HEADER = 'name,email,phone,address.street,address.postalCode,address.city,address.country';

const upload = (kind: string, body: string, type = 'text/csv', as: 'backoffice' | 'admin' | 'agent' | 'analyst' | null = 'backoffice') =>
  h.json('POST', `/v1/imports?kind=${kind}`, { as, rawBody: body, headers: { 'content-type': type } });

async function uploaded(kind: string, body: string, type = 'text/csv'): Promise<string> {
  const res = await upload(kind, body, type);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.headers.get('location')).toBe(`/v1/imports/${res.body.importId}`);
  return res.body.importId;
}

async function finished(id: string, timeoutMs = 150_000) {
  return eventually(
    async () => {
      const res = await h.json('GET', `/v1/imports/${id}`, { as: 'backoffice' });
      return ['completed', 'cancelled'].includes(res.body.status) && res.body;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

async function count(sql: string, params: unknown[]): Promise<number> {
  return Number((await h.pool.query<{ n: string }>(sql, params)).rows[0]!.n);
}

/** Every rejected row, page by page. */
async function allRejected(id: string) {
  const items: Array<{ row: number; reason: string; errors: Array<{ path: string; message: string }>; data: Record<string, string> }> = [];
  let token: string | undefined;
  do {
    const res = await h.json('GET', `/v1/imports/${id}/rejected?pageSize=300${token ? `&pageToken=${token}` : ''}`, { as: 'backoffice' });
    expect(res.status).toBe(200);
    items.push(...res.body.items);
    token = res.body.nextPageToken;
  } while (token);
  return items;
}

/** The bad rows of the big file: which field each breaks, and the cell that breaks it. */
const BAD = [
  { path: 'email', row: (n: number) => `Bad ${n},not-an-email-${n},,Hauptstr. ${n},10115,Berlin,DE` },
  { path: 'name', row: (n: number, p: string) => `,${p}.${n}@example.com,,Hauptstr. ${n},10115,Berlin,DE` },
  { path: 'address.postalCode', row: (n: number, p: string) => `Postcode ${n},${p}.${n}@example.com,,Hauptstr. ${n},ABC,Berlin,DE` },
  { path: 'phone', row: (n: number, p: string) => `Phone ${n},${p}.${n}@example.com,call me,Hauptstr. ${n},10115,Berlin,DE` },
];

describe('importing customers from CSV', () => {
  it('imports 20,000 rows with 5 % bad rows and 5 % duplicates with exact counts and a correct rejection report, and a rerun creates nothing', async () => {
    const p = uniqueId('bulk');
    // Five customers exist before the import: rows with their addresses are duplicates of the record.
    const existing: string[] = [];
    for (let i = 0; i < 5; i++) {
      const email = `${p}.existing${i}@example.com`;
      const res = await h.json('POST', '/v1/customers', { body: { name: `Existing ${i}`, email } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      existing.push(email);
    }

    const lines = [HEADER];
    const expectedBad = new Map<number, string>();
    const expectedDuplicates = new Set<number>();
    let dupOfRecord = 0;
    for (let n = 1; n <= 20_000; n++) {
      if (n % 20 === 7) {
        const bad = BAD[expectedBad.size % BAD.length]!;
        expectedBad.set(n, bad.path);
        lines.push(bad.row(n, p));
      } else if (n % 20 === 13) {
        expectedDuplicates.add(n);
        // Mostly a repeat of an earlier row of the file (in another case, with spaces), five of them a customer on record.
        const email = dupOfRecord < existing.length ? existing[dupOfRecord++]!.toUpperCase() : ` ${p}.${n - 5}@EXAMPLE.com `;
        lines.push(`Repeat ${n},${email},,Hauptstr. ${n},10115,Berlin,DE`);
      } else {
        lines.push(`Person ${n},${p}.${n}@example.com,+49 30 ${1_000_000 + n},Hauptstr. ${n},10115,Berlin,DE`);
      }
    }
    const file = `${lines.join('\n')}\n`;

    const started = performance.now();
    const id = await uploaded('customers', file);
    const done = await finished(id);
    const seconds = (performance.now() - started) / 1000;
    console.log(`[imports] 20000 customer rows in ${seconds.toFixed(1)} s: ${Math.round(20_000 / seconds)} rows/s (upload, validation, dedupe, creation)`);

    expect(done).toMatchObject({ status: 'completed', rowsTotal: 20_000, rowsDone: 20_000, created: 18_000, duplicates: 1_000, rejected: 1_000 });
    expect(await count(`SELECT count(*) AS n FROM customers WHERE email_normalized LIKE $1`, [`${p}.%`])).toBe(18_000 + 5);
    expect(await count(`SELECT count(*) AS n FROM import_rows WHERE import_id = $1 AND outcome = 'duplicate'`, [id])).toBe(1_000);
    const dupRows = await h.pool.query<{ row_number: number; reason: string }>(
      `SELECT row_number, reason FROM import_rows WHERE import_id = $1 AND outcome = 'duplicate' ORDER BY row_number`,
      [id],
    );
    expect(new Set(dupRows.rows.map((r) => r.row_number))).toEqual(expectedDuplicates);
    expect(dupRows.rows.filter((r) => r.reason.startsWith('a customer with this e-mail address exists'))).toHaveLength(5);
    expect(dupRows.rows.filter((r) => r.reason === `the same e-mail address as row ${r.row_number - 5} of this file`)).toHaveLength(995);
    // Created the way the API creates them: audited, under the import's workflow.
    expect(await count(`SELECT count(*) AS n FROM audit_log WHERE workflow_id = $1 AND field = 'email' AND process = 'import'`, [`import-${id}`])).toBe(18_000);

    // The rejection report: every bad row by its number, with the field that broke the rule.
    const rejected = await allRejected(id);
    expect(rejected.map((r) => r.row)).toEqual([...expectedBad.keys()]);
    for (const r of rejected) {
      expect(r.errors.map((e) => e.path)).toEqual([expectedBad.get(r.row)]);
      expect(r.reason.startsWith(`${expectedBad.get(r.row)}: `)).toBe(true);
    }
    expect(rejected.find((r) => r.row === 7)!.reason).toBe('email: must be a valid e-mail address');
    expect(rejected.find((r) => r.row === 47)!.reason).toBe('address.postalCode: is not a valid postcode for DE');
    expect(rejected.find((r) => r.row === 67)!.reason).toBe('phone: must be a phone number in E.164 format, e.g. +4930123456');

    // The same as CSV: the row as uploaded, its number and the reason.
    const csv = await h.request('GET', `/v1/imports/${id}/rejected.csv`, { as: 'backoffice' });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const table = parse(await csv.text(), { columns: true }) as Array<Record<string, string>>;
    expect(table).toHaveLength(1_000);
    expect(Object.keys(table[0]!)).toEqual([...HEADER.split(','), 'row', 'reason']);
    const original = parse(file, { columns: true }) as Array<Record<string, string>>;
    for (const line of table) {
      const n = Number(line.row);
      const { row: _row, reason, ...cells } = line;
      expect(cells).toEqual(original[n - 1]);
      expect(reason).toBe(rejected.find((r) => r.row === n)!.reason);
    }

    // The workflow continued as new page after page: its history stays small.
    const description = await h.client.workflow.getHandle(`import-${id}`).describe();
    expect(description.historyLength).toBeLessThan(120);
    expect(description.raw.workflowExecutionInfo?.firstRunId).not.toBe(description.runId);

    // A rerun of the same file creates nothing: every row is a duplicate or rejected again.
    const again = await upload('customers', file);
    expect(again.status).toBe(202);
    expect(again.body.sameContentAs).toEqual([id]);
    const rerun = await finished(again.body.importId);
    expect(rerun).toMatchObject({ status: 'completed', rowsDone: 20_000, created: 0, duplicates: 19_000, rejected: 1_000 });
    expect(await count(`SELECT count(*) AS n FROM customers WHERE email_normalized LIKE $1`, [`${p}.%`])).toBe(18_000 + 5);
  }, 300_000);
});

describe('importing leads from JSON lines', () => {
  it('takes leads in through their funnels with source import, deduplicated against open leads and customers, with the intake’s domain checks', async () => {
    const p = uniqueId('leads');
    const lead = (n: number, extra: Record<string, unknown> = {}) => ({ name: `Lead ${n}`, email: `${p}.${n}@example.com`, company: 'ACME', ...extra });
    const open = await h.json('POST', '/v1/leads', { body: { ...lead(100), source: 'web' } });
    expect(open.status).toBe(202);
    const customer = await h.json('POST', '/v1/customers', { body: { name: 'Customer', email: `${p}.200@example.com` } });
    expect(customer.status).toBe(201);

    const rows = [
      lead(1),
      lead(2, { companySize: '51-200', interest: 'CRM for 40 seats' }),
      lead(3, { productIds: ['no-such-product'] }),
      lead(100),
      lead(200),
      lead(4, { source: 'web' }),
      lead(5, { email: `${p}.1@Example.com` }),
      lead(6, { ownerId: h.users.agent2.id }),
    ];
    const id = await uploaded('leads', `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`, 'application/x-ndjson');
    const done = await finished(id, 60_000);
    expect(done).toMatchObject({ status: 'completed', rowsTotal: 8, created: 3, duplicates: 3, rejected: 2 });

    const rejected = await allRejected(id);
    expect(rejected.map((r) => [r.row, r.reason])).toEqual([
      [3, 'productIds: there is no product no-such-product'],
      [6, 'source: is always import for an imported lead'],
    ]);
    const outcomes = await h.pool.query<{ row_number: number; outcome: string; reason: string | null; lead_id: string | null; process_started: boolean }>(
      'SELECT row_number, outcome, reason, lead_id, process_started FROM import_rows WHERE import_id = $1 ORDER BY row_number',
      [id],
    );
    const byRow = new Map(outcomes.rows.map((r) => [r.row_number, r]));
    expect(byRow.get(4)!.reason).toBe(`an open lead with this e-mail address exists (${open.body.leadId})`);
    expect(byRow.get(5)!.reason).toBe(`a customer with this e-mail address exists (${customer.body.id})`);
    expect(byRow.get(7)!.reason).toBe('the same e-mail address as row 1 of this file');

    // Each created lead runs its funnel, which records it as intake does: source import, scored, owned.
    // (The last page's funnels start just after the import reads completed.)
    await eventually(async () => {
      const { rows: started } = await h.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM import_rows WHERE import_id = $1 AND row_number = ANY($2::int[]) AND process_started',
        [id, [1, 2, 8]],
      );
      return started[0]!.n === 3 ? true : undefined;
    });
    for (const row of [1, 2, 8]) {
      const { lead_id: leadId } = byRow.get(row)!;
      const read = await eventually(async () => {
        const res = await h.json('GET', `/v1/leads/${leadId}`);
        return res.status === 200 && res.body;
      });
      expect(read).toMatchObject({ source: 'import', stage: 'new', email: `${p}.${row === 8 ? 6 : row}@example.com` });
      const description = await h.client.workflow.getHandle(`lead-${leadId}`).describe();
      expect(description.status.name).toBe('RUNNING');
      expect(description.typedSearchAttributes.get(CrmSource)).toBe('import');
    }
    expect((await h.json('GET', `/v1/leads/${byRow.get(8)!.lead_id}`)).body.owner).toBe(h.users.agent2.id);

    // A rerun creates nothing: the leads it took in are open leads now (or about to be recorded by their funnels).
    const rerun = await finished(await uploaded('leads', `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`, 'application/x-ndjson'), 60_000);
    expect(rerun).toMatchObject({ created: 0, duplicates: 6, rejected: 2 });
  }, 120_000);
});

describe('cancelling and resuming an import', () => {
  it('stops after the current page and continues where it stopped, creating each row once', async () => {
    const p = uniqueId('cancel');
    const lines = [HEADER];
    for (let n = 1; n <= 4_000; n++) lines.push(`Person ${n},${p}.${n}@example.com,,Hauptstr. ${n},10115,Berlin,DE`);
    const id = await uploaded('customers', `${lines.join('\n')}\n`);

    const cancel = await h.json('POST', `/v1/imports/${id}/cancellation`, { as: 'admin' });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(202);
    expect(cancel.body.status).toBe('cancelling');
    const stopped = await finished(id, 60_000);
    expect(stopped.status).toBe('cancelled');
    expect(stopped.rowsDone).toBeLessThan(4_000);
    expect(stopped.rowsDone % 500).toBe(0);
    expect(stopped.cancelledBy).toBe(h.users.admin.id);
    // Stopped means stopped: nothing moves while it is cancelled.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await h.json('GET', `/v1/imports/${id}`, { as: 'admin' })).body.rowsDone).toBe(stopped.rowsDone);
    expect(await count('SELECT count(*) AS n FROM customers WHERE email_normalized LIKE $1', [`${p}.%`])).toBe(stopped.rowsDone);
    expect((await h.json('POST', `/v1/imports/${id}/cancellation`, { as: 'admin' })).status).toBe(409);

    const resume = await h.json('POST', `/v1/imports/${id}/resumption`, { as: 'backoffice' });
    expect(resume.status, JSON.stringify(resume.body)).toBe(202);
    expect(resume.body).toMatchObject({ status: 'queued', resumedBy: h.users.backoffice.id });
    const done = await finished(id, 60_000);
    expect(done).toMatchObject({ status: 'completed', rowsDone: 4_000, created: 4_000, duplicates: 0, rejected: 0 });
    expect(await count('SELECT count(*) AS n FROM customers WHERE email_normalized LIKE $1', [`${p}.%`])).toBe(4_000);

    expect((await h.json('POST', `/v1/imports/${id}/resumption`, { as: 'backoffice' })).status).toBe(409);
    expect((await h.json('POST', `/v1/imports/${id}/cancellation`, { as: 'backoffice' })).status).toBe(409);

    const list = await h.json('GET', '/v1/imports?kind=customers&status=completed&pageSize=100', { as: 'backoffice' });
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { id: string }) => i.id)).toContain(id);
  }, 120_000);
});

describe('what the import endpoints refuse', () => {
  const small = `${HEADER}\nAda,ada.refused@example.com,,,,,\n`;

  it('answers 4xx naming the problem for every bad upload', async () => {
    const problem = async (res: Promise<{ status: number; body: any; headers: Headers }>, status: number, detail: RegExp) => {
      const r = await res;
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body.detail).toMatch(detail);
      return r.body;
    };
    await problem(upload('customers', ''), 400, /empty/);
    await problem(upload('customers', '   \n'), 400, /empty/);
    await problem(upload('customers', `${HEADER}\n`), 400, /no rows/);
    await problem(upload('customers', small, 'application/json'), 415, /text\/csv or application\/x-ndjson/);
    await problem(upload('customers', small, 'text/plain'), 415, /text\/plain/);
    const kind = await problem(upload('orders', small), 400, /query\.kind/);
    expect(kind.errors[0].path).toBe('query.kind');
    await problem(h.json('POST', '/v1/imports', { as: 'backoffice', rawBody: small, headers: { 'content-type': 'text/csv' } }), 400, /query\.kind/);
    await problem(upload('customers', 'name,email,shoeSize\nAda,ada@example.com,42\n'), 400, /unknown column shoeSize/);
    await problem(upload('customers', 'name,phone\nAda,+49 30 1234567\n'), 400, /no email column/);
    await problem(upload('customers', 'name,email\nAda,ada@example.com,extra\n'), 400, /not a CSV file/);
    await problem(upload('leads', `${HEADER}\n`), 400, /unknown columns address/);
    await problem(upload('customers', '{"name":"Ada","email":"ada@example.com"}\nnot json\n', 'application/x-ndjson'), 400, /line 2 is not JSON/);
    await problem(upload('customers', '[1,2]\n', 'application/x-ndjson'), 400, /line 1 is not a JSON object/);
    await problem(upload('customers', `${HEADER}\n${'x'.repeat(17 * 1024 * 1024)}\n`), 413, /larger than/);
    const many = [HEADER, ...Array.from({ length: 50_001 }, (_, n) => `P,p${n}@x.io,,,,,`)].join('\n');
    await problem(upload('customers', many), 413, /at most 50000/);
  });

  it('lets only backoffice and admin import, and answers 4xx for unknown or malformed ids', async () => {
    expect((await upload('customers', small, 'text/csv', 'agent')).status).toBe(403);
    expect((await upload('customers', small, 'text/csv', 'analyst')).status).toBe(403);
    expect((await upload('customers', small, 'text/csv', null)).status).toBe(401);
    expect((await h.json('GET', '/v1/imports', { as: 'agent' })).status).toBe(403);
    const unknown = crypto.randomUUID();
    for (const path of [`/v1/imports/${unknown}`, `/v1/imports/${unknown}/rejected`, `/v1/imports/${unknown}/rejected.csv`]) {
      expect((await h.json('GET', path, { as: 'admin' })).status, path).toBe(404);
    }
    for (const path of [`/v1/imports/${unknown}/cancellation`, `/v1/imports/${unknown}/resumption`]) {
      expect((await h.json('POST', path, { as: 'admin' })).status, path).toBe(404);
    }
    const bad = await h.json('GET', '/v1/imports/not-a-uuid', { as: 'admin' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('path.id');
    expect((await h.json('GET', '/v1/imports?pageToken=forged', { as: 'admin' })).status).toBe(400);
    expect((await h.json('GET', '/v1/imports?status=lost', { as: 'admin' })).status).toBe(400);

    const id = await uploaded('customers', small);
    expect((await h.json('GET', `/v1/imports/${id}/rejected?pageToken=forged`, { as: 'admin' })).status).toBe(400);
    expect((await h.json('GET', `/v1/imports/${id}/rejected?pageSize=0`, { as: 'admin' })).status).toBe(400);
    await finished(id, 30_000);
  });
});

describe('erasure of imported rows', () => {
  it("scrubs a customer's rows (created, duplicate or rejected) and a lead's rows of no customer, keeping the outcome", async () => {
    const p = uniqueId('erase');
    const file = `${HEADER}\nAda,${p}.ada@example.com,,,,,\nAda again,${p.toUpperCase()}.ADA@example.com,,,,,\nGrace,${p}.grace@example.com,,,,,\n`;
    const id = await uploaded('customers', file);
    expect(await finished(id, 30_000)).toMatchObject({ created: 2, duplicates: 1 });
    const leads = await uploaded('leads', `${JSON.stringify({ name: 'Lin', email: `${p}.lin@example.com`, productIds: ['nope'] })}\n`, 'application/x-ndjson');
    expect(await finished(leads, 30_000)).toMatchObject({ rejected: 1 });

    const ada = (await h.pool.query<{ id: string }>('SELECT id FROM customers WHERE email_normalized = $1', [`${p}.ada@example.com`])).rows[0]!.id;
    const step = ERASURE_COVERAGE.import_rows;
    if (typeof step !== 'function') throw new Error('import_rows must be anonymised by the erasure');
    expect(await inTransaction(h.pool, (db) => step(db, { id: ada, emailNormalized: `${p}.ada@example.com` }))).toBe(2);
    const rows = await h.pool.query<{ row_number: number; data: object; email_normalized: string | null; outcome: string }>(
      'SELECT row_number, data, email_normalized, outcome FROM import_rows WHERE import_id = $1 ORDER BY row_number',
      [id],
    );
    expect(rows.rows.map((r) => [r.row_number, r.outcome, r.data, r.email_normalized])).toEqual([
      [1, 'created', {}, null],
      [2, 'duplicate', {}, null],
      [
        3,
        'created',
        {
          name: 'Grace',
          email: `${p}.grace@example.com`,
          phone: '',
          'address.street': '',
          'address.postalCode': '',
          'address.city': '',
          'address.country': '',
        },
        `${p}.grace@example.com`,
      ],
    ]);

    const erased = await inTransaction(h.pool, (db) => eraseLeadData(db, `${p}.lin@example.com`, 'erased'));
    expect(erased.import_rows).toBe(1);
    const lin = await h.pool.query<{ data: object; outcome: string }>('SELECT data, outcome FROM import_rows WHERE import_id = $1', [leads]);
    expect(lin.rows).toEqual([{ data: {}, outcome: 'rejected' }]);
  }, 60_000);
});
