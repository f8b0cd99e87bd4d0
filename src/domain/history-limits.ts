/**
 * Temporal fails a run at 51,200 events or 50 MB of history (it warns at 10,240 events or 10 MB)
 * and accepts at most 2,000 updates in one run. Long-lived workflows continue as new well before
 * (workflows/history-budget.ts); a workflow's input may lower these limits (tests do).
 */
export interface HistoryLimits {
  /** Events in this run's history. */
  events: number;
  /** Bytes of this run's history. */
  bytes: number;
  /** Updates accepted in this run. */
  updates: number;
  /** Signals received in this run. */
  signals: number;
}

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { events: 8_000, bytes: 8 * 1024 * 1024, updates: 1_000, signals: 2_000 };
