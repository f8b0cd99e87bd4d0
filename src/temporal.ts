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
