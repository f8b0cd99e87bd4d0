/**
 * Formats whose JSON Schema `format` is looser than what the API parses, so the exact syntax is
 * published as the field's `pattern` too and a generated client refuses what the API refuses.
 */
import { z } from 'zod';

/**
 * Date-times: ISO 8601 with seconds and an offset (`Z` or `±hh:mm`), upper-case `T` and `Z`, a
 * real calendar day. `format: date-time` (RFC 3339) also allows a lower-case `t` or `z`, a
 * space, a leap second or `+0200`.
 */
const DATE_TIME_PATTERN = z.regexes.datetime({ offset: true, local: false, precision: null }).source;

export function dateTimeSchema(message = 'must be an ISO 8601 date-time with offset, e.g. 2026-05-01T09:30:00Z') {
  return z.iso.datetime({ offset: true, message }).meta({ pattern: DATE_TIME_PATTERN });
}

const UUID_PATTERN = z.regexes.uuid().source;

/** Ids: an RFC 9562 UUID (version 1 to 8, its variant bits set). `format: uuid` also allows any hex of that shape and a `urn:uuid:` prefix. */
export function uuidSchema(message: string) {
  return z.uuid({ message }).meta({ pattern: UUID_PATTERN });
}
