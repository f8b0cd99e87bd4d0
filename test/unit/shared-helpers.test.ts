/**
 * The small helpers every process shares: one duration parser (settings, campaign steps,
 * master-data policies) and key-order-insensitive JSON (request hashes, change comparisons).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { durationMs, parseDuration } from '../../src/domain/duration.js';
import { sameJson, stableJson } from '../../src/domain/stable-json.js';

describe('durations', () => {
  it('read what settings and policies are written in, decimals and milliseconds too', () => {
    expect(parseDuration('24 hours')).toBe(86_400_000);
    expect(parseDuration('500 ms')).toBe(500);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('3 Seconds')).toBe(3_000);
    expect(parseDuration('30')).toBeUndefined();
    expect(parseDuration('-1 day')).toBeUndefined();
    expect(() => durationMs('soon')).toThrow(/not a duration/);
  });
});

describe('stable JSON', () => {
  it('gives the same text for the same value whatever the key order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (value) => {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(stableJson(reversed)).toBe(stableJson(value));
        expect(sameJson(reversed, value)).toBe(true);
      }),
    );
  });

  it('sorts nested keys, keeps array order, and treats an absent value as null', () => {
    expect(stableJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson(undefined, null)).toBe(true);
  });
});
