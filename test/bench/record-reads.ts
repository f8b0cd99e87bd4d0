/**
 * `npx tsx test/bench/record-reads.ts`: latency of the record reads on this machine, on a fresh
 * Temporal dev server and embedded PostgreSQL.
 *   1. GET /v1/leads/{id} over open and closed (lost) leads, the worker running;
 *   2. GET /v1/customers?q=… (name, e-mail, phone, postcode, customer number) over 10,000 customers.
 * Printed as p50/p95 in ms. Where an endpoint does not exist (older code) the script says so.
 *   BENCH_LEADS (default 40), BENCH_READS (default 400), BENCH_CUSTOMERS (default 10000),
 *   BENCH_SEARCHES (default 400), BENCH_WITHOUT_SEARCH_INDEXES=1: drop the search indexes first
 *   (the same search, answered by sequential scans).
 */
import os from 'node:os';
import { percentile, startBenchStack } from './stack.js';

const LEADS = Number(process.env.BENCH_LEADS ?? 40);
const READS = Number(process.env.BENCH_READS ?? 400);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 10_000);
const SEARCHES = Number(process.env.BENCH_SEARCHES ?? 400);
const WITHOUT_INDEXES = process.env.BENCH_WITHOUT_SEARCH_INDEXES === '1';

const figures = (xs: number[]) =>
  xs.length ? `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms (${xs.length} requests)` : 'no requests';

const stack = await startBenchStack({ taskQueue: 'bench-reads', poolMax: 10, resultWaitMs: 60_000 });
try {
  const { pool, client, api, key } = stack;
  const call = async (method: string, url: string, body?: unknown) => {
    const res = await api.request(url, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const timed = async (url: string) => {
    const s = performance.now();
    const res = await call('GET', url);
    return { ms: performance.now() - s, res };
  };

  // 1. Leads: half stay open (contacted), half are lost; every one is read in turn.
  const open: string[] = [];
  const closed: string[] = [];
  for (let i = 0; i < LEADS; i++) {
    const intake = await call('POST', '/v1/leads', {
      name: `Bench Lead ${i}`,
      email: `bench-lead-${i}@example.com`,
      company: 'Bench Ltd',
      source: 'web',
    });
    if (intake.status !== 202) throw new Error(`intake ${i} answered ${intake.status}: ${JSON.stringify(intake.body)}`);
    const id = intake.body.leadId as string;
    await call('POST', `/v1/leads/${id}/transitions`, { to: 'contacted' });
    if (i % 2 === 0) {
      open.push(id);
    } else {
      const lost = await call('POST', `/v1/leads/${id}/transitions`, { to: 'lost', reason: 'bench' });
      if (lost.status !== 200) throw new Error(`lost ${i} answered ${lost.status}: ${JSON.stringify(lost.body)}`);
      closed.push(id);
    }
  }
  // Closed funnels are read after they have left the worker's cache, as a read days later would be.
  for (const id of closed) await client.workflow.getHandle(`lead-${id}`).result();
  const openMs: number[] = [];
  const closedMs: number[] = [];
  for (let i = 0; i < READS; i++) {
    const id = i % 2 === 0 ? open[(i / 2) % open.length]! : closed[((i - 1) / 2) % closed.length]!;
    const { ms, res } = await timed(`/v1/leads/${id}`);
    if (res.status !== 200) throw new Error(`GET /v1/leads/${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
    (i % 2 === 0 ? openMs : closedMs).push(ms);
  }

  // 2. Customers: inserted directly (registration's path is not what is measured here).
  await pool.query(
    `INSERT INTO customers (id, name, email, email_normalized, phone, address, locale, created_by, created_at)
     SELECT gen_random_uuid(), n.first || ' ' || n.last || ' ' || i, lower(n.first) || '.' || i || '@bench.example', lower(n.first) || '.' || i || '@bench.example',
            '+4930' || lpad(i::text, 7, '0'),
            jsonb_build_object('street', 'Benchstr. ' || i, 'postalCode', lpad((10000 + i % 89999)::text, 5, '0'), 'city', 'Berlin', 'country', 'DE'),
            'de', 'bench', now() - i * interval '1 minute'
     FROM generate_series(1, $1::int) AS i,
          LATERAL (SELECT (ARRAY['Anna','Ben','Clara','David','Eva','Felix','Greta','Hans'])[1 + i % 8] AS first,
                          (ARRAY['Schmidt','Meyer','Weber','Wagner','Becker','Hoffmann','Koch','Richter','Klein','Wolf'])[1 + i % 10] AS last) n`,
    [CUSTOMERS],
  );
  if (WITHOUT_INDEXES) {
    const { rows } = await pool.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'customers' AND indexname NOT IN ('customers_pkey', 'customers_email_normalized_key') AND indexdef NOT LIKE '%UNIQUE%'`,
    );
    for (const r of rows) await pool.query(`DROP INDEX ${r.indexname}`);
  }
  await pool.query('ANALYZE customers');
  const searches = (i: number) => {
    const n = 1 + ((i * 7919) % CUSTOMERS);
    switch (i % 5) {
      case 0:
        return `q=${encodeURIComponent(['Schmidt', 'Wagner', 'Klein'][i % 3]!)}&pageSize=20`;
      case 1:
        return `q=${encodeURIComponent(`.${n}@bench.example`)}`;
      case 2:
        return `q=${encodeURIComponent(`+4930${String(n).padStart(7, '0')}`)}`;
      case 3:
        return `q=${String(10000 + (n % 89999)).padStart(5, '0')}`;
      default:
        return `q=${encodeURIComponent(`Anna Schmidt ${n - (n % 40)}`)}`;
    }
  };
  const probe = await call('GET', `/v1/customers?${searches(0)}`);
  const searchMs: number[] = [];
  let hits = 0;
  if (probe.status === 200) {
    for (let i = 0; i < SEARCHES; i++) {
      const { ms, res } = await timed(`/v1/customers?${searches(i)}`);
      if (res.status !== 200) throw new Error(`GET /v1/customers?${searches(i)} answered ${res.status}: ${JSON.stringify(res.body)}`);
      hits += res.body.items.length;
      searchMs.push(ms);
    }
  }

  console.log(`
Record reads (${os.cpus().length} cores, Node ${process.version})
  GET /v1/leads/{id}         ${LEADS} leads, half open, half lost; worker running
    open leads               ${figures(openMs)}
    closed leads             ${figures(closedMs)}
    all                      ${figures([...openMs, ...closedMs])}
  GET /v1/customers?q=…      ${CUSTOMERS} customers${WITHOUT_INDEXES ? ', search indexes dropped' : ''}
    search                   ${probe.status === 200 ? `${figures(searchMs)}, ${(hits / SEARCHES).toFixed(1)} hits per search` : `no such endpoint (HTTP ${probe.status})`}
`);
} finally {
  await stack.stop();
}
