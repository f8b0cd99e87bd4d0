/**
 * The document and the validators agree, field by field (property-based): a value the published
 * schema rejects (ajv over /openapi.json) is refused by the API with a 400 naming that field, and
 * a value the API refuses is rejected by the schema. Each request goes to a customer that does not
 * exist, so an accepted value answers 404 without starting a workflow.
 *
 * What a schema cannot say is in the field's description and excluded from the second direction
 * only, by the validator's `custom` code: an IBAN's per-country length and mod-97 check digits,
 * a time-zone name the time-zone database does not know, a birth date in the future or more than
 * 130 years back, an event that happened in the future.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Contract } from './support/contract.js';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;
let contract: Contract;
let runs = 0;
const RUNS = 150;
const missingCustomer = '00000000-0000-4000-8000-00000000c0de';

beforeAll(async () => {
  h = await startHarness('contract_props', { checkResponses: true });
  contract = await h.contract();
});
afterAll(async () => {
  if (contract) console.info(`contract properties: ${runs} property runs, ${contract.responsesChecked} responses checked`);
  await h?.close();
});

interface Field<T> {
  operationId: string;
  method: string;
  url: string;
  /** The field as the API names it in `errors[].path`. */
  path: string;
  body(value: T): unknown;
  values: fc.Arbitrary<T>;
  /** Refusals that only the description states: excluded from "refused ⇒ schema rejects". */
  describedOnly?: (error: { code: string; message: string }) => boolean;
}

async function agree<T>(field: Field<T>) {
  const seen = { schemaRejects: 0, schemaAccepts: 0, apiRefuses: 0 };
  await fc.assert(
    fc.asyncProperty(field.values, async (value) => {
      runs++;
      const body = field.body(value);
      const schemaErrors = contract.requestBodyErrors(field.operationId, body);
      const res = await h.json(field.method, field.url, { as: 'admin', body });
      expect([400, 404], `${JSON.stringify(value)}: ${JSON.stringify(res.body)}`).toContain(res.status);
      const named = res.status === 400 ? (res.body.errors as Array<{ path: string; code: string; message: string }>).filter((e) => e.path === field.path) : [];
      seen[schemaErrors.length > 0 ? 'schemaRejects' : 'schemaAccepts']++;
      if (named.length > 0) seen.apiRefuses++;
      if (schemaErrors.length > 0) {
        expect(
          named,
          `the schema rejects ${JSON.stringify(value)} (${JSON.stringify(schemaErrors)}), the API must refuse ${field.path}: ${JSON.stringify(res.body)}`,
        ).not.toEqual([]);
      }
      if (named.length > 0 && !named.every((e) => field.describedOnly?.(e))) {
        expect(schemaErrors, `the API refuses ${JSON.stringify(value)} (${JSON.stringify(named)}), the schema must reject it`).not.toEqual([]);
      }
      if (res.status === 400) expect(named, `a 400 for ${JSON.stringify(value)} names ${field.path}: ${JSON.stringify(res.body)}`).not.toEqual([]);
    }),
    { numRuns: RUNS },
  );
  // Both sides of each property are exercised, or the property proves nothing.
  expect(seen.schemaRejects, `${field.path}: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(RUNS / 10);
  expect(seen.schemaAccepts, `${field.path}: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(RUNS / 10);
}

const chars = (alphabet: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...alphabet), maxLength });
const custom = (e: { code: string }) => e.code === 'custom';
const change = (field: string, path = field): Omit<Field<never>, 'values'> & { body(value: unknown): unknown } => ({
  operationId: 'requestChange',
  method: 'POST',
  url: `/v1/customers/${missingCustomer}/changes`,
  path: `body.changes.${path}`,
  body: (value) => ({ changes: { [field]: value } }),
});

