/**
 * Starts the services of one test run: a Temporal dev server, an embedded PostgreSQL and the
 * workflow bundle, shared by every test file.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, chmod, writeFile } from 'node:fs/promises';
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
    /** A file each harness appends its checked responses to (one JSON line per harness). */
    contractTally: string;
    keyScanTally: string;
  }
}

const RUN_FILE = 'run.json';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A test runner killed from outside (a timeout, Ctrl-C twice) cannot tear down; its Temporal
 * server and PostgreSQL would hold memory and ports for good. Each run leaves a note of its
 * processes; the next run stops those whose runner is gone.
 */
async function reapAbandonedRuns(): Promise<void> {
  for (const name of await readdir(os.tmpdir()).catch(() => [] as string[])) {
    if (!name.startsWith('crm-test-')) continue;
    const dir = path.join(os.tmpdir(), name);
    const note = await readFile(path.join(dir, RUN_FILE), 'utf8').then(
      (t) => JSON.parse(t) as { runner: number; services: number[] },
      () => undefined,
    );
    if (!note || alive(note.runner)) continue;
    for (const pid of note.services) {
      // Only what is still the service it was (a pid may have been reused since).
      const cmd = (() => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      })();
      if (/temporal|postgres/.test(cmd)) process.kill(pid, 'SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The run's closing line on the API contract: how many responses of how many operations, and of
 * which statuses, were checked against the OpenAPI documents (every harness checks by default).
 */
async function reportContractTally(file: string): Promise<void> {
  const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const checked = new Map<string, number>();
  for (const line of lines) {
    for (const [key, n] of Object.entries((JSON.parse(line) as { checked: Record<string, number> }).checked)) checked.set(key, (checked.get(key) ?? 0) + n);
  }
  const total = [...checked.values()].reduce((a, b) => a + b, 0);
  const operations = new Set([...checked.keys()].map((k) => k.split(' ')[0]));
  console.log(
    `[contract] ${total} responses checked against the OpenAPI documents: ${operations.size} operations, ${checked.size} operation/status pairs, ${lines.length} harnesses`,
  );
}

/**
 * The run's closing line on the key scan (test/support/key-scan.ts): how many responses and log
 * lines every harness scanned for its secrets, and how many it found in clear (each fails its file).
 */
async function reportKeyScan(file: string): Promise<void> {
  const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const sum = { responses: 0, logLines: 0, secrets: 0, findings: 0 };
  for (const line of lines) {
    const one = JSON.parse(line) as typeof sum;
    for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += one[k];
  }
  console.log(
    `[key scan] ${sum.responses} responses and ${sum.logLines} API and worker log lines scanned for ${sum.secrets} secrets (API keys, codec tokens, page-token secrets, payload keys, webhook secrets) over ${lines.length} harnesses: ${sum.findings} in clear`,
  );
}

export default async function setup(project: TestProject) {
  const t0 = Date.now();
  await reapAbandonedRuns();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-test-'));
  await chmod(dir, 0o755);
  const cli = await resolveTemporalCli();
  const [temporal, pg, bundlePath, testServerPath] = await Promise.all([
    freePort().then((port) => startDevServer({ cli, port, logFile: path.join(dir, 'temporal.log'), retention: loadConfig().temporal.retentionMs })),
    freePort().then((port) => startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port, fast: true })),
    writeWorkflowBundle(path.join(dir, 'workflow-bundle.js')),
    resolveTestServer(),
  ]);
  await writeFile(path.join(dir, RUN_FILE), JSON.stringify({ runner: process.pid, services: [temporal.pid, pg.pid].filter(Boolean) }));
  await pg.ensureDatabase('crm_test');
  await pg.ensureDatabase('crm_analytics_test');
  project.provide('temporalAddress', temporal.address);
  project.provide('pgUrl', pg.url('crm_test'));
  project.provide('pgAdminUrl', pg.url('postgres'));
  project.provide('analyticsPgUrl', pg.url('crm_analytics_test'));
  project.provide('workflowBundlePath', bundlePath);
  project.provide('testServerPath', testServerPath);
  const tally = path.join(dir, 'contract-tally.jsonl');
  await writeFile(tally, '');
  project.provide('contractTally', tally);
  const keyScanTally = path.join(dir, 'key-scan-tally.jsonl');
  await writeFile(keyScanTally, '');
  project.provide('keyScanTally', keyScanTally);
  console.log(`[test services] Temporal ${temporal.address}, PostgreSQL :${pg.port}, ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

  return async () => {
    await reportContractTally(tally);
    await reportKeyScan(keyScanTally);
    await Promise.allSettled([temporal.stop(), pg.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
}
