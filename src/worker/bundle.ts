/**
 * The workflow bundle: built once (at start, in the test harness's global setup, or at image build
 * with `npm run build:workflows`) and handed to every worker as code, so no worker re-bundles.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export async function buildWorkflowBundle(): Promise<{ code: string }> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
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
