/**
 * Analytics for tests: the real analytics service (own store schema in its own database, own
 * task queue, own keys) reading only the workflows of one operational harness's task queue.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { createLogger } from '../../src/logger.js';
import { startAnalytics, type AnalyticsService } from '../../src/analytics/service.js';
import type { IngestOptions } from '../../src/analytics/ingest/ingest.js';
import { uniqueId } from './harness.js';
import { launchChromium } from './browser.js';
import type { Page } from 'playwright-core';

export interface AnalyticsHarness {
  service: AnalyticsService;
  key: string;
  schema: string;
  taskQueue: string;
  ingestOptions: IngestOptions;
  /** Runs the ingest workflow once, as the schedule would, and returns its result. */
  ingest(): Promise<{ ingested: number; followed?: number }>;
  report(name: string, query?: Record<string, string>): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startAnalyticsHarness(
  operationalTaskQueue: string,
  schema = uniqueId('a'),
  opts: { retentionMs?: number; /** Visibility filter of what it reads; the operational task queue's workflows by default. */ filter?: string } = {},
): Promise<AnalyticsHarness> {
  const key = `analyst_${randomBytes(12).toString('hex')}`;
  const taskQueue = `analytics-${schema}`;
  const ingestOptions: IngestOptions = { batch: 50, concurrency: 4, overlapSeconds: 60, filter: opts.filter ?? `TaskQueue = '${operationalTaskQueue}'` };
  const service = await startAnalytics({
    storeUrl: inject('analyticsPgUrl'),
    storeSchema: schema,
    temporalAddress: inject('temporalAddress'),
    namespace: 'default',
    taskQueue,
    scheduleId: `ingest-${schema}`,
    ingestEvery: '1 hour',
    ingest: ingestOptions,
    keys: [{ actor: 'test-analyst', sha256: hashKey(key) }],
    logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    retentionMs: opts.retentionMs ?? 30 * 86_400_000,
  });
  return {
    service,
    key,
    schema,
    taskQueue,
    ingestOptions,
    ingest: () =>
      service.client.workflow.execute('analyticsIngest', { taskQueue, workflowId: uniqueId('ingest'), args: [ingestOptions] }) as Promise<{
        ingested: number;
        followed?: number;
      }>,
    async report(name, query = {}) {
      const res = await service.app.request(`/v1/analytics/${name}?${new URLSearchParams(query)}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      return { status: res.status, body: await res.json() };
    },
    async stop() {
      await service.client.schedule
        .getHandle(`ingest-${schema}`)
        .delete()
        .catch(() => undefined);
      await service.stop();
    },
  };
}

/**
 * The analytics app served on a free local port and opened, with the harness's analyst key, in
 * headless Chromium; `use` gets the page once the dashboard has loaded its data. Server and browser
 * are closed afterwards, whatever `use` does.
 */
export async function withDashboard(a: AnalyticsHarness, height: number, use: (page: Page) => Promise<void>): Promise<void> {
  const { serve } = await import('@hono/node-server');
  const server = serve({ fetch: a.service.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height } });
    await page.goto(`http://127.0.0.1:${port}/#key=${a.key}`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
    await use(page);
  } finally {
    await browser.close();
    server.close();
  }
}
