/**
 * Bulk import of customers or leads: the contract between the API, the `importRecords` workflow
 * and its page activity. A row is valid when the single-record API would take it: customers by
 * the registration's schema, leads by the intake's schema (with source `import`); the same domain
 * checks follow in the activity (products on sale, an active owner, a known team).
 */
import { defineQuery } from '@temporalio/workflow';
import { registrationRequestSchema } from './customers.js';
import { leadIntakeSchema } from './acquisition.js';
import { normaliseEmail } from './contact-data.js';

export const IMPORT_KINDS = ['customers', 'leads'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];
export const IMPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
export const IMPORT_STATUSES = ['queued', 'running', 'cancelling', 'cancelled', 'completed'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];
export const ROW_OUTCOMES = ['created', 'duplicate', 'rejected'] as const;
export type RowOutcome = (typeof ROW_OUTCOMES)[number];

/** The content types an upload may have, and the format each means. */
export const IMPORT_CONTENT_TYPES: Record<string, ImportFormat> = { 'text/csv': 'csv', 'application/x-ndjson': 'ndjson' };

/** An upload is at most 16 MiB and 50,000 records (413 above either). */
export const IMPORT_MAX_BYTES = 16 * 1024 * 1024;
export const IMPORT_MAX_ROWS = 50_000;
/** Rows per page activity (one transaction each). */
export const IMPORT_PAGE_SIZE = 500;
/** Pages per workflow run before it continues as new, so its history stays bounded. */
export const IMPORT_PAGES_PER_RUN = 10;
/** Lead funnels started at once per page. */
export const IMPORT_START_CONCURRENCY = 10;

export function importWorkflowId(importId: string): string {
  return `import-${importId}`;
}

/** What a row must satisfy: the single-record API's own request schema. */
export function rowSchemaOf(kind: ImportKind) {
  return kind === 'customers' ? registrationRequestSchema : leadIntakeSchema;
}

/** The CSV columns of each kind: the API's field names, nested ones with a dot, lists separated by `;`. */
export const IMPORT_COLUMNS: Record<ImportKind, readonly string[]> = {
  customers: ['name', 'email', 'phone', 'locale', 'address.street', 'address.postalCode', 'address.city', 'address.country'],
  leads: ['name', 'email', 'phone', 'company', 'companySize', 'interest', 'locale', 'ownerId', 'teamId', 'amount', 'currency', 'expectedClose', 'productIds'],
};
const NUMERIC_COLUMNS = new Set(['amount']);
const LIST_COLUMNS = new Set(['productIds']);

/** Columns of a CSV header that the kind does not know (the upload is refused naming them). */
export function unknownColumns(kind: ImportKind, header: string[]): string[] {
  return header.filter((c) => !IMPORT_COLUMNS[kind].includes(c));
}

/**
 * A CSV record (column → text) as the request the API takes: an empty cell is an absent field,
 * `address.*` columns make the address, `amount` is a number, `productIds` a `;`-separated list.
 * A value that does not convert is passed on as it is, so the schema names the field.
 */
export function requestOfCsv(record: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, raw] of Object.entries(record)) {
    const value = raw.trim();
    if (value === '') continue;
    let converted: unknown = value;
    if (NUMERIC_COLUMNS.has(column) && /^-?\d+(\.\d+)?$/.test(value)) converted = Number(value);
    if (LIST_COLUMNS.has(column)) converted = value.split(';').map((v) => v.trim());
    const [head, sub] = column.split('.', 2) as [string, string | undefined];
    if (sub === undefined) out[head] = converted;
    else out[head] = { ...((out[head] as Record<string, unknown> | undefined) ?? {}), [sub]: converted };
  }
  return out;
}

export interface RowProblem {
  path: string;
  message: string;
}

/**
 * Validates one record with the API's schema. A lead's source is always `import`: a record that
 * names another is refused.
 */
export function parseRow(kind: ImportKind, record: unknown): { ok: true; request: Record<string, unknown> } | { ok: false; errors: RowProblem[] } {
  if (!record || typeof record !== 'object' || Array.isArray(record)) return { ok: false, errors: [{ path: '', message: 'must be a JSON object' }] };
  let candidate = record as Record<string, unknown>;
  if (kind === 'leads') {
    if (candidate.source !== undefined && candidate.source !== 'import') {
      return { ok: false, errors: [{ path: 'source', message: 'is always import for an imported lead' }] };
    }
    candidate = { ...candidate, source: 'import' };
  }
  const parsed = rowSchemaOf(kind).safeParse(candidate);
  if (parsed.success) return { ok: true, request: parsed.data as Record<string, unknown> };
  return { ok: false, errors: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
}

/** The e-mail a record names, normalised, even when the record is invalid: the key of dedupe and erasure. */
export function emailOfRecord(record: unknown): string | null {
  const email = record && typeof record === 'object' ? (record as Record<string, unknown>).email : undefined;
  return typeof email === 'string' && email.trim() !== '' ? normaliseEmail(email) : null;
}

/** One line of a rejection: the row's number and why. */
export function reasonOf(errors: RowProblem[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
}

export interface ImportCounts {
  rowsDone: number;
  created: number;
  duplicates: number;
  rejected: number;
}

export interface ImportInput {
  importId: string;
  kind: ImportKind;
  actor: string;
  pageSize?: number;
  pagesPerRun?: number;
  concurrency?: number;
  /** Carried over continue-as-new: pages run before this execution. */
  pages?: number;
}

export interface ImportPageResult extends ImportCounts {
  /** `more`: rows remain; `completed`: every row has its outcome; `cancelled`: a cancellation stopped it before this page. */
  status: 'more' | 'completed' | 'cancelled';
  rowsTotal: number;
}

export interface ImportState extends ImportCounts {
  importId: string;
  kind: ImportKind;
  status: 'running' | 'completed' | 'cancelled';
  rowsTotal: number;
  pages: number;
}

export type ImportResult = ImportState;

export const importStateQuery = defineQuery<ImportState>('state');
