/**
 * The five faults, the same for every topology: each hurts one part while customers register, then
 * counts every registration's effects (exactly once) and prints in flight, exactly once, outage and
 * recovery.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  alive,
  allExactlyOnce,
  settle,
  countDone,
  descendants,
  freezeTree,
  ingested,
  printTable,
  readyStatus,
  record,
  register,
  registrations,
  resumeAll,
  seconds,
  signal,
  sleep,
  until,
  type Topology,
} from './support.js';

const RECOVERY_MS = 8 * 60_000;
/** How long PostgreSQL is stopped, and analytics. */
const PG_OUTAGE_MS = 30_000;
const ANALYTICS_OUTAGE_MS = Number(process.env.FAULTS_ANALYTICS_OUTAGE_MS ?? 90_000);

export function faultSuite(name: string, start: () => Promise<Topology>): void {
  let t: Topology;
  const startedAt = Date.now();
  beforeAll(async () => {
    t = await start();
  }, 900_000);
  afterAll(async () => {
    printTable(name, startedAt);
    resumeAll();
    await t?.close();
  }, 120_000);

  it('SIGKILL of one worker with 200+ processes in flight: the other finishes them, every effect exactly once', async () => {
    const regs = registrations('worker', 240);
    // Queue the whole burst with the workers frozen, so that it is all in flight when one dies.
    const frozen = t.freezeForBurst();
    signal(frozen, 'SIGSTOP');
    try {
      await register(t, regs, { concurrency: 120, deadline: Date.now() + 180_000, firstAnswerOnly: true });
    } finally {
      signal(frozen, 'SIGCONT');
    }
    const unanswered = regs.filter((r) => r.status !== 202 && r.status !== 201);
    expect(unanswered.map((r) => `${r.key}: ${r.status}`)).toEqual([]);
    await sleep(2_000); // the workers take tasks
    const [victim] = t.workerPids();
    const before = await countDone(t, regs);
    const inFlight = regs.length - before.done;
    signal([victim!, ...descendants(victim!)], 'SIGKILL');
    const killedAt = Date.now();
    process.stdout.write(`[faults] ${name} / worker SIGKILL: pid ${victim} killed with ${inFlight} of ${regs.length} in flight\n`);
    // Clients without a final answer ask again until they have one.
    await register(
      t,
      regs.filter((r) => r.status !== 201),
      { concurrency: 60, deadline: Date.now() + RECOVERY_MS },
    );
    await settle(t, regs, RECOVERY_MS, {
      topology: name,
      fault: 'worker SIGKILL',
      inFlight,
      outageSeconds: 0,
      recoveredFrom: killedAt,
      note: `worker pid ${victim} killed`,
    });
    expect(new Set(regs.map((r) => r.customerId)).size).toBe(regs.length);
  }, 900_000);

  it('PostgreSQL stopped for 30 s: /readyz 503, activities retry, nothing lost or doubled', async () => {
    const regs = registrations('pg', 40);
    const clients = register(t, regs, { concurrency: 10, deadline: Date.now() + RECOVERY_MS });
    await sleep(3_000);
    const inFlight = regs.length - (await countDone(t, regs)).done;
    // The postmaster and every backend as they are now: a backend forked for a connection opened
    // since would otherwise keep answering its client through the "outage".
    const pgPids = freezeTree(t.postgresPid());
    const stoppedAt = Date.now();
    let notReady: number;
    try {
      await until(async () => (await readyStatus(t.apis[0]!)) === 503, 'the API did not say 503 on /readyz with PostgreSQL stopped', 20_000);
      notReady = await readyStatus(t.apis[0]!);
      await sleep(Math.max(0, PG_OUTAGE_MS - (Date.now() - stoppedAt)));
    } finally {
      signal(pgPids, 'SIGCONT');
    }
    const resumedAt = Date.now();
    expect(notReady).toBe(503);
    await until(async () => (await readyStatus(t.apis[0]!)) === 200, 'the API did not get ready again', 120_000);
    await clients;
    await settle(t, regs, RECOVERY_MS, {
      topology: name,
      fault: 'PostgreSQL stopped 30 s',
      inFlight,
      outageSeconds: seconds(stoppedAt, resumedAt),
      recoveredFrom: resumedAt,
    });
  }, 900_000);

  it('the Temporal server killed and restarted: processes resume, every effect exactly once', async () => {
    const regs = registrations('temporal', 60);
    const clients = register(t, regs, { concurrency: 20, deadline: Date.now() + RECOVERY_MS });
    await sleep(4_000);
    const inFlight = regs.length - (await countDone(t, regs)).done;
    const victims = t.temporalPids();
    expect(victims.length).toBeGreaterThan(0);
    signal(victims, 'SIGKILL');
    const killedAt = Date.now();
    // The stack's supervisor starts it again; the API is ready once the frontend answers.
    await until(
      async () => victims.every((p) => !alive(p)) && t.temporalPids().length === victims.length && (await readyStatus(t.apis[0]!)) === 200,
      'the Temporal server was not restarted',
      180_000,
    );
    const backAt = Date.now();
    await clients;
    await settle(t, regs, RECOVERY_MS, {
      topology: name,
      fault: 'Temporal server SIGKILL',
      inFlight,
      outageSeconds: seconds(killedAt, backAt),
      recoveredFrom: backAt,
      note: `${victims.length} process(es) killed`,
    });
  }, 900_000);

  it('an API process killed while clients retry with Idempotency-Keys: one process each', async () => {
    const regs = registrations('api', 60);
    const clients = register(t, regs, { concurrency: 20, deadline: Date.now() + RECOVERY_MS });
    await sleep(3_000);
    const inFlight = regs.length - (await countDone(t, regs)).done;
    const victim = t.apiPid();
    signal([victim], 'SIGKILL');
    const killedAt = Date.now();
    await clients;
    const answeredAt = Date.now();
    const retried = regs.filter((r) => r.attempts > 1).length;
    await settle(t, regs, RECOVERY_MS, {
      topology: name,
      fault: 'API process SIGKILL',
      inFlight,
      outageSeconds: seconds(killedAt, answeredAt),
      recoveredFrom: killedAt,
      note: `${retried} clients retried`,
    });
    expect(regs.every((r) => r.status === 201)).toBe(true);
    // One process per key: one registration workflow each, whatever API answered.
    expect(new Set(regs.map((r) => r.customerId)).size).toBe(regs.length);
  }, 900_000);

  it('analytics stopped for a long stretch and restarted: it catches up, nothing lost, lag reported', async () => {
    const regs = registrations('analytics', 30);
    const victim = t.analyticsPid();
    signal([victim], 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      await register(t, regs, { concurrency: 10, deadline: Date.now() + RECOVERY_MS });
      await allExactlyOnce(t, regs, RECOVERY_MS);
      await sleep(Math.max(0, ANALYTICS_OUTAGE_MS - (Date.now() - stoppedAt)));
      expect(await ingested(t, regs)).toBe(0);
    } finally {
      // Restarted: killed while stopped, the stack's supervisor starts a new one.
      signal([victim], 'SIGKILL');
      signal([victim], 'SIGCONT');
    }
    const restartedAt = Date.now();
    const lag = await until(
      async () => {
        const res = await fetch(`${t.analyticsUrl}/readyz`).catch(() => undefined);
        if (res?.status !== 200) return false;
        const body = (await res.json()) as { ingest?: { lagSeconds: number | null; pending: number } };
        return body.ingest ?? false;
      },
      'analytics did not come back',
      180_000,
    );
    const caughtUp = await until(async () => (await ingested(t, regs)) === regs.length && Date.now(), 'analytics did not catch up', RECOVERY_MS, 1_000);
    record({
      topology: name,
      fault: 'analytics stopped',
      inFlight: regs.length,
      exactlyOnce: await ingested(t, regs),
      total: regs.length,
      outageSeconds: seconds(stoppedAt, restartedAt),
      recoverySeconds: seconds(restartedAt, caughtUp),
      note: `lag reported on restart: ${lag.lagSeconds ?? 'unknown'} s, ${lag.pending} pending`,
    });
  }, 900_000);
}
