/**
 * Durations as people write them and as Temporal reads them: "2 days", "36 hours", "15m",
 * "500 ms", "2w", "1.5h". One parser for settings, campaign steps and master-data policies.
 * Pure: the workflows use it too.
 */
const UNITS: Record<string, number> = {};
for (const [ms, names] of [
  [1, ['ms', 'msec', 'msecs', 'millisecond', 'milliseconds']],
  [1_000, ['s', 'sec', 'secs', 'second', 'seconds']],
  [60_000, ['m', 'min', 'mins', 'minute', 'minutes']],
  [3_600_000, ['h', 'hr', 'hrs', 'hour', 'hours']],
  [86_400_000, ['d', 'day', 'days']],
  [604_800_000, ['w', 'week', 'weeks']],
  [31_557_600_000, ['y', 'yr', 'yrs', 'year', 'years']],
] as const) {
  for (const name of names) UNITS[name] = ms;
}

/** Milliseconds, or undefined when the text is not a number with a unit. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text);
  const unit = match && UNITS[match[2]!.toLowerCase()];
  return unit === undefined || unit === null ? undefined : Math.round(Number(match![1]) * unit);
}

/** Milliseconds of a duration that must be one ("24 hours" → 86400000); throws otherwise. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new TypeError(`"${text}" is not a duration such as "24 hours"`);
  return ms;
}
