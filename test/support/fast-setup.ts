/**
 * The fast tier's only service: the time-skipping test server (a JVM per test file, started by
 * the file) and the workflow bundle its workers load. No Temporal dev server, no PostgreSQL:
 * unit and property tests need nothing, workflow tests run their activities as fakes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { resolveTestServer } from '../../src/dev/test-server.js';
import { writeWorkflowBundle } from '../../src/worker/bundle.js';
import type {} from './global-setup.js';

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-fast-'));
  const [bundlePath, testServerPath] = await Promise.all([writeWorkflowBundle(path.join(dir, 'workflow-bundle.js')), resolveTestServer()]);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('testServerPath', testServerPath);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
