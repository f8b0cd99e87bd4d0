/**
 * What every benchmark section returns: rows of figures, each with the limit it is measured
 * against and the ratio, so `npm run bench` can print one table and write `bench/results.json`.
 * A row whose target does not hold says what bounds it in `bound` (measured, not guessed).
 */
export interface BenchRow {
  /** The section: `processes`, `api`, `ingest`, `memory`, `scale-out`, … */
  section: string;
  /** What was measured, e.g. `registration`, `lead intake`, `ingest full`. */
  name: string;
  /** Concurrent callers (processes in flight) where that applies. */
  concurrency?: number;
  /** How many runs/requests/histories the figures are over. */
  n?: number;
  throughputPerSec?: number;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  /** Any other figure the row reports (RSS in MiB, seconds, …), by name. */
  figures?: Record<string, number>;
  /** The yardstick: e.g. `no-op activities`, `direct client`, `bare history fetch`. */
  limit?: string;
  /** The limit's own figure the ratio divides by (same unit as the row's main figure). */
  limitValue?: number;
  /** ours / limit (or the comparison the target names). */
  ratio?: number;
  /** The target as written in the issue, e.g. `>= 0.7 of no-op`. */
  target?: string;
  met?: boolean;
  /** When the target is not met: what bounds it, with the measurement that shows it. */
  bound?: string;
}

export const percentile = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

/** Latency figures of a set of samples in ms. */
export const latencies = (xs: number[]) => ({ p50Ms: percentile(xs, 50), p95Ms: percentile(xs, 95), p99Ms: percentile(xs, 99) });
