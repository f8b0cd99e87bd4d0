/**
 * Analytics ingestion, run by the `analytics-ingest` Schedule on the analytics task queue.
 * Loops over batches until nothing closed is left unread, then follows the running funnels and
 * tasks until every change is read; continues as new when the history grows long, so a large
 * backlog never makes one history unbounded.
 */
import { continueAsNew, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { IngestActivities, IngestOptions } from './ingest/ingest.js';
import type { FollowActivities } from './ingest/follow.js';

const { ingestClosedWorkflows, followRunningProcesses } = proxyActivities<IngestActivities & FollowActivities>({
  startToCloseTimeout: '5 minutes',
  // Each page and history read beats: an ingest whose worker died is retried within a minute,
  // not after the 5 minutes (the fault suite's analytics outage waited on exactly that).
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10 },
});

/** Added with the pipeline reports: ingest runs recorded before it end after the closed runs. */
const FOLLOW_PATCH = 'follow-running-processes';

export async function analyticsIngest(opts: IngestOptions, carried = 0): Promise<{ ingested: number; followed?: number }> {
  let ingested = carried;
  for (;;) {
    const result = await ingestClosedWorkflows(opts);
    ingested += result.ingested;
    if (result.remaining === 0) break;
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof analyticsIngest>(opts, ingested);
  }
  if (!patched(FOLLOW_PATCH)) return { ingested };
  let followed = 0;
  for (;;) {
    const pass = await followRunningProcesses(opts);
    followed += pass.read;
    if (pass.remaining === 0) return { ingested, followed };
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof analyticsIngest>(opts, ingested);
  }
}
