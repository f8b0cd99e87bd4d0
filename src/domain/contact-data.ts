/**
 * Formats of contact data shared by every process that takes them: e-mail, phone (E.164),
 * postal address (ISO 3166-1 country, per-country postcode patterns), locale.
 */
import { z } from 'zod';
import { electronicFormatIBAN, getCountrySpecifications, validateIBAN, ValidationErrorsIBAN } from 'ibantools';

/** Lower-cased, trimmed; the dedupe key of customers and leads. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const emailSchema = z
  .string()
  .trim()
  .max(254, 'an e-mail address has at most 254 characters')
  .pipe(z.email({ message: 'must be a valid e-mail address' }));

export const phoneSchema = z
  .string()
  .trim()
  .transform((v) => v.replace(/[\s()-]/g, ''))
  .pipe(z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be a phone number in E.164 format, e.g. +4930123456'));

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

export function isIsoCountry(code: string): boolean {
  if (!/^[A-Z]{2}$/.test(code)) return false;
  const name = regionNames.of(code);
  return name !== undefined && name !== code && name !== 'Unknown Region';
}

/** Postcode patterns of the countries we serve most; other countries get a plausibility check. */
export const POSTCODE_PATTERNS: Record<string, RegExp> = {
  DE: /^\d{5}$/,
  AT: /^\d{4}$/,
  CH: /^\d{4}$/,
  FR: /^\d{5}$/,
  NL: /^\d{4} ?[A-Z]{2}$/,
  GB: /^(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})$/,
  US: /^\d{5}(-\d{4})?$/,
};

export const addressSchema = z
  .object({
    street: z.string().trim().min(1, 'street is required').max(200),
    postalCode: z.string().trim().toUpperCase().min(1, 'postalCode is required').max(12),
    city: z.string().trim().min(1, 'city is required').max(100),
    country: z
      .string()
      .trim()
      .toUpperCase()
      .refine(isIsoCountry, 'must be an ISO 3166-1 alpha-2 country code, e.g. DE'),
  })
  .strict()
  .superRefine((a, ctx) => {
    const pattern = POSTCODE_PATTERNS[a.country];
    const ok = pattern ? pattern.test(a.postalCode) : /^[A-Z0-9 -]{2,12}$/.test(a.postalCode);
    if (!ok) ctx.addIssue({ code: 'custom', path: ['postalCode'], message: `is not a valid postcode for ${a.country}` });
  });
export type Address = z.infer<typeof addressSchema>;

export const localeSchema = z
  .string()
  .trim()
  .max(35)
  .refine((v) => {
    try {
      return Intl.getCanonicalLocales(v).length === 1;
    } catch {
      return false;
    }
  }, 'must be a BCP 47 language tag, e.g. en or de-DE');

export const personNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'has at most 200 characters')
  .refine((v) => !/\p{Cc}/u.test(v), 'must not contain control characters');

/**
 * IBAN: electronic format (no spaces, upper case), the country's registered length and BBAN
 * pattern, and the ISO 13616 mod-97 checksum (ibantools carries the per-country table).
 */
export const ibanSchema = z
  .string()
  .transform((v) => electronicFormatIBAN(v) ?? '')
  .superRefine((iban, ctx) => {
    const { valid, errorCodes } = validateIBAN(iban);
    if (valid) return;
    const message = errorCodes.includes(ValidationErrorsIBAN.NoIBANCountry)
      ? 'must start with the ISO country code of a country that uses IBANs'
      : errorCodes.includes(ValidationErrorsIBAN.WrongBBANLength)
        ? `has the wrong length for ${iban.slice(0, 2)} (${getCountrySpecifications()[iban.slice(0, 2)]?.chars ?? '?'} characters expected)`
        : errorCodes.includes(ValidationErrorsIBAN.WrongIBANChecksum) || errorCodes.includes(ValidationErrorsIBAN.ChecksumNotNumber)
          ? 'has a wrong check digit (mod-97 checksum)'
          : 'is not a valid IBAN';
    ctx.addIssue({ code: 'custom', message });
  });

/** What may be shown of an IBAN outside the customer record: country, check digits, last four. */
export function maskIban(iban: string): string {
  return iban.length <= 8 ? '****' : `${iban.slice(0, 4)}…${iban.slice(-4)}`;
}

/** Oldest plausible age of a living customer. */
export const MAX_AGE_YEARS = 130;

/** An ISO calendar date (YYYY-MM-DD) that exists, lies in the past and no more than 130 years back. */
export const birthDateSchema = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .superRefine((v, ctx) => {
    const date = new Date(`${v}T00:00:00Z`);
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== v) {
      ctx.addIssue({ code: 'custom', message: 'is not a calendar date' });
      return;
    }
    const today = new Date();
    if (date.getTime() >= Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())) {
      ctx.addIssue({ code: 'custom', message: 'must lie in the past' });
    } else if (date.getUTCFullYear() < today.getUTCFullYear() - MAX_AGE_YEARS) {
      ctx.addIssue({ code: 'custom', message: `is not plausible (more than ${MAX_AGE_YEARS} years ago)` });
    }
  });
