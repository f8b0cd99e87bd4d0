/**
 * Worker and pool tuning (WORKER_*, DATABASE_POOL_MAX): the config module reads the settings,
 * `workerTuningOptions` turns them into the SDK's worker options (README, Performance → Tuning);
 * the workflow bundle shares the pure modules every workflow would otherwise evaluate again.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { WORKER_TUNING_DEFAULTS, workerTuningOptions } from '../../src/worker/worker.js';
import { preloadedModules } from '../../src/worker/bundle.js';

describe('worker tuning', () => {
  it('hands every configured slot, poller, cache and eager setting to the worker', () => {
    const config = loadConfig({
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '8',
      WORKER_MAX_CONCURRENT_ACTIVITIES: '16',
      WORKER_MAX_CACHED_WORKFLOWS: '500',
      WORKER_WORKFLOW_POLLERS: '4',
      WORKER_ACTIVITY_POLLERS: '3',
      WORKER_EAGER_ACTIVITIES: '0',
      DATABASE_POOL_MAX: '25',
    });
    expect(config.database.poolMax).toBe(25);
    expect(workerTuningOptions(config.temporal.worker)).toEqual({
      maxConcurrentWorkflowTaskExecutions: 8,
      maxConcurrentActivityTaskExecutions: 16,
      maxCachedWorkflows: 500,
      workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 4 },
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 3 },
      maxEagerActivityReservationsPerWorkflowTask: 0,
    });
  });

  it('takes the defaults for what is not configured', () => {
    const config = loadConfig({});
    expect(config.database.poolMax).toBe(10);
    expect(workerTuningOptions(config.temporal.worker)).toEqual(workerTuningOptions(WORKER_TUNING_DEFAULTS));
    expect(workerTuningOptions({ maxCachedWorkflows: 7 })).toMatchObject({ maxCachedWorkflows: 7 });
    // The cache is bounded by default (the SDK's own grows with the heap limit, past 1 GiB of workflows).
    expect(workerTuningOptions({})).toMatchObject({ maxCachedWorkflows: 250 });
  });

  it('refuses a value the worker cannot run with, naming the variable', () => {
    expect(() => loadConfig({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' })).toThrow(/WORKER_MAX_CONCURRENT_WORKFLOW_TASKS must be at least 2/);
    expect(() => loadConfig({ WORKER_WORKFLOW_POLLERS: '1' })).toThrow(/WORKER_WORKFLOW_POLLERS must be at least 2/);
    expect(() => loadConfig({ WORKER_EAGER_ACTIVITIES: '-1' })).toThrow(/WORKER_EAGER_ACTIVITIES/);
    expect(() => loadConfig({ DATABASE_POOL_MAX: '0' })).toThrow(/DATABASE_POOL_MAX must be at least 1/);
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: 'many' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
  });
});

describe('workflow bundle', () => {
  it('shares zod and every domain module a workflow imports for its values, and nothing else', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'preload-'));
    const dir = path.join(root, 'workflows');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'a.ts'),
      [
        "import { proxyActivities } from '@temporalio/workflow';",
        "import type { Activities } from '../activities/index.js';",
        "import type { Lead } from '../src/domain/typed-only.js';",
        "import {\n  CrmStatus,\n  type SearchKey,\n} from '../src/domain/search-attributes.js';",
        "import { helper } from './b.js';",
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'b.ts'), "import { REFUSAL } from '../src/domain/refusals.js';\nexport const helper = 1;\n");
    writeFileSync(path.join(dir, 'notes.md'), "import { x } from '../src/domain/not-code.js';\n");
    expect(preloadedModules(dir)).toEqual(['zod', path.join(root, 'src', 'domain', 'refusals.ts'), path.join(root, 'src', 'domain', 'search-attributes.ts')]);
  });

  it('covers the real workflows: each domain module they import exists and is shared', () => {
    const modules = preloadedModules();
    expect(modules[0]).toBe('zod');
    expect(modules.length).toBeGreaterThan(10);
    for (const m of modules.slice(1)) {
      expect(m).toMatch(/src[/\\]domain[/\\][\w-]+\.ts$/);
      expect(existsSync(m), m).toBe(true);
    }
  });
});
