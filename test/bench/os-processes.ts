/**
 * What the memory and scale-out sections need beyond the bench stack: operational workers in child
 * processes (test/bench/worker-process.ts) on a task queue of their own, an API that starts work on
 * that queue, and the RSS and CPU of every process of the run read from /proc.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApi } from '../../src/api/app.js';
import { hashKey } from '../../src/auth/keys.js';
import { bootstrapUsers } from '../../src/api/bootstrap.js';
import { createLogger } from '../../src/logger.js';
import { writeWorkflowBundle } from '../../src/worker/bundle.js';
import type { Connection } from '@temporalio/client';
import type { BenchRow } from './results.js';
import { startBenchStack, type BenchStack, type BenchStackOptions } from './stack.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

export interface WorkerProcess {
  pid: number;
  stop(): Promise<void>;
}

export interface ChildQueue {
  taskQueue: string;
  /** An API starting its work on `taskQueue` (the stack's own API starts on the stack's queue). */
  api: ReturnType<typeof createApi>;
  key: string;
  /** A worker process on `taskQueue`, polling when this resolves. */
  startWorker(env?: Record<string, string>): Promise<WorkerProcess>;
  stop(): Promise<void>;
}

/**
 * The stack's in-process worker keeps polling its own queue (idle); the child workers poll
 * `taskQueue`, where this API starts everything, so all the work of the run is theirs.
 */
export async function childQueue(stack: BenchStack, taskQueue: string, temporalAddress: string): Promise<ChildQueue> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-bench-workers-'));
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  await writeWorkflowBundle(bundlePath);
  const key = `bench-${taskQueue}-key`;
  const keys = [{ role: 'agent' as const, actor: `bench-${taskQueue}`, sha256: hashKey(key) }];
  // Leads are assigned in turn to the agents of LEAD_TEAM (Sales): one agent there.
  await bootstrapUsers(stack.pool, [{ ...keys[0]!, team: 'Sales' }]);
  const api = createApi({
    pool: stack.pool,
    temporal: stack.client,
    taskQueue,
    pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
    logger: createLogger('silent'),
    keys,
    resultWaitMs: 120_000,
    // The bench is one caller measuring the API, not one the rate limit is for.
    rateLimits: { perKey: 1_000_000_000, perAddress: 1_000_000_000 },
  });
  const children = new Set<ChildProcess>();
  const startWorker = async (env: Record<string, string> = {}): Promise<WorkerProcess> => {
    const child = fork(WORKER_SCRIPT, [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: temporalAddress,
        DATABASE_URL: stack.pg.url('crm'),
        TEMPORAL_TASK_QUEUE: taskQueue,
        WORKFLOW_BUNDLE_PATH: bundlePath,
        MAILBOX_DIR: path.join(dir, 'mail'),
        LOG_LEVEL: 'error',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code, signal) => reject(new Error(`worker process ended before polling (${code ?? signal})`)));
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      pid: child.pid!,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
        children.delete(child);
      },
    };
  };
  return {
    taskQueue,
    api,
    key,
    startWorker,
    async stop() {
      for (const child of children) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The Temporal frontend the stack's client talks to. */
/**
 * A bench section over child worker processes: the bench stack (its own worker idle on
 * `opts.taskQueue`), the child queue `childTaskQueue`, and both stopped whatever `body` does.
 */
export async function withChildQueue<T>(
  section: string,
  opts: BenchStackOptions,
  childTaskQueue: string,
  body: (stack: BenchStack, queue: ChildQueue) => Promise<T>,
): Promise<T> {
  const stack = await startBenchStack(opts);
  const queue = await childQueue(stack, childTaskQueue, temporalAddressOf(stack));
  try {
    return await body(stack, queue);
  } catch (err) {
    // Logged here: stopping the stack may end calls still in flight, whose errors would hide this one.
    console.error(`bench section ${section} failed:`, err);
    throw err;
  } finally {
    await queue.stop();
    await stack.stop();
  }
}

export const temporalAddressOf = (stack: BenchStack): string => {
  const address = (stack.client.connection as Connection).options.address;
  if (!address) throw new Error('the bench client has no address');
  return address;
};

/** Resident set of a process in MiB (VmRSS). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime in clock ticks. */
  ticks: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    const comm = raw.slice(raw.indexOf('(') + 1, close);
    const f = raw
      .slice(close + 2)
      .split(' ')
      .map(Number);
    // Fields after comm: state(0) ppid(1) … utime(11) stime(12)
    return { pid, ppid: f[1]!, comm, ticks: f[11]! + f[12]! };
  } catch {
    return undefined;
  }
}

