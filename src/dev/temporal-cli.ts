/**
 * Finds the Temporal CLI (which contains the dev server), in the order ARCHITECTURE.md gives:
 * TEMPORAL_CLI_PATH, `temporal` on PATH, .tools/bin/temporal, a `go install` into .tools/bin
 * (first run only), and last the SDK's own download (machines with internet access).
 */
import { spawn } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TOOLS_BIN } from './paths.js';
import { step } from './progress.js';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export type TemporalCli = { kind: 'binary'; path: string; source: string } | { kind: 'sdk-download' };

export async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Packages `go install` compiles for the CLI from an empty build cache (`go list -deps` of
 * cmd/temporal at the pinned version, standard library included): the yardstick for "how far".
 */
const CLI_PACKAGES = 1_300;

export interface GoBuild {
  /** What is built, for the progress lines ("the Temporal CLI"). */
  what: string;
  /** `module/cmd/x@version` for `go install`. */
  targets: string[];
  /** Packages compiled from an empty build cache (`go list -deps`): the yardstick for "how far". */
  packages: number;
}

/** `go install -v` with a progress line every 15 s: modules fetched, packages compiled, time left. */
export function goInstall(go: string, env: NodeJS.ProcessEnv, build: GoBuild, signal?: AbortSignal): Promise<void> {
  const { what, packages } = build;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let downloads = 0;
    let compiled = 0;
    let firstCompiledAt = 0;
    let tail: string[] = [];
    const child = spawn(go, ['install', '-v', ...build.targets], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    let partial = '';
    child.stderr.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('go: downloading ')) downloads++;
        else if (/^[\w.\-/]+$/.test(line)) {
          compiled++;
          firstCompiledAt ||= Date.now();
        } else if (line.trim()) tail = [...tail.slice(-4), line];
      }
    });
    const timer = setInterval(() => {
      const elapsed = Math.round((Date.now() - t0) / 1000);
      if (!compiled) {
        step(`  building ${what}: fetching Go modules (${downloads} so far, ${elapsed}s)`);
        return;
      }
      const share = Math.min(compiled / packages, 0.99);
      const rate = compiled / ((Date.now() - firstCompiledAt) / 1000);
      const left = Math.max(5, Math.round((packages - compiled) / Math.max(rate, 0.1)));
      step(
        `  building ${what}: ${compiled} of about ${packages} packages compiled (${Math.round(share * 100)}%), about ${left >= 90 ? `${Math.round(left / 60)} min` : `${left}s`} left (${elapsed}s so far)`,
      );
    }, 15_000);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('exit', (code, sig) => {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(new Error(`the build of ${what} was stopped`));
      else if (code === 0) resolve();
      else reject(new Error(`go install exited with ${code ?? sig}${tail.length ? `: ${tail.join(' | ')}` : ''}`));
    });
  });
}

export async function resolveTemporalCli(opts: { install?: boolean; signal?: AbortSignal } = {}): Promise<TemporalCli> {
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
      await goInstall(
        go,
        { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' },
        { what: 'the Temporal CLI', targets: [TEMPORAL_CLI_MODULE], packages: CLI_PACKAGES },
        opts.signal,
      );
      if (await isExecutable(local)) {
        step(`Temporal CLI built: ${local}`);
        return { kind: 'binary', path: local, source: 'go install' };
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err;
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
