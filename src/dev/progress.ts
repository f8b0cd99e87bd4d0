/** Human progress lines for the embedded stack (the services themselves log JSON). */
const started = Date.now();

export function step(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  process.stdout.write(`[crm ${s}s] ${message}\n`);
}

/** Prints "still …" every `everyMs` while `promise` runs, so a long first-run build never looks hung. */
export async function withHeartbeat<T>(promise: Promise<T>, what: string, everyMs = 15_000): Promise<T> {
  const t0 = Date.now();
  const timer = setInterval(() => step(`  still ${what} (${Math.round((Date.now() - t0) / 1000)}s)`), everyMs);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}
