/**
 * The fault suite's tools: a topology (what runs, how to hurt each part), clients that register
 * customers with Idempotency-Keys and retry as a real client would, and the exactly-once count of
 * every effect of a registration (the customer row, the welcome message in the outbox, its file in
 * the mailbox). Each fault prints its figures; the suite prints a table at the end.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { mailboxFolder } from '../../src/notifications/transport.js';
import { registrationWorkflowId } from '../../src/domain/customers.js';

export interface Topology {
  name: string;
  /** API base URLs; clients start on the first and move to the next when one does not answer. */
  apis: string[];
  agentKey: string;
  pool: pg.Pool;
  analyticsPool: pg.Pool;
  analyticsUrl: string;
  mailbox: string;
  /** The operational workers' process ids (the ones a fault may stop or kill). */
  workerPids(): number[];
  /** The process ids that run the Temporal server (the dev server, or the cluster's services). */
  temporalPids(): number[];
  postgresPid(): number;
  analyticsPid(): number;
  /** The API process the API fault kills: it serves apis[0]. */
  apiPid(): number;
  /** Processes to freeze while the burst of the worker fault is queued (every worker, and what holds them). */
  freezeForBurst(): number[];
  close(): Promise<void>;
}

export interface FaultFigures {
  topology: string;
  fault: string;
  inFlight: number;
  exactlyOnce: number;
  total: number;
  outageSeconds: number;
  recoverySeconds: number;
  note?: string;
}

export const figures: FaultFigures[] = [];

/** Resumes whatever a fault left stopped (a failed or interrupted fault). */
export function resumeAll(): void {
  signal([...frozen], 'SIGCONT');
}

export function record(f: FaultFigures): void {
  figures.push(f);
  process.stdout.write(
    `[faults] ${f.topology} / ${f.fault}: in flight ${f.inFlight}, exactly once ${f.exactlyOnce} of ${f.total}, outage ${f.outageSeconds.toFixed(1)} s, recovery ${f.recoverySeconds.toFixed(1)} s${f.note ? ` (${f.note})` : ''}\n`,
  );
}

export function printTable(topology: string, startedAt: number): void {
  const rows = figures.filter((f) => f.topology === topology);
  const lines = [
    `[faults] ${topology}: suite took ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
    '  fault                         in flight  exactly once  outage s  recovery s',
    ...rows.map(
      (f) =>
        `  ${f.fault.padEnd(29)} ${String(f.inFlight).padStart(9)}  ${`${f.exactlyOnce}/${f.total}`.padStart(12)}  ${f.outageSeconds.toFixed(1).padStart(8)}  ${f.recoverySeconds.toFixed(1).padStart(10)}`,
    ),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const seconds = (from: number, to = Date.now()) => (to - from) / 1000;

export async function until<T>(probe: () => Promise<T | false | undefined>, what: string, timeoutMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** Process ids under `pid` (children, grandchildren), from /proc. */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Process ids whose command line contains `command` and whose environment contains `envEntry` (NAME=value). */
export function pidsWith(command: string, envEntry?: string): number[] {
  const found: number[] = [];
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
      if (!cmd.includes(command)) continue;
      if (envEntry && !readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(envEntry)) continue;
      found.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes this run stopped (SIGSTOP) and has not resumed: resumed at exit whatever happens. */
const frozen = new Set<number>();
process.once('exit', () => signal([...frozen], 'SIGCONT'));

/**
 * SIGSTOPs `root` and all its descendants, scanning again until no new one appears (a process
 * can fork between the scan and its stop); the pids stopped, to SIGCONT later.
 */
export function freezeTree(root: number): number[] {
  const stopped = new Set<number>();
  for (let round = 0; round < 10; round++) {
    const fresh = [root, ...descendants(root)].filter((p) => !stopped.has(p));
    if (fresh.length === 0) break;
    signal(fresh, 'SIGSTOP');
    for (const p of fresh) stopped.add(p);
  }
  return [...stopped];
}

export function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    if (sig === 'SIGSTOP') frozen.add(pid);
    if (sig === 'SIGCONT' || sig === 'SIGKILL') frozen.delete(pid);
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

export interface Registration {
  key: string;
  email: string;
  status?: number;
  customerId?: string;
  attempts: number;
}

/** Registrations of this fault: unique e-mails and keys, so counts never see another fault's. */
export function registrations(tag: string, n: number): Registration[] {
  const run = `${tag}-${Date.now().toString(36)}`;
  return Array.from({ length: n }, (_, i) => ({ key: `${run}-${i}`, email: `${run}-${i}@faults.example.com`, attempts: 0 }));
}

/**
 * Registers each customer as a careful client does: the same Idempotency-Key on every try; a 202
 * "pending" is asked again, a refused connection, timeout or 5xx moves to the next API. Stops at
 * the first answer that is final (201), or at `deadline`.
 */
export async function register(t: Topology, regs: Registration[], opts: { concurrency: number; deadline: number; firstAnswerOnly?: boolean }): Promise<void> {
  let next = 0;
  const one = async (r: Registration) => {
    let api = 0;
    while (Date.now() < opts.deadline) {
      r.attempts++;
      try {
        const res = await fetch(`${t.apis[api % t.apis.length]}/v1/customers`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t.agentKey}`, 'content-type': 'application/json', 'idempotency-key': r.key },
          body: JSON.stringify({ name: 'Fault Tester', email: r.email }),
          signal: AbortSignal.timeout(20_000),
        });
        const body = (await res.json().catch(() => ({}))) as { id?: string; status?: string };
        r.status = res.status;
        if (res.status === 201) {
          r.customerId = body.id;
          return;
        }
        if (res.status === 202 && opts.firstAnswerOnly) return;
        if (res.status >= 500 || res.status === 429) api++;
        else if (res.status !== 202 && res.status !== 409) throw new Error(`registration ${r.key}: HTTP ${res.status} ${JSON.stringify(body)}`);
      } catch (err) {
        if ((err as Error).message.startsWith('registration ')) throw err;
        api++; // refused, reset or timed out: the next API
      }
      await sleep(500);
    }
  };
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < regs.length) await one(regs[next++]!);
    }),
  );
}

