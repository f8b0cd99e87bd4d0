/** Connections to Temporal: the one place that decides how clients and workers talk to it. */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';

/** `dataConverter` carries the payload codec (src/codec): every service passes it. */
export async function connectClient(address: string, namespace: string, dataConverter?: DataConverter): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace, dataConverter });
}

export async function connectWorker(address: string): Promise<NativeConnection> {
  return NativeConnection.connect({ address });
}

/**
 * Sets how long Temporal keeps a closed workflow of `namespace` (TEMPORAL_RETENTION): how long
 * operators can open it in the UI and how far analytics may fall behind. No API read depends on it.
 * Only the retention changes; the namespace's other settings stay as they are.
 */
type ProtoDuration = NonNullable<NonNullable<Parameters<Connection['workflowService']['updateNamespace']>[0]['config']>['workflowExecutionRetentionTtl']>;

export async function applyNamespaceRetention(connection: Connection, namespace: string, retentionMs: number): Promise<void> {
  // protobufjs writes a plain number into an int64 field; the generated type names only its Long class.
  const ttl = { seconds: Math.floor(retentionMs / 1000), nanos: (retentionMs % 1000) * 1_000_000 } as unknown as ProtoDuration;
  await connection.workflowService.updateNamespace({ namespace, config: { workflowExecutionRetentionTtl: ttl } });
}
