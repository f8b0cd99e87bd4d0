/**
 * Shared by both APIs' error mappers (operational and analytics, which share no database code):
 * tells a database outage from a failed statement, so an outage answers 503 with Retry-After and a
 * 500 stays a fault of the code.
 */
/** Node's socket errors: the database cannot be reached at all. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs of a server that is going away, starting or full (class 08 is checked by prefix). */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** What node-postgres throws itself when a connection cannot be had or is lost (it sets no code). */
const DRIVER_MESSAGES = [/^timeout exceeded when trying to connect$/, /^Connection terminated/, /^Client has encountered a connection error/];

/**
 * Whether `err` (or its cause) says the database is unreachable, frozen or restarting rather than
 * that a statement failed: a dependency outage, which callers may retry, not a fault of the code.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    if (DRIVER_MESSAGES.some((m) => m.test(e.message))) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}
