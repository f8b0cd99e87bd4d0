/**
 * Bulk imports (`imports`, `import_rows`, migration 0017): the uploaded file row by row, each
 * row's outcome, and the import's counters. The API writes an import with its rows; the page
 * activity (activities/imports.ts) takes the next rows without an outcome under a lock of the
 * import's row, and writes their outcomes with the counters in one transaction.
 */
import { inTransaction, type Pool, type PoolClient } from '../pool.js';
import { after, orderBy, pageOf, type Position, type SortOrder } from '../keyset.js';
import type { ImportFormat, ImportKind, ImportStatus, RowOutcome, RowProblem } from '../../domain/imports.js';

type Db = Pool | PoolClient;

export interface ImportRecord {
  id: string;
  kind: ImportKind;
  format: ImportFormat;
  contentSha256: string;
  status: ImportStatus;
  rowsTotal: number;
  rowsDone: number;
  created: number;
  duplicates: number;
  rejected: number;
  pages: number;
  workflowId: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  cancelledBy: string | null;
  cancelledAt: string | null;
  resumedBy: string | null;
  resumedAt: string | null;
}

interface ImportRow {
  id: string;
  kind: ImportKind;
  format: ImportFormat;
  content_sha256: string;
  columns: string[] | null;
  status: ImportStatus;
  rows_total: number;
  rows_done: number;
  created: number;
  duplicates: number;
  rejected: number;
  pages: number;
  workflow_id: string;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  cancelled_by: string | null;
  cancelled_at: Date | null;
  resumed_by: string | null;
  resumed_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function recordOf(r: ImportRow): ImportRecord {
  return {
    id: r.id,
    kind: r.kind,
    format: r.format,
    contentSha256: r.content_sha256,
    status: r.status,
    rowsTotal: r.rows_total,
    rowsDone: r.rows_done,
    created: r.created,
    duplicates: r.duplicates,
    rejected: r.rejected,
    pages: r.pages,
    workflowId: r.workflow_id,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    finishedAt: iso(r.finished_at),
    cancelledBy: r.cancelled_by,
    cancelledAt: iso(r.cancelled_at),
    resumedBy: r.resumed_by,
    resumedAt: iso(r.resumed_at),
  };
}

/** Rows written per INSERT when an upload is stored. */
const STORE_CHUNK = 2_000;

/** Stores an upload: the import and every record of it, in one transaction. */
export async function insertImport(
  pool: Pool,
  i: {
    id: string;
    kind: ImportKind;
    format: ImportFormat;
    contentSha256: string;
    columns: string[] | null;
    workflowId: string;
    actor: string;
    records: unknown[];
    emails: Array<string | null>;
  },
): Promise<void> {
  await inTransaction(pool, async (db) => {
    await db.query(
      `INSERT INTO imports (id, kind, format, content_sha256, columns, status, rows_total, workflow_id, created_by)
     VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8)`,
      [i.id, i.kind, i.format, i.contentSha256, i.columns, i.records.length, i.workflowId, i.actor],
    );
    for (let start = 0; start < i.records.length; start += STORE_CHUNK) {
      const chunk = i.records.slice(start, start + STORE_CHUNK);
      await db.query(
        `INSERT INTO import_rows (import_id, row_number, data, email_normalized)
       SELECT $1, n, d, e FROM unnest($2::int[], $3::jsonb[], $4::text[]) AS x(n, d, e)`,
        [i.id, chunk.map((_, k) => start + k + 1), chunk.map((r) => JSON.stringify(r)), i.emails.slice(start, start + STORE_CHUNK)],
      );
    }
  });
}

export async function readImport(db: Db, id: string): Promise<ImportRecord | undefined> {
  const { rows } = await db.query<ImportRow>('SELECT * FROM imports WHERE id = $1', [id]);
  return rows[0] ? recordOf(rows[0]) : undefined;
}

/** The CSV header an import was uploaded with (null for JSON lines). */
export async function importColumns(db: Db, id: string): Promise<string[] | null> {
  const { rows } = await db.query<{ columns: string[] | null }>('SELECT columns FROM imports WHERE id = $1', [id]);
  return rows[0]?.columns ?? null;
}

/** Earlier imports of the same kind with the same content: a rerun names them. */
export async function importsWithContent(db: Db, kind: ImportKind, contentSha256: string, except: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM imports WHERE kind = $1 AND content_sha256 = $2 AND id <> $3 ORDER BY created_at, id', [
    kind,
    contentSha256,
    except,
  ]);
  return rows.map((r) => r.id);
}

