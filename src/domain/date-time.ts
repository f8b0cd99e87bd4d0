/**
 * Date-times as the API takes them: ISO 8601 with seconds and an offset (`Z` or `±hh:mm`), upper-case
 * `T` and `Z`, a real calendar day. JSON Schema's `format: date-time` (RFC 3339) also allows a
 * lower-case `t` or `z`, a space, a leap second or `+0200`, which the API refuses, so the exact
 * syntax is published as the field's `pattern` too.
 */
import { z } from 'zod';

const DATE_TIME_PATTERN = z.regexes.datetime({ offset: true, local: false, precision: null }).source;

export function dateTimeSchema(message = 'must be an ISO 8601 date-time with offset, e.g. 2026-05-01T09:30:00Z') {
  return z.iso.datetime({ offset: true, message }).meta({ pattern: DATE_TIME_PATTERN });
}