export interface Effects {
  customers: number;
  welcomeQueued: number;
  welcomeSent: number;
  mailboxFiles: number;
  /** The event outbox's `customer.registered` rows for this customer (webhook_events, migration 0016). */
  events: number;
}

/** The effects of each registration, by e-mail. */
export async function effects(t: Topology, regs: Registration[]): Promise<Map<string, Effects>> {
  const emails = regs.map((r) => r.email);
  const { rows } = await t.pool.query<{
    email: string;
    customers: string;
    queued: string;
    sent: string;
    customer_ids: string[];
    message_ids: Array<string | null>;
  }>(
    `SELECT c.email, count(DISTINCT c.id) AS customers, count(o.id) AS queued, count(o.sent_at) AS sent, array_agg(DISTINCT c.id) AS customer_ids,
            array_agg(o.id) AS message_ids
       FROM customers c LEFT JOIN notification_outbox o ON o.customer_id = c.id AND o.template = 'welcome'
      WHERE c.email = ANY($1) GROUP BY c.email`,
    [emails],
  );
  // The event outbox: every registration commits one `customer.registered` event with its customer.
  const eventCounts = new Map<string, number>();
  const ids = rows.flatMap((r) => r.customer_ids);
  const { rows: ev } = await t.pool.query<{ customer_id: string; n: string }>(
    `SELECT customer_id::text, count(*) AS n FROM webhook_events WHERE customer_id::text = ANY($1) AND type = 'customer.registered' GROUP BY 1`,
    [ids],
  );
  for (const e of ev) eventCounts.set(e.customer_id, Number(e.n));
  const out = new Map<string, Effects>();
  for (const r of regs) {
    const row = rows.find((x) => x.email === r.email);
    // The file transport names each file by the outbox message's id: the welcome message's file.
    let files: number;
    try {
      const welcome = new Set((row?.message_ids ?? []).filter(Boolean).map((id) => `${id}.json`));
      files = readdirSync(path.join(t.mailbox, mailboxFolder(r.email))).filter((f) => welcome.has(f)).length;
    } catch {
      files = 0;
    }
    out.set(r.email, {
      customers: Number(row?.customers ?? 0),
      welcomeQueued: Number(row?.queued ?? 0),
      welcomeSent: Number(row?.sent ?? 0),
      mailboxFiles: files,
      events: row ? (eventCounts.get(row.customer_ids[0]!) ?? 0) : 0,
    });
  }
  return out;
}

export const done = (e: Effects) => e.customers === 1 && e.welcomeQueued === 1 && e.welcomeSent === 1 && e.mailboxFiles === 1 && e.events === 1;
export const doubled = (e: Effects) => e.customers > 1 || e.welcomeQueued > 1 || e.mailboxFiles > 1 || e.events > 1;

/** How many registrations have all their effects, and none twice. */
export async function countDone(t: Topology, regs: Registration[]): Promise<{ done: number; doubled: number }> {
  const all = [...(await effects(t, regs)).values()];
  return { done: all.filter(done).length, doubled: all.filter(doubled).length };
}

/** Waits until every registration's effects are there exactly once; returns when. */
export async function allExactlyOnce(t: Topology, regs: Registration[], timeoutMs: number): Promise<number> {
  await until(
    async () => (await countDone(t, regs)).done === regs.length,
    `not every one of ${regs.length} registrations finished exactly once`,
    timeoutMs,
    1_000,
  );
  return Date.now();
}

/**
 * The end of every fault: waits until each registration's effects are there exactly once, checks
 * none is doubled, and records the fault's figures (recovery counted from `recoveredFrom`).
 */
export async function settle(
  t: Topology,
  regs: Registration[],
  timeoutMs: number,
  f: Omit<FaultFigures, 'exactlyOnce' | 'total' | 'recoverySeconds'> & { recoveredFrom: number },
): Promise<FaultFigures> {
  const finishedAt = await allExactlyOnce(t, regs, timeoutMs);
  const after = await countDone(t, regs);
  if (after.doubled !== 0) throw new Error(`${f.fault}: ${after.doubled} registrations have an effect twice`);
  const { recoveredFrom, ...rest } = f;
  const figures = { ...rest, exactlyOnce: after.done, total: regs.length, recoverySeconds: seconds(recoveredFrom, finishedAt) };
  record(figures);
  return figures;
}

export async function readyStatus(url: string): Promise<number> {
  return fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.status,
    () => 0,
  );
}

/** The analytics store's runs of these registrations' workflows. */
export async function ingested(t: Topology, regs: Registration[]): Promise<number> {
  // Analytics keeps workflow ids as pseudonyms (issue 14); the mapping to the real id is its own.
  const { rows } = await t.analyticsPool.query<{ n: string }>(
    'SELECT count(DISTINCT p.real_id) AS n FROM process_runs r JOIN pseudonyms p ON p.pseudonym = r.workflow_id WHERE p.real_id = ANY($1)',
    [regs.map((r) => registrationWorkflowId(r.key))],
  );
  return Number(rows[0]!.n);
}
