/** Offer rules as the API takes them: kinds, products, prices and the eligibility rules it names. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ELIGIBILITY_RULES, OFFER_KINDS, offerRequestSchema, offerResponseSchema, productCreateSchema, productPatchSchema } from '../../src/domain/offers.js';

describe('offer rules', () => {
  it('every kind has its own eligibility rule, named for it', () => {
    for (const kind of OFFER_KINDS) expect(Object.keys(ELIGIBILITY_RULES).filter((r) => r.startsWith(`${kind}-`))).toHaveLength(1);
  });

  it('an offer names a known kind and a product slug; a customer answers accept or decline', () => {
    expect(offerRequestSchema.safeParse({ kind: 'upsell', productId: 'crm-pro' }).success).toBe(true);
    expect(offerRequestSchema.safeParse({ kind: 'resell', productId: 'crm-pro' }).error?.issues[0]?.message).toBe(
      'must be one of upsell, cross-sell, downsell',
    );
    expect(offerRequestSchema.safeParse({ kind: 'upsell', productId: 'CRM Pro' }).success).toBe(false);
    expect(offerResponseSchema.safeParse({ decision: 'maybe' }).success).toBe(false);
  });

  it('a price is never negative and has at most two decimals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (cents) => {
        expect(productCreateSchema.safeParse({ id: 'p1', name: 'P', category: 'crm', tier: 1, price: cents / 100 }).success).toBe(true);
      }),
    );
    expect(productCreateSchema.safeParse({ id: 'p1', name: 'P', category: 'crm', tier: 1, price: 1.005 }).success).toBe(false);
    expect(productCreateSchema.safeParse({ id: 'p1', name: 'P', category: 'crm', tier: 1, price: -1 }).success).toBe(false);
  });

  it('a product change names at least one field', () => {
    expect(productPatchSchema.safeParse({}).success).toBe(false);
    expect(productPatchSchema.safeParse({ active: false }).success).toBe(true);
  });
});
