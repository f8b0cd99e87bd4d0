/**
 * `npm run bench`: every process of the CRM measured against its own limit in the same run, on a
 * fresh Temporal dev server and embedded PostgreSQL on this machine. Prints one table and writes
 * `bench/results.json` (the rows, with the machine, Node version, date and git commit).
 *
 *   npm run bench                      every section
 *   npm run bench -- processes         only the named sections (also BENCH_SECTIONS=processes,…)
 *
 * Sections (each starts and stops its own stack):
 *   processes   registration, lead intake, lead funnel to won, master-data change, offer accepted
 *               at 1 and 32 in flight, and a retention campaign run over 5,000 customers; each
 *               through the API, with the bare Temporal client, and on the no-op worker (the limit)
 *   ingest      analytics ingest against a bare history-fetch loop; an incremental run against a full one
 *   memory      open lead funnels on timers (BENCH_OPEN_FUNNELS): worker RSS, API read p99 before/while
 *   scale-out   registrations with two worker processes against one, and what saturates
 *
 * Counts (environment):
 *   BENCH_N (10)                   processes per measurement at concurrency 1; ×4.8 at 32
 *   BENCH_N1, BENCH_N32            the two counts on their own (override BENCH_N)
 *   BENCH_CONCURRENCY (32)         processes in flight in the parallel measurement
 *   BENCH_CAP_SECONDS (10)         a measurement starts no process after this many seconds
 *   BENCH_CAMPAIGN_CUSTOMERS (5000) customers the campaign run enrolls (0: no campaign)
 *   BENCH_PACED_N (10), BENCH_PACE_MS (1500)  registrations timed alone, each this long after the previous answer
 *   BENCH_PROCESSES                comma-separated parts of process names to run, e.g. "funnel,offer"
 *   BENCH_SECTIONS                 comma-separated sections, as the command-line arguments
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runProcesses } from './processes.js';
import { runIngest } from './ingest.js';
import { runMemory } from './memory.js';
import { runScaleOut } from './scale-out.js';
import type { BenchRow } from './results.js';

interface Section {
  name: string;
  run(): Promise<BenchRow[]>;
}

const sections: Section[] = [
  { name: 'processes', run: runProcesses },
  { name: 'ingest', run: runIngest }, // analytics ingest against a bare history-fetch loop; incremental against full
  { name: 'memory', run: runMemory }, // open funnels on timers: worker RSS, API p99 before and while
  { name: 'scale-out', run: runScaleOut }, // two worker processes against one
];

const asked = [...process.argv.slice(2), ...(process.env.BENCH_SECTIONS ?? '').split(',')].map((s) => s.trim()).filter(Boolean);
const unknown = asked.filter((a) => !sections.some((s) => s.name === a));
if (unknown.length) {
  console.error(`No bench section ${unknown.join(', ')}; the sections are ${sections.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const chosen = asked.length ? sections.filter((s) => asked.includes(s.name)) : sections;

const fmt = (x: number | undefined, d = 1) => (x === undefined ? '' : Number.isFinite(x) ? x.toFixed(d) : '-');

/** One table for every section's rows: the figures, the limit, the ratio and whether the target holds. */
export function table(rows: BenchRow[]): string {
  const head = ['section', 'measured', 'c', 'n', 'per s', 'p50 ms', 'p95 ms', 'p99 ms', 'limit', 'limit value', 'ratio', 'target', 'met'];
  const body = rows.map((r) => [
    r.section,
    r.name,
    r.concurrency?.toString() ?? '',
    r.n?.toString() ?? '',
    fmt(r.throughputPerSec, 2),
    fmt(r.p50Ms, 0),
    fmt(r.p95Ms, 0),
    fmt(r.p99Ms, 0),
    r.limit ?? '',
    fmt(r.limitValue, 2),
    fmt(r.ratio, 2),
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 7 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const extra = rows
    .filter((r) => r.figures || r.bound)
    .map(
      (r) => `  ${r.name}${r.concurrency ? ` c=${r.concurrency}` : ''}: ${r.figures ? JSON.stringify(r.figures) : ''}${r.bound ? ` bound: ${r.bound}` : ''}`,
    );
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...(extra.length ? ['', ...extra] : [])].join('\n');
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} (with local changes)` : commit;
  } catch {
    return 'unknown';
  }
}

const started = performance.now();
const rows: BenchRow[] = [];
for (const s of chosen) {
  console.error(`[bench] section ${s.name}`);
  const t = performance.now();
  rows.push(...(await s.run()));
  console.error(`[bench] section ${s.name} took ${((performance.now() - t) / 1000).toFixed(0)} s`);
}
const seconds = (performance.now() - started) / 1000;
const machine = {
  cores: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  node: process.version,
  date: new Date().toISOString(),
  commit: gitCommit(),
};
const file = path.join('bench', 'results.json');
await mkdir(path.dirname(file), { recursive: true });
await writeFile(file, `${JSON.stringify({ machine, seconds: Math.round(seconds), sections: chosen.map((s) => s.name), rows }, null, 2)}\n`);

console.log(`
CRM process engine benchmark: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, load ${machine.loadAverage.join(' ')}, ${machine.date}
commit ${machine.commit}; ${seconds.toFixed(0)} s in all; written to ${file}

${table(rows)}

ratio: ours / no-op limit in throughput (target >= 0.7); API rows: time per process through the API / with the bare client (target <= 1.10).
`);
// Workers and pools are closed; anything left (a stray socket) must not keep the bench alive.
process.exit(rows.some((r) => r.figures?.failed) ? 1 : 0);
