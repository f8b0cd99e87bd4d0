/**
 * The deal's pure rules: STAGE_PROBABILITIES as the config module reads it, the weighted amount,
 * ISO 4217 currencies, what a deal change really changes, and when a deal may change.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  DEFAULT_STAGE_PROBABILITIES,
  LEAD_STAGES,
  dealChangeRequestSchema,
  dealChanges,
  dealOf,
  opportunityRequestSchema,
  refuseDealChange,
  stageProbability,
  weightedAmount,
} from '../../src/domain/acquisition.js';

describe('STAGE_PROBABILITIES', () => {
  it('defaults to new 0.1, contacted 0.2, qualified 0.4, proposal 0.6, nurture 0.1, won 1, lost 0', () => {
    expect(loadConfig({}).acquisition.stageProbabilities).toEqual({ new: 0.1, contacted: 0.2, qualified: 0.4, proposal: 0.6, nurture: 0.1, won: 1, lost: 0 });
  });

  it('overrides the stages it names and keeps the defaults of the others', () => {
    const table = loadConfig({ STAGE_PROBABILITIES: '{"qualified":0.5,"proposal":0.75}' }).acquisition.stageProbabilities;
    expect(table).toEqual({ ...DEFAULT_STAGE_PROBABILITIES, qualified: 0.5, proposal: 0.75 });
    expect(stageProbability('proposal', table)).toBe(0.75);
    // A funnel started before deals had a table uses the defaults.
    expect(stageProbability('proposal', undefined)).toBe(0.6);
  });

  it('refuses a probability outside 0..1, an unknown stage and what is not JSON, naming the setting', () => {
    expect(() => loadConfig({ STAGE_PROBABILITIES: '{"won":1.5}' })).toThrow(/STAGE_PROBABILITIES: won: must be at most 1/);
    expect(() => loadConfig({ STAGE_PROBABILITIES: '{"closing":0.9}' })).toThrow(/STAGE_PROBABILITIES/);
    expect(() => loadConfig({ STAGE_PROBABILITIES: 'qualified=0.5' })).toThrow(/STAGE_PROBABILITIES must be a JSON object/);
  });
});

describe('the deal', () => {
  it('weighs an amount by its probability exactly to the cent', () => {
    expect(weightedAmount(119.88, 0.35)).toBe(41.96);
    expect(weightedAmount(2600, 0.65)).toBe(1690);
    expect(weightedAmount(300, 0)).toBe(0);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.constantFrom(...LEAD_STAGES), (cents, stage) => {
        const p = DEFAULT_STAGE_PROBABILITIES[stage];
        expect(Math.abs(weightedAmount(cents / 100, p) - (cents / 100) * p)).toBeLessThanOrEqual(0.005 + 1e-9);
      }),
    );
  });

  it('takes ISO 4217 currencies only, and an amount in cents', () => {
    expect(opportunityRequestSchema.safeParse({ productIds: ['tv-basic'], currency: 'USD', amount: 10.5 }).success).toBe(true);
    for (const currency of ['usd', 'EURO', 'ABC', 'XYZ']) {
      expect(opportunityRequestSchema.safeParse({ productIds: ['tv-basic'], currency }).success, currency).toBe(false);
    }
    expect(opportunityRequestSchema.safeParse({ productIds: ['tv-basic'], amount: 1.001 }).success).toBe(false);
    expect(opportunityRequestSchema.safeParse({ productIds: [] }).success).toBe(false);
  });

  it('defaults the currency to EUR and lists only the fields a change really changes', () => {
    const deal = dealOf({ amount: 100, productIds: ['tv-basic'] });
    expect(deal).toEqual({ amount: 100, currency: 'EUR', productIds: ['tv-basic'] });
    expect(dealChanges(deal, { amount: 100, productIds: ['tv-basic'] })).toEqual([]);
    expect(dealChanges(deal, { amount: 120, expectedClose: '2027-01-01', productIds: ['tv-premium'] })).toEqual([
      { field: 'amount', from: 100, to: 120 },
      { field: 'expectedClose', from: null, to: '2027-01-01' },
      { field: 'productIds', from: ['tv-basic'], to: ['tv-premium'] },
    ]);
    expect(dealChangeRequestSchema.safeParse({ reason: 'nothing else' }).success).toBe(false);
  });

  it('changes only while the deal is open and taken in', () => {
    const accepted = { outcome: 'accepted' } as const;
    expect(refuseDealChange({ stage: 'proposal', intake: accepted })).toBeUndefined();
    expect(refuseDealChange({ stage: 'won', intake: accepted })).toContain('closed deal');
    expect(refuseDealChange({ stage: 'lost', intake: accepted })).toContain('closed deal');
    expect(refuseDealChange({ stage: 'new', intake: { outcome: 'pending' } })).toContain('still being taken in');
    expect(refuseDealChange({ stage: 'new', intake: { outcome: 'duplicate' } })).toContain('duplicate');
  });
});