const NEWEST_FIRST: SortOrder = { expression: 'created_at', cast: 'timestamptz', direction: 'desc' };

export async function listImports(db: Db, filter: { status?: ImportStatus; kind?: ImportKind }, position: Position | undefined, limit: number) {
  const params: unknown[] = [];
  const where: string[] = [];
  if (filter.status) where.push(`status = $${params.push(filter.status)}`);
  if (filter.kind) where.push(`kind = $${params.push(filter.kind)}`);
  if (position) where.push(after(NEWEST_FIRST, position, params));
  params.push(limit + 1);
  const { rows } = await db.query<ImportRow & { sort_value: string }>(
    `SELECT *, created_at::text AS sort_value FROM imports ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${orderBy(NEWEST_FIRST)} LIMIT $${params.length}`,
    params,
  );
  const page = pageOf(rows, limit);
  return { items: page.rows.map(recordOf), next: page.next };
}

export interface RejectedRow {
  row: number;
  reason: string;
  errors: RowProblem[];
  data: Record<string, unknown>;
}

/** Rejected rows in file order, after `afterRow`; all of them without a limit (the CSV download). */
export async function rejectedRows(db: Db, importId: string, afterRow: number, limit?: number): Promise<RejectedRow[]> {
  const { rows } = await db.query<{ row_number: number; reason: string; errors: RowProblem[] | null; data: Record<string, unknown> }>(
    `SELECT row_number, reason, errors, data FROM import_rows WHERE import_id = $1 AND outcome = 'rejected' AND row_number > $2
     ORDER BY row_number ${limit === undefined ? '' : 'LIMIT $3'}`,
    limit === undefined ? [importId, afterRow] : [importId, afterRow, limit],
  );
  return rows.map((r) => ({ row: r.row_number, reason: r.reason, errors: r.errors ?? [], data: r.data }));
}

/**
 * Asks a running or queued import to stop after its current page: the page activity sees
 * `cancelling` and ends the import `cancelled`. Answers the import as it is now, and whether
 * this request changed it.
 */
export async function requestCancellation(db: Db, id: string, actor: string): Promise<{ changed: boolean; record?: ImportRecord }> {
  const { rows } = await db.query<ImportRow>(
    `UPDATE imports SET status = 'cancelling', cancelled_by = $2, cancelled_at = now(), updated_at = now()
     WHERE id = $1 AND status IN ('queued', 'running') RETURNING *`,
    [id, actor],
  );
  if (rows[0]) return { changed: true, record: recordOf(rows[0]) };
  const record = await readImport(db, id);
  return { changed: false, record };
}

/**
 * Takes a cancelled import up again where it stopped (its rows without an outcome); also a queued
 * one, whose workflow start may have been lost (the API failed between storing and starting).
 */
export async function requestResumption(db: Db, id: string, actor: string): Promise<{ changed: boolean; record?: ImportRecord }> {
  const { rows } = await db.query<ImportRow>(
    `UPDATE imports SET status = 'queued', resumed_by = $2, resumed_at = now(), finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status IN ('cancelled', 'queued') RETURNING *`,
    [id, actor],
  );
  if (rows[0]) return { changed: true, record: recordOf(rows[0]) };
  return { changed: false, record: await readImport(db, id) };
}

/** The import's row, locked for the page that is about to run. */
export async function lockImport(db: PoolClient, id: string): Promise<ImportRecord | undefined> {
  const { rows } = await db.query<ImportRow>('SELECT * FROM imports WHERE id = $1 FOR UPDATE', [id]);
  return rows[0] ? recordOf(rows[0]) : undefined;
}

export async function setImportStatus(db: Db, id: string, status: ImportStatus): Promise<void> {
  await db.query(
    `UPDATE imports SET status = $2, updated_at = now(), finished_at = CASE WHEN $2 IN ('completed', 'cancelled') THEN now() ELSE NULL END WHERE id = $1`,
    [id, status],
  );
}

export interface PendingRow {
  row: number;
  data: unknown;
  emailNormalized: string | null;
}

/** The next rows without an outcome, in file order. */
export async function pendingRows(db: PoolClient, importId: string, limit: number): Promise<PendingRow[]> {
  const { rows } = await db.query<{ row_number: number; data: unknown; email_normalized: string | null }>(
    'SELECT row_number, data, email_normalized FROM import_rows WHERE import_id = $1 AND outcome IS NULL ORDER BY row_number LIMIT $2',
    [importId, limit],
  );
  return rows.map((r) => ({ row: r.row_number, data: r.data, emailNormalized: r.email_normalized }));
}

