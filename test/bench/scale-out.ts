/**
 * Scale-out: registrations (`POST /v1/customers`, the shape the operational worker carries most)
 * at the same concurrency with one worker process on the task queue, then with two
 * (test/bench/worker-process.ts each), for a fixed time each; throughput, p50/p95/p99 and the
 * ratio two/one. The CPU of every process of the run (each worker, the API and driver, the
 * Temporal server, PostgreSQL) and of the machine is sampled over each phase, and the row says
 * which one saturates.
 *   BENCH_SCALE_SECONDS (default 15 per phase), BENCH_SCALE_CONCURRENCY (default 32)
 * Alone: `npx tsx --expose-gc test/bench/scale-out.ts`.
 */
import { pathToFileURL } from 'node:url';
import { latencies, type BenchRow } from './results.js';
import { printRows, sampleCpu, saturation, withChildQueue, type ChildQueue } from './os-processes.js';

const SECTION = 'scale-out';

/** Registrations through the API for `seconds`, `concurrency` callers in a closed loop. */
async function registrations(queue: ChildQueue, tag: string, seconds: number, concurrency: number) {
  const ms: number[] = [];
  const refused: string[] = [];
  let i = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const n = i++;
        const s = performance.now();
        const res = await queue.api.request('/v1/customers', {
          method: 'POST',
          headers: { authorization: `Bearer ${queue.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `Scale ${tag} ${n}`, email: `scale-${tag}-${n}@example.com` }),
        });
        // 202: not finished within the API's wait (counted, not a completion); anything else is a failure.
        if (res.status === 201) ms.push(performance.now() - s);
        else if (refused.push(`${res.status}`) === 1) console.error(`scale-out: a registration answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      }
    }),
  );
  return { ms, refused, seconds: (performance.now() - t0) / 1000 };
}

export async function runScaleOut(): Promise<BenchRow[]> {
  const seconds = Number(process.env.BENCH_SCALE_SECONDS ?? 15);
  const concurrency = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 32);
  return withChildQueue(SECTION, { taskQueue: 'bench-scale-idle', poolMax: 40, resultWaitMs: 120_000 }, 'bench-scale', async (_stack, queue) => {
    const first = await queue.startWorker();
    await registrations(queue, 'warm', 5, 4);
    const phase = async (tag: string, workers: Record<string, number>) => {
      const cpu = await sampleCpu(workers);
      const run = await registrations(queue, tag, seconds, concurrency);
      return { ...run, cpu: await cpu() };
    };
    const one = await phase('one', { worker1: first.pid });
    const second = await queue.startWorker();
    const two = await phase('two', { worker1: first.pid, worker2: second.pid });
    await Promise.all([first.stop(), second.stop()]);

    const row = (name: string, r: Awaited<ReturnType<typeof phase>>): BenchRow => ({
      section: SECTION,
      name,
      concurrency,
      n: r.ms.length,
      throughputPerSec: Math.round((r.ms.length / r.seconds) * 100) / 100,
      ...latencies(r.ms),
      figures: { notCompleted: r.refused.length, ...Object.fromEntries(Object.entries(r.cpu).map(([g, pct]) => [`cpu% ${g}`, pct])) },
      bound: saturation(r.cpu),
    });
    const oneRow = row('registrations, 1 worker process', one);
    const twoRow = row('registrations, 2 worker processes', two);
    const ratio = Math.round((twoRow.throughputPerSec! / oneRow.throughputPerSec!) * 100) / 100;
    return [
      oneRow,
      {
        ...twoRow,
        limit: '1 worker process',
        limitValue: oneRow.throughputPerSec,
        ratio,
        target: 'two/one throughput (2 cores: ~1 expected; > 1 where the worker is what saturates)',
      },
    ];
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  printRows(await runScaleOut());
  process.exit(0);
}
