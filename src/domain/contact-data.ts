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

/**
 * The e-mail addresses the API accepts. It is also the `pattern` of every e-mail field in the
 * OpenAPI document, so a client checks exactly what the API checks (no trimming: the value is
 * taken as sent). It is the intersection of zod's e-mail check and JSON Schema's `format: email`.
 */
export const EMAIL_PATTERN = /^(?!\.)(?!.*\.\.)[A-Za-z0-9_'+.-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$/;

export const emailSchema = z
  .email({ pattern: EMAIL_PATTERN, message: 'must be a valid e-mail address' })
  .max(254, 'an e-mail address has at most 254 characters')
  .meta({ pattern: EMAIL_PATTERN.source, example: 'ada@example.com' });

/** E.164 once spaces, parentheses and hyphens are removed; the pattern describes the value as sent. */
export const PHONE_PATTERN = /^[\s()-]*\+[\s()-]*[1-9](?:[\s()-]*\d){6,14}[\s()-]*$/;

export const phoneSchema = z
  .string()
  .regex(PHONE_PATTERN, 'must be a phone number in E.164 format, e.g. +4930123456')
  .meta({
    description: 'E.164 (+, country code, number; 7 to 15 digits). Spaces, parentheses and hyphens are allowed and removed.',
    example: '+49 30 1234567',
  })
  .transform((v) => v.replace(/[\s()-]/g, ''));

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });

export function isIsoCountry(code: string): boolean {
  if (!/^[A-Z]{2}$/.test(code)) return false;
  const name = regionNames.of(code);
  return name !== undefined && name !== code && name !== 'Unknown Region';
}

/**
 * Postcode patterns of the countries we serve most, as sent (any case; stored upper-case).
 * Other countries get the plausibility check that every postcode passes.
 */
export const POSTCODE_PATTERNS: Record<string, RegExp> = {
  DE: /^\d{5}$/,
  AT: /^\d{4}$/,
  CH: /^\d{4}$/,
  FR: /^\d{5}$/,
  NL: /^\d{4} ?[A-Za-z]{2}$/,
  GB: /^(?:[Gg][Ii][Rr] ?0[Aa]{2}|[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2})$/,
  US: /^\d{5}(?:-\d{4})?$/,
};
/** What every postcode of any country looks like, as sent. */
export const ANY_POSTCODE = /^[A-Za-z0-9 -]{2,12}$/;

/** An assigned ISO 3166-1 alpha-2 code, any case as sent; upper-case once parsed. */
export const countryCodeSchema = z
  .string()
  .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code, e.g. DE')
  .refine((v) => isIsoCountry(v.toUpperCase()), 'must be an ISO 3166-1 alpha-2 country code, e.g. DE')
  .meta({ description: 'An assigned ISO 3166-1 alpha-2 country code, any case; stored upper-case.', example: 'DE' })
  .transform((v) => v.toUpperCase());

/** `DE` → `^[Dd][Ee]$`: a country code in any case, as a JSON-schema pattern. */
function anyCase(code: string): string {
  return `^${[...code].map((ch) => `[${ch}${ch.toLowerCase()}]`).join('')}$`;
}

export const addressSchema = z
  .object({
    street: z.string().trim().min(1, 'street is required').max(200).meta({ pattern: '\\S' }),
    postalCode: z
      .string()
      .regex(ANY_POSTCODE, 'is not a valid postcode')
      .meta({
        description: `2 to 12 letters, digits, spaces or hyphens; stored upper-case. Checked per country: ${Object.entries(POSTCODE_PATTERNS)
          .map(([c, p]) => `${c} ${p.source}`)
          .join(', ')}.`,
        example: '10115',
      })
      .transform((v) => v.toUpperCase()),
    city: z.string().trim().min(1, 'city is required').max(100).meta({ pattern: '\\S' }),
    country: countryCodeSchema,
  })
  .strict()
  .superRefine((a, ctx) => {
    const pattern = POSTCODE_PATTERNS[a.country];
    if (pattern && !pattern.test(a.postalCode)) ctx.addIssue({ code: 'custom', path: ['postalCode'], message: `is not a valid postcode for ${a.country}` });
  })
  // The per-country postcode rules, in JSON Schema: a generated client checks them too.
  .meta({
    allOf: Object.entries(POSTCODE_PATTERNS).map(([country, pattern]) => ({
      if: { properties: { country: { pattern: anyCase(country) } }, required: ['country'] },
      then: { properties: { postalCode: { pattern: pattern.source } } },
    })),
  });
export type Address = z.infer<typeof addressSchema>;

export const localeSchema = z
  .string()
  .max(35)
  .regex(/^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/, 'must be a BCP 47 language tag, e.g. en or de-DE')
  .refine((v) => {
    try {
      return Intl.getCanonicalLocales(v).length === 1;
    } catch {
      return false;
    }
  }, 'must be a BCP 47 language tag, e.g. en or de-DE')
  .meta({ description: 'A BCP 47 language tag that Intl.getCanonicalLocales accepts', example: 'de-DE' });

export const personNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'has at most 200 characters')
  .refine((v) => !/\p{Cc}/u.test(v), 'must not contain control characters')
  .meta({
    pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$',
    example: 'Ada Lovelace',
  });

/**
 * IBAN: electronic format (no spaces, upper case), the country's registered length and BBAN
 * pattern, and the ISO 13616 mod-97 checksum (ibantools carries the per-country table).
 */
/** An IBAN's shape as sent: two letters, two digits, 11 to 30 letters or digits; spaces and hyphens anywhere. */
export const IBAN_PATTERN = /^[ -]*[A-Za-z][ -]*[A-Za-z][ -]*\d[ -]*\d(?:[ -]*[A-Za-z0-9]){11,30}[ -]*$/;

export const ibanSchema = z
  .string()
  .regex(IBAN_PATTERN, 'is not a valid IBAN')
  .meta({
    description:
      "An IBAN; spaces and hyphens are ignored, any case. Checked beyond the pattern: the country's registered length and BBAN format, and the ISO 13616 mod-97 check digits.",
    example: 'DE89 3704 0044 0532 0130 00',
  })
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
export const birthDateSchema = z.iso
  .date({ message: 'must be a calendar date as YYYY-MM-DD' })
  .superRefine((v, ctx) => {
    const date = new Date(`${v}T00:00:00Z`);
    const today = new Date();
    if (date.getTime() >= Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())) {
      ctx.addIssue({ code: 'custom', message: 'must lie in the past' });
    } else if (date.getUTCFullYear() < today.getUTCFullYear() - MAX_AGE_YEARS) {
      ctx.addIssue({ code: 'custom', message: `is not plausible (more than ${MAX_AGE_YEARS} years ago)` });
    }
  })
  .meta({ description: `A calendar date before today (UTC) and at most ${MAX_AGE_YEARS} years back`, example: '1985-04-12' });
