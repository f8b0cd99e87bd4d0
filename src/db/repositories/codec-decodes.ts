/** The repository of `codec_decodes`: one row per decode through the codec endpoint. */
import type { Pool } from '../pool.js';

export interface CodecDecode {
  actor: string;
  namespace: string;
  workflowId?: string;
  payloads: number;
  requestId: string;
}

export async function recordCodecDecode(pool: Pool, d: CodecDecode): Promise<void> {
  await pool.query('INSERT INTO codec_decodes (actor, namespace, workflow_id, payloads, request_id) VALUES ($1, $2, $3, $4, $5)', [
    d.actor,
    d.namespace,
    d.workflowId ?? null,
    d.payloads,
    d.requestId,
  ]);
}
