/**
 * JSON whose text does not depend on key order: objects' keys sorted at every depth. Equal values
 * give equal text, whichever way they were built (jsonb hands objects back in its own key order,
 * clients send keys in theirs). Pure: workflows may use it.
 */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    // localeCompare: the order of the request hashes already stored with Idempotency-Keys.
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  }
  return v;
}

/** The text of a value with sorted keys; undefined for undefined, as JSON.stringify. */
export function stableJson(v: unknown): string | undefined {
  return JSON.stringify(sortKeys(v));
}

/** Equal as JSON, whatever the key order; undefined and null are the same (an absent value). */
export function sameJson(a: unknown, b: unknown): boolean {
  return stableJson(a ?? null) === stableJson(b ?? null);
}
