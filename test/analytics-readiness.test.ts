/**
 * Analytics' /readyz reports how far ingestion lags behind Temporal and warns once the lag reaches
 * half the namespace retention, after which Temporal starts deleting runs analytics never saw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, uniqueId } from './support/harness.js';
import { startAnalyticsHarness, type AnalyticsHarness } from './support/analytics.js';

// A retention of seconds, so that half of it passes within the test.
const RETENTION_MS = 4_000;
// The closed workflows this analytics instance sees: the ones on this task queue.
const taskQueue = uniqueId('lag');
let a: AnalyticsHarness;
beforeAll(async () => {
  a = await startAnalyticsHarness(taskQueue, undefined, { retentionMs: RETENTION_MS });
});
afterAll(async () => {
  await a?.stop();
});

async function readyz() {
  const res = await a.service.app.request('/readyz');
  return {
    status: res.status,
    body: (await res.json()) as {
      status: string;
      ingest: { watermark: string | null; pending: number; lagSeconds: number | null; retentionSeconds: number; warning?: string };
    },
  };
}

/** A run that closes without a worker: started on the watched task queue, then terminated. */
async function closedRun() {
  const handle = await a.service.client.workflow.start('nobodyRunsThis', { taskQueue, workflowId: uniqueId('closed') });
  await handle.terminate('closed for the lag test');
}

describe('analytics readiness', () => {
  it('reports no lag and no warning while nothing waits', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(200);
    expect(body.ingest).toEqual({ watermark: null, pending: 0, lagSeconds: 0, retentionSeconds: RETENTION_MS / 1000 });
  });

  it('counts closed runs not yet ingested, warns when the lag reaches half the retention, and clears once ingested', async () => {
    await closedRun();
    const waiting = await eventually(async () => ((await readyz()).body.ingest.pending === 1 ? (await readyz()).body : false));
    expect(waiting.ingest.warning).toMatch(/Nothing ingested yet while 1 closed workflows wait/);

    expect((await a.ingest()).ingested).toBe(1);
    const caughtUp = (await readyz()).body;
    expect(caughtUp.ingest).toMatchObject({ pending: 0, lagSeconds: 0 });
    expect(caughtUp.ingest.watermark).not.toBeNull();
    expect(caughtUp.ingest.warning).toBeUndefined();

    await closedRun();
    // The lag is now minus the watermark; it grows until it reaches half the retention (2 s).
    const behind = await eventually(async () => {
      const { status, body } = await readyz();
      return status === 200 && body.ingest.pending === 1 && body.ingest.warning ? body : false;
    });
    expect(behind.status).toBe('ready');
    expect(behind.ingest.lagSeconds).toBeGreaterThanOrEqual(RETENTION_MS / 2000);
    expect(behind.ingest.warning).toMatch(/behind and Temporal deletes closed workflows .* after they close \(TEMPORAL_RETENTION\)/);

    expect((await a.ingest()).ingested).toBe(1);
    expect((await readyz()).body.ingest).toMatchObject({ pending: 0, lagSeconds: 0 });
    expect((await readyz()).body.ingest.warning).toBeUndefined();
  });
});
