/**
 * Retention's pure rules: step durations, quiet hours in the customer's time zone, and the
 * segment and campaign definitions a campaign is validated with.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { durationSchema, localMinuteOfDay, parseDuration, quietHoursEnd, quietHoursSchema, segmentSchema } from '../../src/domain/retention.js';

describe('step durations', () => {
  it('read a number and a unit in any case and spacing', () => {
    expect(parseDuration('7 days')).toBe(7 * 86_400_000);
    expect(parseDuration('12H')).toBe(12 * 3_600_000);
    expect(parseDuration(' 30 minutes ')).toBe(30 * 60_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('3 fortnights')).toBeUndefined();
  });

  it('a step waits more than nothing and at most a year', () => {
    expect(durationSchema.safeParse('0 days').success).toBe(false);
    expect(durationSchema.safeParse('366 days').success).toBe(false);
    expect(durationSchema.safeParse('365 days').success).toBe(true);
  });

  it('any whole number of any unit parses to that many of the unit', () => {
    const units = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999 }), fc.constantFrom(...(Object.keys(units) as Array<keyof typeof units>)), (n, u) => {
        expect(parseDuration(`${n}${u}`)).toBe(n * units[u]);
      }),
    );
  });
});

describe('quiet hours', () => {
  const night = { start: '22:00', end: '07:00' };

  it('a message at 23:30 in Berlin waits until 07:00 Berlin time; at noon it goes at once', () => {
    const lateEvening = new Date('2026-06-01T21:30:00Z'); // 23:30 CEST
    expect(quietHoursEnd(lateEvening, 'Europe/Berlin', night)?.toISOString()).toBe('2026-06-02T05:00:00.000Z');
    expect(quietHoursEnd(new Date('2026-06-01T10:00:00Z'), 'Europe/Berlin', night)).toBeUndefined();
  });

  it('for any moment inside the window, the answer lies ahead, within a day, at the local end of the window; outside there is none', () => {
    const zones = fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney');
    const clock = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    // Away from daylight-saving changes, where the answer may be an hour off by design.
    const moment = fc.integer({ min: Date.parse('2026-06-01T00:00:00Z'), max: Date.parse('2026-08-31T00:00:00Z') }).map((ms) => new Date(ms));
    fc.assert(
      fc.property(moment, zones, clock, clock, (now, tz, start, end) => {
        fc.pre(start !== end);
        const resume = quietHoursEnd(now, tz, { start, end });
        if (!resume) return;
        expect(resume.getTime()).toBeGreaterThan(now.getTime() - 60_000);
        expect(resume.getTime() - now.getTime()).toBeLessThanOrEqual(86_400_000);
        const [h, m] = end.split(':').map(Number);
        expect(localMinuteOfDay(resume, tz)).toBe(h! * 60 + m!);
        expect(quietHoursEnd(resume, tz, { start, end })).toBeUndefined();
      }),
    );
  });

  it('a window needs a start and an end that differ, as HH:MM', () => {
    expect(quietHoursSchema.safeParse({ start: '22:00', end: '22:00' }).success).toBe(false);
    expect(quietHoursSchema.safeParse({ start: '24:00', end: '07:00' }).success).toBe(false);
  });
});

describe('segments', () => {
  it('a range gives min, max or both, min not above max', () => {
    expect(segmentSchema.safeParse({ tenureDays: {} }).success).toBe(false);
    expect(segmentSchema.safeParse({ tenureDays: { min: 10, max: 5 } }).success).toBe(false);
    expect(segmentSchema.safeParse({ tenureDays: { min: 5, max: 10 }, churnRisk: { min: 0.5 } }).success).toBe(true);
  });

  it('for any pair of bounds, a range is valid exactly when min does not exceed max', () => {
    fc.assert(
      fc.property(fc.nat(36_500), fc.nat(36_500), (a, b) => {
        expect(segmentSchema.safeParse({ daysSinceLastPurchase: { min: a, max: b } }).success).toBe(a <= b);
      }),
    );
  });

  it('unknown rules are refused rather than ignored', () => {
    expect(segmentSchema.safeParse({ favouriteColour: 'blue' }).success).toBe(false);
  });
});
