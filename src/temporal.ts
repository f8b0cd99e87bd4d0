/** Connections to Temporal: the one place that decides how clients and workers talk to it. */
import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';

/** TEMPORAL_TLS_* as the config module reads them: PEM files and the name the server's certificate carries. */
export interface TemporalTlsFiles {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  serverName?: string;
}

/**
 * The TLS options of every Temporal connection (client, worker, analytics), read from the files
 * once; undefined: plain TCP, as the embedded dev server speaks. A client certificate and key make
 * it mutual TLS; without a CA the system roots verify the server.
 */
export function temporalTls(files: TemporalTlsFiles | undefined): TLSConfig | undefined {
  if (!files) return undefined;
  return {
    ...(files.serverName ? { serverNameOverride: files.serverName } : {}),
    ...(files.caFile ? { serverRootCACertificate: readFileSync(files.caFile) } : {}),
    ...(files.certFile && files.keyFile ? { clientCertPair: { crt: readFileSync(files.certFile), key: readFileSync(files.keyFile) } } : {}),
  };
}

/** `dataConverter` carries the payload codec (src/codec): every service passes it. */
export async function connectClient(address: string, namespace: string, dataConverter?: DataConverter, tls?: TLSConfig): Promise<Client> {
  const connection = await Connection.connect({ address, ...(tls ? { tls } : {}) });
  return new Client({ connection, namespace, dataConverter });
}

export async function connectWorker(address: string, tls?: TLSConfig): Promise<NativeConnection> {
  return NativeConnection.connect({ address, ...(tls ? { tls } : {}) });
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
