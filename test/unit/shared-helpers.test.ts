/**
 * The small helpers every process shares: one duration parser (settings, campaign steps,
 * master-data policies) and key-order-insensitive JSON (request hashes, change comparisons).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { durationMs, parseDuration } from '../../src/domain/duration.js';
import { sameJson, stableJson } from '../../src/domain/stable-json.js';
import { withConcurrency } from '../../activities/retention.js';
import { isDatabaseUnavailable } from '../../src/http/database-unavailable.js';

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

describe('bounded concurrency (campaign pages, import funnel starts)', () => {
  it('runs every item once with never more than the limit in flight', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer(), { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), async (items, limit) => {
        let inFlight = 0;
        let peak = 0;
        const seen: number[] = [];
        await withConcurrency(items, limit, async (item) => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setImmediate(r));
          seen.push(item);
          inFlight--;
        });
        expect(seen.sort()).toEqual([...items].sort());
        expect(peak).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 50 },
    );
  });

  it('takes no further item once its signal aborts (a cancelled or terminated run), and rejects with the reason', async () => {
    const abort = new AbortController();
    const done: number[] = [];
    const run = withConcurrency(
      Array.from({ length: 100 }, (_, i) => i),
      4,
      async (i) => {
        await new Promise((r) => setImmediate(r));
        done.push(i);
        if (i === 9) abort.abort(new Error('run terminated'));
      },
      abort.signal,
    );
    await expect(run).rejects.toThrow('run terminated');
    // The items already in flight when it aborted end; none after them starts.
    expect(done.length).toBeGreaterThanOrEqual(10);
    expect(done.length).toBeLessThanOrEqual(10 + 3);
  });
});

describe('a database outage told from a failed statement', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
  it('is an outage when the database cannot be reached, is frozen or restarting', () => {
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('terminating connection due to administrator command', '57P01'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('the database system is starting up', '57P03'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('connection failure', '08006'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('audit write failed', { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') }))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'all addresses failed'))).toBe(true);
  });
  it('is a fault when a statement failed or anything else went wrong', () => {
    expect(isDatabaseUnavailable(withCode('duplicate key value violates unique constraint', '23505'))).toBe(false);
    expect(isDatabaseUnavailable(withCode('syntax error at or near "SELEC"', '42601'))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isDatabaseUnavailable('timeout exceeded when trying to connect')).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
