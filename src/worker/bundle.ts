/**
 * The workflow bundle: built once (at start, in the test harness's global setup, or at image build
 * with `npm run build:workflows`) and handed to every worker as code, so no worker re-bundles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/**
 * Modules every workflow shares instead of evaluating its own copy: zod and the `src/domain`
 * modules the workflows import (with what they import). In the SDK's reusable V8 context each
 * workflow otherwise runs every module it imports again; evaluating zod and the domain's schemas
 * cost about 2.5 MiB and ~40 ms per workflow (the bench's memory section: 2.9 MiB per open funnel
 * before, 0.4 MiB after). The domain is pure by design (ARCHITECTURE.md: schemas, types, state
 * machines, message definitions), so sharing it shares no workflow's state; the SDK freezes what
 * a shared module exports, so a workflow that mutated one would fail loudly in the tests.
 */
export function preloadedModules(workflowsDir = path.dirname(WORKFLOWS_PATH)): string[] {
  const domain = new Set<string>();
  for (const file of readdirSync(workflowsDir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(path.join(workflowsDir, file), 'utf8');
    // Value imports only: a type import is erased and loads nothing.
    for (const m of source.matchAll(/^import (?!type )[^;]*? from '\.\.\/src\/domain\/([\w-]+)\.js';/gms)) domain.add(m[1]!);
  }
  const srcDomain = path.join(workflowsDir, '..', 'src', 'domain');
  return ['zod', ...[...domain].sort().map((m) => path.join(srcDomain, `${m}.ts`))];
}

export async function buildWorkflowBundle(): Promise<{ code: string }> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    preloadModules: preloadedModules(),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
}

export async function writeWorkflowBundle(file: string): Promise<string> {
  const { code } = await buildWorkflowBundle();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, code);
  return file;
}

/** A prebuilt bundle when WORKFLOW_BUNDLE_PATH names one, else a fresh build. */
export async function loadWorkflowBundle(prebuilt?: string): Promise<{ code: string }> {
  if (prebuilt) return { code: await readFile(prebuilt, 'utf8') };
  return buildWorkflowBundle();
}
