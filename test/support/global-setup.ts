/**
 * Starts the services of one test run: a Temporal dev server, an embedded PostgreSQL and the
 * workflow bundle, shared by every test file.
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { resolveTemporalCli } from '../../src/dev/temporal-cli.js';
import { startDevServer } from '../../src/dev/temporal-server.js';
import { loadConfig } from '../../src/config.js';
import { startEmbeddedPostgres } from '../../src/dev/postgres.js';
import { freePort } from '../../src/dev/ports.js';
import { resolveTestServer } from '../../src/dev/test-server.js';
import { writeWorkflowBundle } from '../../src/worker/bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    pgUrl: string;
    pgAdminUrl: string;
    analyticsPgUrl: string;
    workflowBundlePath: string;
    testServerPath: string;
  }
}

export default async function setup(project: TestProject) {
  const t0 = Date.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-test-'));
  await chmod(dir, 0o755);
  const cli = await resolveTemporalCli();
  const [temporal, pg, bundlePath, testServerPath] = await Promise.all([
    freePort().then((port) => startDevServer({ cli, port, logFile: path.join(dir, 'temporal.log'), retention: loadConfig().temporal.retentionMs })),
    freePort().then((port) => startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port, fast: true })),
    writeWorkflowBundle(path.join(dir, 'workflow-bundle.js')),
    resolveTestServer(),
  ]);
  await pg.ensureDatabase('crm_test');
  await pg.ensureDatabase('crm_analytics_test');
  project.provide('temporalAddress', temporal.address);
  project.provide('pgUrl', pg.url('crm_test'));
  project.provide('pgAdminUrl', pg.url('postgres'));
  project.provide('analyticsPgUrl', pg.url('crm_analytics_test'));
  project.provide('workflowBundlePath', bundlePath);
  project.provide('testServerPath', testServerPath);
  console.log(`[test services] Temporal ${temporal.address}, PostgreSQL :${pg.port}, ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

  return async () => {
    await Promise.allSettled([temporal.stop(), pg.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
}
