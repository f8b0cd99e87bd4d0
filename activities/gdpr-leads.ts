/**
 * The side effects of GDPR requests about a person known only as a lead (by e-mail address): the
 * erasure ends their running funnels, then anonymises what is held about them. The export is
 * assembled by `assembleExport` in activities/gdpr.ts, which reads the same repository.
 */
import { Context, sleep } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { writeAudit } from '../src/db/repositories/audit-log.js';
import { eraseLeadData, leadsOnlyUnder } from '../src/db/repositories/lead-data.js';
import type { Pool } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { destroySubjectKeys } from '../src/codec/subject-keys.js';
import { LEAD_ERASED_REASON, eraseLeadUpdate, type EraseCustomerResult } from '../src/domain/gdpr.js';

export interface LeadErasureInput {
  email: string;
  requestId: string;
  actor: string;
  workflowId: string;
}

/**
 * Ends each running lead funnel with the reason `erased` (the funnel records it as its lost reason)
 * and waits until it has closed, so that no funnel writes the person's data again after the
 * erasure. A funnel that refuses for now (still taking the lead in, or converting a won lead) is
 * asked again.
 */
export async function endFunnels(workflowIds: string[], input: { requestId: string; actor: string }): Promise<{ ended: string[] }> {
  const { client } = Context.current();
  const ended: string[] = [];
  for (const workflowId of workflowIds) {
    const handle = client.workflow.getHandle(workflowId);
    for (;;) {
      let running: boolean;
      try {
        running = (await handle.describe()).status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) break;
        throw err;
      }
      if (!running) break;
      try {
        await handle.executeUpdate(eraseLeadUpdate, { args: [{ requestId: input.requestId, actor: input.actor }] });
        // Closed once its last write has landed.
        await handle.result().catch(() => undefined);
        ended.push(workflowId);
        break;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) break;
        if (!(err instanceof WorkflowUpdateFailedError)) throw err;
        Context.current().heartbeat();
        await sleep(1000);
      }
    }
  }
  return { ended };
}

export function createLeadGdprActivities({ pool }: { pool: Pool }) {
  return {
    /**
     * Ends every running funnel of the person's leads with the reason `erased` and waits until each
     * has closed, so that no funnel writes their data again after the erasure. A funnel that
     * refuses for now (still taking the lead in, or converting a won lead) is asked again.
     */
    async endLeadFunnels(input: LeadErasureInput): Promise<{ ended: string[] }> {
      return endFunnels(
        (await leadsOnlyUnder(pool, input.email)).map((l) => l.workflowId),
        input,
      );
    },

    /**
     * Anonymises the person's leads, their timelines, corrections, interactions and messages in one
     * transaction, and records the erasure of each lead in the audit log (no values). Runs after
     * `endLeadFunnels`, so no funnel writes the data back.
     */
    async eraseLeadData(input: LeadErasureInput): Promise<EraseCustomerResult> {
      return inTransaction(pool, async (db) => {
        const leads = await leadsOnlyUnder(db, input.email);
        const rows = await eraseLeadData(db, input.email, LEAD_ERASED_REASON);
        // Crypto-shredding: the leads' data keys go, and with them their payloads in every Temporal history.
        rows.subject_keys = await destroySubjectKeys(
          db,
          leads.map((l) => `lead:${l.id}`),
          input.workflowId,
        );
        for (const lead of leads) {
          await writeAudit(
            db,
            {
              step: `${input.workflowId}:erasure:${lead.id}`,
              leadId: lead.id,
              actor: input.actor,
              process: 'gdpr',
              workflowId: input.workflowId,
              changeId: input.requestId,
            },
            [{ field: 'erasure', oldValue: null, newValue: { erased: true } }],
          );
        }
        return { rows };
      });
    },
  };
}
