/**
 * Finds the Temporal CLI (which contains the dev server), in the order ARCHITECTURE.md gives:
 * TEMPORAL_CLI_PATH, `temporal` on PATH, .tools/bin/temporal, a `go install` into .tools/bin
 * (first run only), and last the SDK's own download (machines with internet access).
 */
import { spawn } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TOOLS_BIN } from './paths.js';
import { step, withHeartbeat } from './progress.js';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export type TemporalCli = { kind: 'binary'; path: string; source: string } | { kind: 'sdk-download' };

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}`))));
  });
}

export async function resolveTemporalCli(opts: { install?: boolean } = {}): Promise<TemporalCli> {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (await isExecutable(fromEnv)) return { kind: 'binary', path: fromEnv, source: 'TEMPORAL_CLI_PATH' };
    throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
  }
  const fromPath = await onPath('temporal');
  if (fromPath) return { kind: 'binary', path: fromPath, source: 'PATH' };
  const local = path.join(TOOLS_BIN, 'temporal');
  if (await isExecutable(local)) return { kind: 'binary', path: local, source: '.tools/bin' };
  if (opts.install === false) return { kind: 'sdk-download' };

  const go = await onPath('go');
  if (go) {
    step(`Building the Temporal CLI with Go (first run only, a few minutes): go install ${TEMPORAL_CLI_MODULE}`);
    await mkdir(TOOLS_BIN, { recursive: true });
    try {
      await withHeartbeat(run(go, ['install', TEMPORAL_CLI_MODULE], { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' }), 'building the Temporal CLI');
      if (await isExecutable(local)) {
        step(`Temporal CLI built: ${local}`);
        return { kind: 'binary', path: local, source: 'go install' };
      }
    } catch (err) {
      step(`go install failed: ${(err as Error).message}; trying the SDK's download next`);
    }
  }
  if (process.env.TEMPORAL_NO_DOWNLOAD === '1') {
    throw new Error(
      'No Temporal CLI found. Install one of: set TEMPORAL_CLI_PATH to a temporal binary; put `temporal` on PATH; ' +
        `or install Go and run: GOBIN=${TOOLS_BIN} go install ${TEMPORAL_CLI_MODULE}`,
    );
  }
  return { kind: 'sdk-download' };
}
