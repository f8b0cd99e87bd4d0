/**
 * The namespace retention is a setting (TEMPORAL_RETENTION), applied at start by the one function
 * that `npm start` and the test setup share through startDevServer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Connection } from '@temporalio/client';
import { loadConfig } from '../src/config.js';
import { applyNamespaceRetention } from '../src/temporal.js';

let connection: Connection;
beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await connection?.close();
});

async function described() {
  const { config } = await connection.workflowService.describeNamespace({ namespace: 'default' });
  return { retentionMs: Number(config!.workflowExecutionRetentionTtl!.seconds) * 1000, config: config! };
}

describe('the namespace retention', () => {
  it('is the configured TEMPORAL_RETENTION once the dev server has started (30 days by default)', async () => {
    const configured = loadConfig().temporal.retentionMs;
    expect(loadConfig({}).temporal.retentionMs).toBe(30 * 86_400_000);
    expect((await described()).retentionMs).toBe(configured);
  });

  it('changes only the retention when applied again', async () => {
    const configured = loadConfig().temporal.retentionMs;
    const before = (await described()).config;
    try {
      await applyNamespaceRetention(connection, 'default', 45 * 86_400_000);
      const after = await described();
      expect(after.retentionMs).toBe(45 * 86_400_000);
      expect(after.config.historyArchivalState).toBe(before.historyArchivalState);
      expect(after.config.visibilityArchivalState).toBe(before.visibilityArchivalState);
    } finally {
      await applyNamespaceRetention(connection, 'default', configured);
    }
    expect((await described()).retentionMs).toBe(configured);
  });

  it('accepts "30d" and "720h" alike, and refuses less than the one day Temporal allows', () => {
    expect(loadConfig({ TEMPORAL_RETENTION: '30d' }).temporal.retentionMs).toBe(loadConfig({ TEMPORAL_RETENTION: '720h' }).temporal.retentionMs);
    expect(() => loadConfig({ TEMPORAL_RETENTION: '12 hours' })).toThrow(/TEMPORAL_RETENTION: .*at least 1 day/);
    expect(() => loadConfig({ TEMPORAL_RETENTION: 'a month' })).toThrow(/TEMPORAL_RETENTION: .*not a duration/);
  });
});
