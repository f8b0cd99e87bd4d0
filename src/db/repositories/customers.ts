/**
 * Customers (`customers`) as the API and the registration read and write them: one customer by
 * id, the dedupe by normalised e-mail, and the customer list and search (keyset pages over the
 * indexes of migration 0006: trigram for "contains", btree for the exact fields and the sorts).
 */
import type { Pool, PoolClient } from '../pool.js';
import { inTransaction } from '../pool.js';
import { writeAudit } from './audit-log.js';
import { after, containing, orderBy, pageOf, type Position, type SortOrder } from '../keyset.js';
import { maskIban } from '../../domain/contact-data.js';
import type { Customer, RegistrationRequest } from '../../domain/customers.js';
import type { MasterData } from '../../domain/master-data.js';

/** A row of `customers` as every reader gets it (activities and routes alike). */
export interface CustomerRow {
  id: string;
  customer_number: string;
  name: string;
  email: string;
  email_normalized: string;
  phone: string | null;
  address: Customer['address'];
  locale: string;
  birth_date: string | null;
  bank_account_iban: string | null;
  status: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, customer_number, name, email, email_normalized, phone, address, locale, birth_date::text AS birth_date, bank_account_iban, status, version, created_at, updated_at';

function toCustomer(r: CustomerRow): Customer {
  return {
    id: r.id,
    customerNumber: Number(r.customer_number),
    name: r.name,
    email: r.email,
    phone: r.phone,
    address: r.address,
    locale: r.locale,
    birthDate: r.birth_date,
    bankAccount: r.bank_account_iban ? maskIban(r.bank_account_iban) : null,
    status: r.status,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function readCustomer(db: Pool | PoolClient, id: string): Promise<Customer | undefined> {
  const { rows } = await db.query<CustomerRow>(`SELECT ${COLUMNS} FROM customers WHERE id = $1`, [id]);
  return rows[0] ? toCustomer(rows[0]) : undefined;
}

/** The row of a customer; `lock` holds it until the caller's transaction ends. */
export async function readCustomerRow(db: Pool | PoolClient, id: string, lock = false): Promise<CustomerRow | undefined> {
  const { rows } = await db.query<CustomerRow>(`SELECT ${COLUMNS} FROM customers WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0];
}

/** The master-data fields of a row, unmasked: for the activities that change or export them. */
export function masterDataOf(r: CustomerRow): MasterData {
  return { email: r.email, phone: r.phone, address: r.address, name: r.name, birthDate: r.birth_date, bankAccount: r.bank_account_iban };
}

export async function customerExists(db: Pool | PoolClient, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM customers WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

/** The master-data fields of a customer as they stand, with the row's status and version (the base of a change). */
export async function readMasterData(db: Pool | PoolClient, id: string): Promise<{ data: MasterData; status: string; version: number } | undefined> {
  const r = await readCustomerRow(db, id);
  return r && { data: masterDataOf(r), status: r.status, version: r.version };
}

/** The customer with this normalised e-mail, if any. */
export async function findCustomerId(db: Pool | PoolClient, emailNormalized: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM customers WHERE email_normalized = $1', [emailNormalized]);
  return rows[0]?.id;
}

/**
 * Inserts a customer unless the id or the e-mail is taken. Answers `inserted`, or the id of the
 * customer that holds the e-mail (or the id: our own earlier attempt).
 */
export async function insertCustomer(
  db: PoolClient,
  c: { id: string; request: RegistrationRequest; emailNormalized: string; actor: string },
): Promise<{ inserted: true } | { inserted: false; existingId: string | undefined }> {
  const { request } = c;
  const inserted = await db.query(
    `INSERT INTO customers (id, name, email, email_normalized, phone, address, locale, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT DO NOTHING`,
    [c.id, request.name, request.email.trim(), c.emailNormalized, request.phone ?? null, request.address ?? null, request.locale, c.actor],
  );
  if (inserted.rowCount === 1) return { inserted: true };
  const existing = await db.query<{ id: string }>('SELECT id FROM customers WHERE email_normalized = $1 OR id = $2 ORDER BY (id = $2) DESC LIMIT 1', [
    c.emailNormalized,
    c.id,
  ]);
  return { inserted: false, existingId: existing.rows[0]?.id };
}

/**
 * `insertCustomer` for many customers in one statement (a page of an import): each is inserted
 * unless its id or e-mail is taken, also by another row of the batch (the first one wins).
 * Answers the ids inserted, and for the others the id holding their e-mail.
 */
export async function insertCustomers(
  db: PoolClient,
  customers: Array<{ id: string; request: RegistrationRequest; emailNormalized: string }>,
  actor: string,
): Promise<{ inserted: Set<string>; existing: Map<string, string | undefined> }> {
  const col = <T>(pick: (c: (typeof customers)[number]) => T) => customers.map(pick);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO customers (id, name, email, email_normalized, phone, address, locale, created_by)
     SELECT id, name, email, email_normalized, phone, address, locale, $8 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
       AS x(id, name, email, email_normalized, phone, address, locale)
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [
      col((c) => c.id),
      col((c) => c.request.name),
      col((c) => c.request.email.trim()),
      col((c) => c.emailNormalized),
      col((c) => c.request.phone ?? null),
      col((c) => (c.request.address ? JSON.stringify(c.request.address) : null)),
      col((c) => c.request.locale),
      actor,
    ],
  );
  const inserted = new Set(rows.map((r) => r.id));
  const missing = customers.filter((c) => !inserted.has(c.id));
  const existing = new Map<string, string | undefined>();
  if (missing.length > 0) {
    const found = await db.query<{ id: string; email_normalized: string }>(
      'SELECT id, email_normalized FROM customers WHERE email_normalized = ANY($1::text[])',
      [missing.map((c) => c.emailNormalized)],
    );
    const byEmail = new Map(found.rows.map((r) => [r.email_normalized, r.id]));
    for (const c of missing) existing.set(c.id, byEmail.get(c.emailNormalized));
  }
  return { inserted, existing };
}

export const CUSTOMER_STATUSES = ['active', 'inactive', 'erased'] as const;

export interface CustomerFilter {
  /** Free text: contained in the name, e-mail, phone, postcode or customer number, in any case. */
  q?: string;
  /** Contained in the name. */
  name?: string;
  /** The normalised e-mail address. */
  email?: string;
  /** E.164. */
  phone?: string;
  postcode?: string;
  customerNumber?: number;
  status?: (typeof CUSTOMER_STATUSES)[number];
  country?: string;
  createdFrom?: string;
  createdTo?: string;
  sort: 'created' | '-created' | 'name' | '-name';
}

/** The text the free-text search looks in: the expression of customers_search_trgm_idx. */
const SEARCH_DOCUMENT =
  "lower(name || ' ' || email_normalized || ' ' || COALESCE(phone, '') || ' ' || COALESCE(address->>'postalCode', '') || ' ' || customer_number::text)";

const SORTS: Record<CustomerFilter['sort'], SortOrder> = {
  created: { expression: 'created_at', cast: 'timestamptz', direction: 'asc' },
  '-created': { expression: 'created_at', cast: 'timestamptz', direction: 'desc' },
  name: { expression: 'lower(name)', cast: 'text', direction: 'asc' },
  '-name': { expression: 'lower(name)', cast: 'text', direction: 'desc' },
};

/** A phone number is found however it was typed: "+49 30 123" finds +4930123. */
const searchText = (q: string) => (/^[+\d\s()/-]+$/.test(q) ? q.replace(/[\s()/-]/g, '') : q);

export async function searchCustomers(
  db: Pool | PoolClient,
  filter: CustomerFilter,
  position: Position | undefined,
  limit: number,
): Promise<{ items: Customer[]; next?: Position }> {
  const order = SORTS[filter.sort];
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.q) add((p) => `${SEARCH_DOCUMENT} LIKE ${p}`, containing(searchText(filter.q)));
  if (filter.name) {
    // The trigram index finds the candidates; the name condition keeps those that match in the name.
    add((p) => `${SEARCH_DOCUMENT} LIKE ${p}`, containing(filter.name));
    add((p) => `lower(name) LIKE ${p}`, containing(filter.name));
  }
  if (filter.email) add((p) => `email_normalized = ${p}`, filter.email);
  if (filter.phone) add((p) => `phone = ${p}`, filter.phone);
  if (filter.postcode) add((p) => `address->>'postalCode' = ${p}`, filter.postcode);
  if (filter.customerNumber !== undefined) add((p) => `customer_number = ${p}`, filter.customerNumber);
  if (filter.status) add((p) => `status = ${p}`, filter.status);
  if (filter.country) add((p) => `address->>'country' = ${p}`, filter.country);
  if (filter.createdFrom) add((p) => `created_at >= ${p}::timestamptz`, filter.createdFrom);
  if (filter.createdTo) add((p) => `created_at < ${p}::timestamptz`, filter.createdTo);
  if (position) where.push(after(order, position, params));
  params.push(limit + 1);
  const { rows } = await db.query<CustomerRow & { sort_value: string }>(
    `SELECT ${COLUMNS}, ${order.expression}::text AS sort_value
     FROM customers ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${orderBy(order)} LIMIT $${params.length}`,
    params,
  );
  const page = pageOf(rows, limit);
  return { items: page.rows.map(toCustomer), ...(page.next ? { next: page.next } : {}) };
}

export interface RetentionProfile {
  churnRisk: number | null;
  timezone: string | null;
}

/**
 * Sets what retention knows of a customer (churn risk, time zone; each only when given, null
 * clears it) and audits each change under `step`. Like every write to a customer it is based on
 * the version read: another version is `stale`, an erased customer is never written again.
 * Undefined for an unknown customer.
 */
export async function updateRetentionProfile(
  pool: Pool,
  input: { customerId: string; change: Partial<RetentionProfile>; expectedVersion: number; actor: string; step: string },
): Promise<{ profile: RetentionProfile; version: number } | { stale: number } | { erased: true } | undefined> {
  return inTransaction(pool, async (db) => {
    const { rows } = await db.query<{ churn_risk: string | null; timezone: string | null; status: string; version: number }>(
      'SELECT churn_risk, timezone, status, version FROM customers WHERE id = $1 FOR UPDATE',
      [input.customerId],
    );
    if (!rows[0]) return undefined;
    if (rows[0].status === 'erased') return { erased: true as const };
    if (rows[0].version !== input.expectedVersion) return { stale: rows[0].version };
    const before: RetentionProfile = {
      churnRisk: rows[0].churn_risk === null ? null : Number(rows[0].churn_risk),
      timezone: rows[0].timezone,
    };
    const after: RetentionProfile = {
      churnRisk: input.change.churnRisk === undefined ? before.churnRisk : input.change.churnRisk,
      timezone: input.change.timezone === undefined ? before.timezone : input.change.timezone,
    };
    const updated = await db.query<{ version: number }>(
      'UPDATE customers SET churn_risk = $2, timezone = $3, version = version + 1, updated_at = now() WHERE id = $1 RETURNING version',
      [input.customerId, after.churnRisk, after.timezone],
    );
    const columns = { churnRisk: 'churn_risk', timezone: 'timezone' } as const;
    await writeAudit(
      db,
      { step: input.step, customerId: input.customerId, actor: input.actor, process: 'retention' },
      (['churnRisk', 'timezone'] as const)
        .filter((f) => input.change[f] !== undefined)
        .map((f) => ({ field: columns[f], oldValue: before[f], newValue: after[f] })),
    );
    return { profile: after, version: updated.rows[0]!.version };
  });
}