describe('the published schema and the validators accept and refuse the same values', () => {
  it('e-mail', async () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/);
    await agree({
      ...change('email'),
      values: fc.oneof(
        fc.emailAddress(),
        fc
          .tuple(
            fc.array(fc.string({ unit: fc.constantFrom(..."abcXYZ019_+'-"), minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
            fc.array(label, { minLength: 1, maxLength: 3 }),
            fc.stringMatching(/^[A-Za-z]{1,5}$/),
          )
          .map(([atoms, labels, tld]) => `${atoms.join('.')}@${[...labels, tld].join('.')}`),
        fc.tuple(fc.emailAddress(), fc.constantFrom(' ', '..', '@', 'ü', '.', '"', ',')).map(([email, extra]) => email.replace(/@/, `${extra}@`)),
        chars('ab@.-_ ü', 16),
      ),
    });
  }, 60_000);

  it('phone (E.164; spaces, parentheses and hyphens ignored)', async () => {
    await agree({
      ...change('phone'),
      values: fc.oneof(
        fc.stringMatching(/^\+[1-9]\d{6,14}$/),
        chars('+0123456789 ()-x.', 22),
        fc
          .tuple(fc.stringMatching(/^\+[1-9]\d{6,14}$/), fc.nat(12), fc.constantFrom(' ', '-', '(', ')', '/'))
          .map(([p, at, c]) => p.slice(0, at) + c + p.slice(at)),
      ),
    });
  }, 60_000);

  it('postcode, per country', async () => {
    const patterns = [/^\d{5}$/, /^\d{4}$/, /^\d{4} ?[A-Za-z]{2}$/, /^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$/, /^\d{5}(-\d{4})?$/];
    await agree({
      ...change('address', 'address.postalCode'),
      body: ({ country, postalCode }: { country: string; postalCode: string }) => ({
        changes: { address: { street: 'Hauptstr. 1', postalCode, city: 'Berlin', country } },
      }),
      values: fc.record({
        country: fc.constantFrom('DE', 'de', 'AT', 'CH', 'FR', 'NL', 'nl', 'GB', 'gb', 'US', 'BE', 'JP'),
        postalCode: fc.oneof(...patterns.map((p) => fc.stringMatching(p)), chars('0123456789ABab -', 14), fc.string({ maxLength: 14 })),
      }),
    });
  }, 60_000);

  it('IBAN (shape in the schema; per-country length and check digits only described)', async () => {
    const valid = [
      'DE89370400440532013000',
      'GB29NWBK60161331926819',
      'NL91ABNA0417164300',
      'FR1420041010050500013M02606',
      'CH9300762011623852957',
      'NO9386011117947',
      'MT84MALT011000012345MTLCAST001S',
    ];
    await agree({
      ...change('bankAccount'),
      describedOnly: custom,
      values: fc.oneof(
        fc.constantFrom(...valid),
        fc.constantFrom(...valid).map((iban) => iban.toLowerCase().replace(/(.{4})/g, '$1 ')),
        fc
          .tuple(fc.constantFrom(...valid), fc.nat(40), fc.constantFrom('0', '9', 'X', ' ', '-', '/', ''))
          .map(([iban, at, c]) => iban.slice(0, at % iban.length) + c + iban.slice((at % iban.length) + 1)),
        chars('ABde0123456789 -', 36),
      ),
    });
  }, 60_000);

  it('IANA time zone (pattern in the schema; whether the database knows the name only described)', async () => {
    const zones = Intl.supportedValuesOf('timeZone');
    await agree({
      operationId: 'updateRetentionProfile',
      method: 'PATCH',
      url: `/v1/customers/${missingCustomer}/retention-profile`,
      path: 'body.timezone',
      body: (timezone: string) => ({ timezone, version: 1 }),
      describedOnly: custom,
      values: fc.oneof(
        fc.constantFrom(...zones, 'UTC', 'US/Eastern'),
        fc.constantFrom(...zones).map((z) => z.toLowerCase()),
        fc.constantFrom('Mars/Olympus', 'Europe/', '/Berlin', 'Europe Berlin'),
        chars('Europe/Bln_+-0 ', 20),
      ),
    });
  }, 60_000);

  it('birth date (a calendar date in the schema; in the past and at most 130 years back only described)', async () => {
    const pad = (n: number, width: number) => String(n).padStart(width, '0');
    await agree({
      ...change('birthDate'),
      describedOnly: custom,
      values: fc.oneof(
        fc.date({ min: new Date('1850-01-01'), max: new Date('2100-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
        fc
          .tuple(fc.integer({ min: 1890, max: 2030 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
          .map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`),
        fc.constantFrom('1990-1-01', '1990-01-01T00:00:00Z', ' 1990-01-01', '01.02.1990', '2000-02-29', '1900-02-29'),
        chars('0123456789-', 12),
      ),
    });
  }, 60_000);

  it('a deal: currency (ISO 4217 shape in the schema; a code in use only described), amount in cents, expected close date', async () => {
    const opportunity = (field: string) => ({
      operationId: 'createOpportunity',
      method: 'POST',
      url: `/v1/customers/${missingCustomer}/opportunities`,
      path: `body.${field}`,
      body: (value: unknown) => ({ productIds: ['tv-basic'], [field]: value }),
      describedOnly: custom,
    });
    await agree({
      ...opportunity('currency'),
      values: fc.oneof(fc.constantFrom(...Intl.supportedValuesOf('currency')), fc.constantFrom('XYZ', 'ABC', 'eur', 'EURO', 'E1R', ''), chars('EURSDxyz1', 4)),
    });
    await agree({
      ...opportunity('amount'),
      values: fc.oneof(
        fc.integer({ min: 1, max: 1e9 }).map((cents) => cents / 100),
        fc.double({ min: -1e13, max: 1e13, noNaN: true }),
        fc.constantFrom(0, -0.01, 1e12, 1e12 + 1),
      ),
    });
    await agree({
      ...opportunity('expectedClose'),
      values: fc.oneof(
        fc.date({ min: new Date('2000-01-01'), max: new Date('2100-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
        fc.constantFrom('2026-13-01', '2026-02-30', '2026-1-01', '2026-12-01T00:00:00Z', 'soon'),
        chars('0123456789-', 12),
      ),
    });
  }, 90_000);

  it('date-time (RFC 3339 as the API parses it: upper-case T and Z, seconds, ±hh:mm; not in the future only described)', async () => {
    await agree({
      operationId: 'recordCustomerEvent',
      method: 'POST',
      url: `/v1/customers/${missingCustomer}/events`,
      path: 'body.occurredAt',
      body: (occurredAt: string) => ({ type: 'login', occurredAt }),
      describedOnly: custom,
      values: fc.oneof(
        fc.date({ min: new Date('2000-01-01'), max: new Date('2040-12-31'), noInvalidDate: true }).map((d) => d.toISOString()),
        fc
          .tuple(
            fc.date({ min: new Date('2000-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }),
            fc.constantFrom('Z', 'z', '+02:00', '-05:30', '+0200', '+02', '', '+24:00'),
            fc.constantFrom('T', 't', ' '),
            fc.boolean(),
          )
          .map(
            ([d, offset, sep, millis]) =>
              d
                .toISOString()
                .slice(0, millis ? 23 : 19)
                .replace('T', sep) + offset,
          ),
        fc.constantFrom('2026-01-01T23:59:60Z', '2026-02-30T10:00:00Z', '2026-01-01T10:00Z', '2026-01-01', 'yesterday'),
      ),
    });
  }, 60_000);

  it('ids in paths (an RFC 9562 UUID: format uuid alone also allows any hex of that shape and urn:uuid:)', async () => {
    const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: n, maxLength: n });
    const seen = { schemaRejects: 0, schemaAccepts: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uuid(),
          fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((parts) => parts.join('-')),
          fc.uuid().map((id) => `urn:uuid:${id}`),
          fc.constantFrom('00000000-0000-0000-0000-000000000000', 'not-a-uuid', '123'),
        ),
        async (id) => {
          runs++;
          const schemaErrors = contract.parameterErrors('getCustomer', 'id', id);
          seen[schemaErrors.length > 0 ? 'schemaRejects' : 'schemaAccepts']++;
          const res = await h.json('GET', `/v1/customers/${encodeURIComponent(id)}`, { as: 'admin' });
          expect([400, 404], `${id}: ${JSON.stringify(res.body)}`).toContain(res.status);
          const refused = res.status === 400 && (res.body.errors as Array<{ path: string }>).some((e) => e.path === 'path.id');
          expect(refused, `${id}: the schema ${schemaErrors.length > 0 ? 'rejects' : 'accepts'} it, the API answered ${res.status}`).toBe(
            schemaErrors.length > 0,
          );
        },
      ),
      { numRuns: RUNS },
    );
    expect(seen.schemaRejects).toBeGreaterThanOrEqual(RUNS / 10);
    expect(seen.schemaAccepts).toBeGreaterThanOrEqual(RUNS / 10);
  }, 60_000);
});
