/**
 * TLS to Temporal (TEMPORAL_TLS_*): the config module reads the settings, `temporalTls` turns them
 * into the options every connection uses (client, worker, analytics).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { temporalTls } from '../../src/temporal.js';

async function pemFiles() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-tls-'));
  const files = { cert: path.join(dir, 'client.pem'), key: path.join(dir, 'client.key'), ca: path.join(dir, 'ca.pem') };
  await writeFile(files.cert, '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
  await writeFile(files.key, '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
  await writeFile(files.ca, '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');
  return files;
}

describe('TLS to Temporal', () => {
  it('builds mutual TLS from the certificate, key, CA and server name', async () => {
    const f = await pemFiles();
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CERT: f.cert,
      TEMPORAL_TLS_KEY: f.key,
      TEMPORAL_TLS_CA: f.ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
    });
    const tls = temporalTls(config.temporal.tls)!;
    expect(tls.serverNameOverride).toBe('temporal.example.com');
    expect(Buffer.from(tls.serverRootCACertificate!).toString()).toContain('\nca\n');
    expect(Buffer.from(tls.clientCertPair!.crt).toString()).toContain('\nclient\n');
    expect(Buffer.from(tls.clientCertPair!.key).toString()).toContain('PRIVATE KEY');
  });

  it('turns on server-verified TLS with the system roots by TEMPORAL_TLS=true alone, and stays plain without any setting', () => {
    expect(temporalTls(loadConfig({ TEMPORAL_TLS: 'true' }).temporal.tls)).toEqual({});
    expect(temporalTls(loadConfig({}).temporal.tls)).toBeUndefined();
  });

  it('refuses a certificate without its key, and a file that is not there', async () => {
    const f = await pemFiles();
    expect(() => loadConfig({ TEMPORAL_TLS_CERT: f.cert })).toThrow(/TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: give both/);
    expect(() => temporalTls(loadConfig({ TEMPORAL_TLS_CA: path.join(path.dirname(f.ca), 'missing.pem') }).temporal.tls)).toThrow(/ENOENT/);
  });
});