/** Every process started (directly or not) by this one: the Temporal dev server, PostgreSQL and its backends, the workers. */
async function descendants(): Promise<ProcStat[]> {
  const all = (await Promise.all((await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map((d) => procStat(Number(d))))).filter(
    (s): s is ProcStat => s !== undefined,
  );
  const byParent = new Map<number, ProcStat[]>();
  for (const s of all) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const walk = (pid: number) => {
    for (const c of byParent.get(pid) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(process.pid);
  return out;
}

const TICKS_PER_SECOND = 100;

async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet: a half-second window with at most `busyShare` of all cores
 * busy, or `maxMs`. Between two measurements, so one does not run behind the rest of the
 * previous one's processes (a registration's onboarding and welcome run on after its answer).
 * Returns the time waited, in ms.
 */
export async function settle(busyShare = 0.15, maxMs = 20_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const a = await machineTicks();
    await new Promise((r) => setTimeout(r, 500));
    const b = await machineTicks();
    const share = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    if (share <= busyShare || performance.now() - t0 >= maxMs) return performance.now() - t0;
  }
}

/**
 * CPU of each group of processes over a phase, in % of one core: the API and bench driver (this
 * process), each worker process, the Temporal server, PostgreSQL (postmaster and backends), and
 * the whole machine (every core, other tenants included) in % of all cores.
 */
export async function sampleCpu(workers: Record<string, number>) {
  const group = (s: ProcStat): string | undefined => {
    for (const [name, pid] of Object.entries(workers)) if (s.pid === pid) return name;
    if (s.comm.startsWith('temporal')) return 'temporal';
    if (s.comm.startsWith('postgres')) return 'postgres';
    return undefined;
  };
  const read = async () => {
    const ticks: Record<string, number> = {};
    const self = await procStat(process.pid);
    ticks['api+driver'] = self?.ticks ?? 0;
    for (const s of await descendants()) {
      const g = group(s);
      if (g) ticks[g] = (ticks[g] ?? 0) + s.ticks;
    }
    return { at: performance.now(), ticks, machine: await machineTicks() };
  };
  const start = await read();
  return async (): Promise<Record<string, number>> => {
    const end = await read();
    const seconds = (end.at - start.at) / 1000;
    const out: Record<string, number> = {};
    for (const [g, t] of Object.entries(end.ticks)) out[g] = Math.round(((t - (start.ticks[g] ?? 0)) / TICKS_PER_SECOND / seconds) * 1000) / 10;
    out.machine = Math.round(((end.machine.busy - start.machine.busy) / (end.machine.total - start.machine.total)) * 1000) / 10;
    return out;
  };
}

/** The busiest group of a CPU sample, and whether it is pinned (a Node process is bound by one core for its JS). */
export function saturation(cpu: Record<string, number>): string {
  const cores = os.cpus().length;
  const machine = cpu.machine ?? 0;
  const groups = Object.entries(cpu).filter(([g]) => g !== 'machine');
  const [top, pct] = groups.sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
  const parts = [`busiest: ${top} at ${pct}% of a core`, `machine ${machine}% of ${cores} cores busy (other tenants included)`];
  if (machine >= 90) parts.push('the machine saturates first: the processes share the cores');
  else if (pct >= 90) parts.push(`${top} saturates first`);
  else parts.push('nothing is pinned: latency bound (round trips), not CPU');
  return parts.join('; ');
}

/** Prints rows as a table (sections run alone). */
export function printRows(rows: BenchRow[]): void {
  console.table(
    rows.map((r) => {
      const { figures, ...rest } = r;
      return { ...rest, ...(figures ? { figures: JSON.stringify(figures) } : {}) };
    }),
  );
}
