/**
 * Analytics ingestion, run by the `analytics-ingest` Schedule on the analytics task queue.
 * Loops over batches until nothing closed is left unread; continues as new when the history
 * grows long, so a large backlog never makes one history unbounded.
 */
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { IngestActivities, IngestOptions } from './ingest/ingest.js';

const { ingestClosedWorkflows } = proxyActivities<IngestActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10 },
});

export async function analyticsIngest(opts: IngestOptions, carried = 0): Promise<{ ingested: number }> {
  let ingested = carried;
  for (;;) {
    const result = await ingestClosedWorkflows(opts);
    ingested += result.ingested;
    if (result.remaining === 0) return { ingested };
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof analyticsIngest>(opts, ingested);
  }
}