export interface RowResult {
  row: number;
  outcome: RowOutcome;
  reason?: string;
  errors?: RowProblem[];
  customerId?: string;
  leadId?: string;
}

/** Writes a page's outcomes and adds them to the import's counters. */
export async function recordPage(db: PoolClient, importId: string, results: RowResult[]): Promise<void> {
  await db.query(
    `UPDATE import_rows r SET outcome = x.outcome, reason = x.reason, errors = x.errors, customer_id = x.customer_id, lead_id = x.lead_id, processed_at = now()
     FROM unnest($2::int[], $3::text[], $4::text[], $5::jsonb[], $6::uuid[], $7::uuid[]) AS x(n, outcome, reason, errors, customer_id, lead_id)
     WHERE r.import_id = $1 AND r.row_number = x.n`,
    [
      importId,
      results.map((r) => r.row),
      results.map((r) => r.outcome),
      results.map((r) => r.reason ?? null),
      results.map((r) => (r.errors ? JSON.stringify(r.errors) : null)),
      results.map((r) => r.customerId ?? null),
      results.map((r) => r.leadId ?? null),
    ],
  );
  const count = (o: RowOutcome) => results.filter((r) => r.outcome === o).length;
  await db.query(
    `UPDATE imports SET rows_done = rows_done + $2, created = created + $3, duplicates = duplicates + $4, rejected = rejected + $5,
       pages = pages + 1, status = 'running', updated_at = now()
     WHERE id = $1`,
    [importId, results.length, count('created'), count('duplicate'), count('rejected')],
  );
}

/** Open leads, customers, and leads of imports whose funnel has not recorded them yet, under these e-mails. */
export async function takenEmails(db: Db, kind: ImportKind, emails: string[]): Promise<Map<string, { customerId?: string; leadId?: string }>> {
  const taken = new Map<string, { customerId?: string; leadId?: string }>();
  if (emails.length === 0) return taken;
  const customers = await db.query<{ id: string; email_normalized: string }>(
    'SELECT id, email_normalized FROM customers WHERE email_normalized = ANY($1::text[])',
    [emails],
  );
  for (const c of customers.rows) taken.set(c.email_normalized, { customerId: c.id });
  if (kind === 'leads') {
    // The intake's dedupe (an open lead under the address), and a lead an import created whose
    // funnel has not written its row yet.
    const leads = await db.query<{ id: string; email_normalized: string }>(
      `SELECT id, email_normalized FROM leads WHERE email_normalized = ANY($1::text[]) AND kind = 'lead' AND stage NOT IN ('won', 'lost')
       UNION ALL
       SELECT r.lead_id, r.email_normalized FROM import_rows r
       WHERE r.email_normalized = ANY($1::text[]) AND r.outcome = 'created' AND r.lead_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.id = r.lead_id)`,
      [emails],
    );
    for (const l of leads.rows) if (!taken.has(l.email_normalized)) taken.set(l.email_normalized, { leadId: l.id });
  }
  return taken;
}

/** Created leads whose funnel was not started yet (after a crash between the page and the starts). */
export async function unstartedLeads(db: Db, importId: string): Promise<Array<{ row: number; leadId: string; data: unknown }>> {
  const { rows } = await db.query<{ row_number: number; lead_id: string; data: unknown }>(
    `SELECT row_number, lead_id, data FROM import_rows WHERE import_id = $1 AND outcome = 'created' AND lead_id IS NOT NULL AND NOT process_started
     ORDER BY row_number`,
    [importId],
  );
  return rows.map((r) => ({ row: r.row_number, leadId: r.lead_id, data: r.data }));
}

export async function markStarted(db: Db, importId: string, rowNumbers: number[]): Promise<void> {
  if (rowNumbers.length === 0) return;
  await db.query('UPDATE import_rows SET process_started = true WHERE import_id = $1 AND row_number = ANY($2::int[])', [importId, rowNumbers]);
}

/** The first row of this import created under each of these e-mails (the dedupe within a file). */
export async function firstCreatedRows(db: Db, importId: string, emails: string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ email_normalized: string; row_number: number }>(
    `SELECT email_normalized, min(row_number) AS row_number FROM import_rows
     WHERE import_id = $1 AND outcome = 'created' AND email_normalized = ANY($2::text[]) GROUP BY email_normalized`,
    [importId, emails],
  );
  return new Map(rows.map((e) => [e.email_normalized, e.row_number]));
}
