/**
 * What the namespace retention does to closed workflows, for tests that prove a read does not
 * depend on Temporal: delete a workflow (every run of its id) and wait until Temporal has
 * forgotten it.
 */
import { eventually, uniqueId, type Harness } from './harness.js';

export async function forget(h: Harness, workflowId: string): Promise<void> {
  await eventually(
    async () => {
      try {
        await h.client.workflow.getHandle(workflowId).describe();
      } catch (err) {
        return (err as Error).name === 'WorkflowNotFoundError';
      }
      // A delete takes the latest run; the next pass takes the one before, if any.
      await h.client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId } }).catch(() => undefined);
      return false;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

/** Ids of the workflows a visibility query finds (eventually consistent: wait for what you expect). */
export async function workflowsOf(h: Harness, query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of h.client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
}

/** A product of its own per test: owning it is the segment, so tests never see each other's customers. */
export async function segmentProduct(harness: Harness): Promise<string> {
  const id = uniqueId('seg').replace(/_/g, '-');
  await harness.pool.query("INSERT INTO products (id, name, category, tier, price) VALUES ($1, 'Segment marker', 'marker', 1, 0)", [id]);
  return id;
}
