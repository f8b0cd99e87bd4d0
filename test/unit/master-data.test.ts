/**
 * Master-data rules: which fields a request really changes, which checks it needs (a code to the
 * new contact point, a second person's approval), the policy's sanity, and the contact-data
 * validators the changes are parsed with.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emailSchema, ibanSchema, maskIban, normaliseEmail, phoneSchema } from '../../src/domain/contact-data.js';
import {
  APPROVED_FIELDS,
  DEFAULT_MASTER_DATA_POLICY,
  MASTER_DATA_FIELDS,
  VERIFIED_FIELDS,
  changesSchema,
  checkPolicy,
  effectiveChanges,
  needsApproval,
  verificationTargets,
  type MasterData,
} from '../../src/domain/master-data.js';

const current: MasterData = {
  email: 'ada@example.com',
  phone: '+4930123456',
  address: { street: 'Unter den Linden 1', postalCode: '10117', city: 'Berlin', country: 'DE' },
  name: 'Ada Lovelace',
  birthDate: '1985-04-12',
  bankAccount: 'DE89370400440532013000',
};

describe('effective changes', () => {
  it('a request that repeats the current values changes nothing; e-mail compares case-insensitively', () => {
    expect(effectiveChanges(current, { email: 'ADA@Example.com', name: 'Ada Lovelace' }).fields).toEqual([]);
  });

  it('an address with the same values in another key order is no change', () => {
    const reordered = { country: 'DE', city: 'Berlin', postalCode: '10117', street: 'Unter den Linden 1' };
    expect(effectiveChanges(current, { address: reordered }).fields).toEqual([]);
  });

  it('what changes comes with the value it was requested against', () => {
    expect(effectiveChanges(current, { phone: '+4940999999', name: 'Ada Lovelace' })).toEqual({
      changes: { phone: '+4940999999' },
      base: { phone: '+4930123456' },
      fields: ['phone'],
    });
  });

  it('for any request, the changed fields are a subset of those asked for, each with its base, and applying them twice changes nothing', () => {
    const request = fc.record(
      {
        email: fc.constantFrom('ada@example.com', 'new@example.com'),
        phone: fc.constantFrom('+4930123456', '+4940999999'),
        name: fc.constantFrom('Ada Lovelace', 'Ada King'),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(request, (req) => {
        const { changes, base, fields } = effectiveChanges(current, req);
        for (const f of fields) {
          expect(Object.keys(req)).toContain(f);
          expect(base[f]).toEqual(current[f]);
        }
        const after = { ...current, ...changes } as MasterData;
        expect(effectiveChanges(after, req).fields).toEqual([]);
      }),
    );
  });
});

describe('checks a change needs', () => {
  it('a new e-mail or phone is confirmed at the new contact point; an address at the existing one', () => {
    expect(verificationTargets({ email: 'new@example.com', phone: '+4940999999', address: current.address! })).toEqual([
      { target: 'new-email', channel: 'email', recipient: 'new@example.com' },
      { target: 'new-phone', channel: 'sms', recipient: '+4940999999' },
      { target: 'existing-contact', channel: 'email' },
    ]);
    expect(verificationTargets({ name: 'Ada King' })).toEqual([]);
  });

  it('name, birth date and bank account need a second person; every field needs exactly one kind of check', () => {
    for (const f of MASTER_DATA_FIELDS) {
      expect(needsApproval([f])).toBe(APPROVED_FIELDS.includes(f));
      expect(VERIFIED_FIELDS.includes(f) !== APPROVED_FIELDS.includes(f), f).toBe(true);
    }
  });

  it('a request must name at least one field, and no unknown one', () => {
    expect(changesSchema.safeParse({}).success).toBe(false);
    expect(changesSchema.safeParse({ shoeSize: 42 }).success).toBe(false);
  });
});

describe('the master-data policy', () => {
  it('the defaults pass', () => {
    expect(() => checkPolicy(DEFAULT_MASTER_DATA_POLICY)).not.toThrow();
  });

  it('names a duration that does not parse, and refuses an expiry not longer than the approval timeout', () => {
    expect(() => checkPolicy({ ...DEFAULT_MASTER_DATA_POLICY, codeTtl: 'soon' })).toThrow(/codeTtl 'soon' is not a duration/);
    expect(() => checkPolicy({ ...DEFAULT_MASTER_DATA_POLICY, approvalExpiry: '1 hour', approvalTimeout: '2 hours' })).toThrow(
      /approvalExpiry must be longer than approvalTimeout/,
    );
  });
});

describe('contact-data validators', () => {
  it('an e-mail is normalised to its dedupe key idempotently', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (e) => {
        expect(normaliseEmail(normaliseEmail(` ${e} `))).toBe(normaliseEmail(e));
      }),
    );
  });

  it('an e-mail the schema accepts is accepted in any case', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (e) => {
        if (emailSchema.safeParse(e).success) expect(emailSchema.safeParse(e.toUpperCase()).success).toBe(true);
      }),
    );
  });

  it('a phone number is kept as its E.164 digits whatever spaces, parentheses and hyphens it was sent with', () => {
    const digits = fc.stringMatching(/^[1-9]\d{6,14}$/);
    const sep = fc.constantFrom('', ' ', '-', '(', ')');
    fc.assert(
      fc.property(digits, fc.array(sep, { minLength: 20, maxLength: 20 }), (d, seps) => {
        const sent = `+${[...d].map((c, i) => c + seps[i]!).join('')}`;
        expect(phoneSchema.parse(sent)).toBe(`+${d}`);
      }),
    );
    expect(phoneSchema.safeParse('030 123456').success).toBe(false);
  });

  it('an IBAN is taken with spaces in any case, refused with a wrong check digit, and masked to country, check digits and last four', () => {
    expect(ibanSchema.parse('de89 3704 0044 0532 0130 00')).toBe('DE89370400440532013000');
    const wrong = ibanSchema.safeParse('DE88370400440532013000');
    expect(wrong.error?.issues[0]?.message).toBe('has a wrong check digit (mod-97 checksum)');
    expect(maskIban('DE89370400440532013000')).toBe('DE89…3000');
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z]{2}\d{2}[A-Z0-9]{5,30}$/), (iban) => {
        const masked = maskIban(iban);
        expect(masked).toBe(`${iban.slice(0, 4)}…${iban.slice(-4)}`);
        expect(masked.length).toBe(9);
      }),
    );
  });
});
