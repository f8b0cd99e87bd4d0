/**
 * When a long-lived workflow continues as new: before its history or its updates approach
 * Temporal's limits. Temporal fails a run at 51,200 events or 50 MB of history (it warns at 10,240
 * events or 10 MB) and accepts at most 2,000 updates in one run; it suggests continuing as new
 * earlier (`continueAsNewSuggested`). A budget counts the updates and signals its workflow took in
 * this run and says when to go: at Temporal's suggestion, or past the first of these limits.
 * Tests pass low limits through the workflow's input; each run hands them on.
 */
import { patched, workflowInfo } from '@temporalio/workflow';
import { DEFAULT_HISTORY_LIMITS, type HistoryLimits } from '../src/domain/history-limits.js';

export type { HistoryLimits };

/**
 * Runs recorded before the budget replay as they ran: its own limits take effect only where this
 * marker is (Temporal's suggestion was followed before and still is).
 */
const HISTORY_BUDGET_PATCH = 'history-budget';

export class HistoryBudget {
  private updates = 0;
  private signals = 0;
  readonly limits: HistoryLimits;

  constructor(limits: Partial<HistoryLimits> = {}) {
    this.limits = { ...DEFAULT_HISTORY_LIMITS, ...limits };
  }

  /** Counts an update accepted by a handler. */
  update(): void {
    this.updates += 1;
  }

  /** Counts a signal received. */
  signal(): void {
    this.signals += 1;
  }

  /** Whether to continue as new now (wait for `allHandlersFinished` first). */
  exhausted(): boolean {
    const info = workflowInfo();
    if (info.continueAsNewSuggested) return true;
    const l = this.limits;
    const over = info.historyLength >= l.events || info.historySize >= l.bytes || this.updates >= l.updates || this.signals >= l.signals;
    return over && patched(HISTORY_BUDGET_PATCH);
  }
}
