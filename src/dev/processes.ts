import type { ChildProcess } from 'node:child_process';

/**
 * How the embedded stack stops a child process it started: SIGTERM, SIGKILL after a grace
 * period, and nothing at all when it has already exited (Ctrl-C reaches the whole group).
 */
export function stopperFor(child: ChildProcess, graceMs = 10_000): () => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
}
