/**
 * What `npm start` and `npm run stack:cluster` share about running a stack of child processes:
 * the list of what runs (stopped in reverse on Ctrl-C or after a failure), the one-line failure,
 * the start-up helpers, and supervision (a child that dies is said so and started again).
 */
import { spawn } from 'node:child_process';
import { PROJECT_ROOT } from './paths.js';
import { stopperFor } from './processes.js';
import { isPortFree } from './ports.js';
import { step } from './progress.js';
import { onShutdown } from '../services.js';

/** A running child of the stack: `exited` settles with how it ended ("signal SIGKILL"). */
export interface Child {
  exited: Promise<string>;
  stop(): Promise<void>;
  pid?: number;
}

export const RESTARTS = 3;
export const RESTART_WINDOW_MS = 5 * 60_000;

export interface Stack {
  /** Something to stop when the stack stops (in reverse order of adding). */
  add(name: string, stop: () => Promise<void>): void;
  /**
   * Keeps a child running: when it dies, one line says so and it is started again (its state is on
   * disk). More than RESTARTS deaths within five minutes: an essential child stops the whole stack
   * with a clear message; another is left stopped and the rest keeps running.
   */
  supervise(name: string, first: Child, restart: () => Promise<Child>, opts: { essential: boolean; log: string }): { current(): Child };
  /** The whole stack is up: supervision starts now (a death before is a failed start). */
  markRunning(): void;
  stopAll(): Promise<void>;
  /** The one way out after a failure: stop what runs, one line with cause and fix, exit 1. */
  fail(err: unknown): Promise<never>;
  readonly stopping: boolean;
}

/** `failPrefix` starts the one line of a failed start ("Start failed"). Installs the signal and crash handlers. */
export function createStack(failPrefix: string): Stack {
  const items: Array<{ name: string; stop: () => Promise<void> }> = [];
  let stopping: Promise<void> | undefined;
  let markRunning!: () => void;
  const running = new Promise<void>((resolve) => (markRunning = resolve));

  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      if (!items.length) return;
      step('Stopping…');
      for (const s of items.reverse()) {
        try {
          await s.stop();
          step(`  stopped ${s.name}`);
        } catch (err) {
          step(`  ${s.name} did not stop cleanly: ${(err as Error).message}`);
        }
      }
    })();
    return stopping;
  };
  const fail = async (err: unknown): Promise<never> => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`\n${failPrefix}: ${message.split('\n').join(' ')}\n`);
    await stopAll();
    process.exit(1);
  };
  onShutdown(stopAll);
  process.on('uncaughtException', (err) => void fail(err));
  process.on('unhandledRejection', (err) => void fail(err));

  return {
    add: (name, stop) => items.push({ name, stop }),
    markRunning: () => markRunning(),
    stopAll,
    fail,
    get stopping() {
      return stopping !== undefined;
    },
    supervise(name, first, restart, opts) {
      let current = first;
      const deaths: number[] = [];
      items.push({ name, stop: () => current.stop() });
      void (async () => {
        for (;;) {
          const how = await current.exited;
          await running;
          if (stopping) return;
          const now = Date.now();
          deaths.push(now);
          while (deaths.length && now - deaths[0]! > RESTART_WINDOW_MS) deaths.shift();
          if (deaths.length > RESTARTS) {
            const message = `${name} stopped ${deaths.length} times within 5 minutes (last: ${how}); giving up. See ${opts.log}`;
            if (opts.essential) return fail(new Error(`${message}, fix the cause and start again.`));
            return step(`${message}. The rest of the stack keeps running without it.`);
          }
          step(`${name} stopped unexpectedly (${how}); restarting it (${deaths.length} of ${RESTARTS})`);
          try {
            await new Promise((r) => setTimeout(r, 1_000 * deaths.length));
            if (stopping) return;
            current = await restart();
            step(`${name} is running again`);
          } catch (err) {
            step(`${name} did not restart: ${(err as Error).message}`);
            current = { exited: Promise.resolve('failed restart'), stop: async () => undefined };
          }
        }
      })();
      return { current: () => current };
    },
  };
}

/** Wraps a failure with what to do about it, keeping the cause's own words. */
export function explain(what: string, fix: string) {
  return (err: unknown): never => {
    throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}. ${fix}`, { cause: err });
  };
}

export async function requirePorts(ports: Array<{ port: number; what: string; variable: string }>, hint = 'another `npm start`?'): Promise<void> {
  for (const p of ports) {
    if (!(await isPortFree(p.port))) {
      throw new Error(`port ${p.port} for ${p.what} is in use (${hint}). Stop what holds it or set ${p.variable} to another port.`);
    }
  }
}

/**
 * Runs the start-up tasks side by side; the first failure aborts the others (a Go build is
 * killed) and is the one reported, once everything has settled.
 */
export async function together<T extends readonly unknown[]>(abort: AbortController, tasks: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  let first: unknown;
  const settled = await Promise.allSettled(
    tasks.map((t) =>
      t.catch((err: unknown) => {
        if (!abort.signal.aborted) {
          first = err;
          abort.abort();
        }
        throw err;
      }),
    ),
  );
  if (abort.signal.aborted) throw first;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

export function aborted(signal: AbortSignal): void {
  if (signal.aborted) throw new Error('aborted');
}

/**
 * One of the project's Node entry points (src/worker/main.ts, src/api/main.ts,
 * src/analytics/main.ts) as a child process with `env` added to this one's; output to this console.
 */
export function spawnEntry(script: string, env: NodeJS.ProcessEnv, onError: (err: Error) => void): Child & { running(): boolean } {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('error', onError);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
  return { exited, pid: child.pid, stop: stopperFor(child), running: () => child.exitCode === null && child.signalCode === null };
}

/** Polls `url` until it answers 2xx, while `alive()`; false after `timeoutMs`. */
export async function waitForHttp(url: string, alive: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
