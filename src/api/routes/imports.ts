/**
 * Bulk imports: upload a CSV or JSON-lines file of customers or leads (`?kind=`), then follow
 * the `import-<id>` workflow through its record: counters, rejected rows (JSON or CSV), cancel and
 * resume. The file is stored row by row in PostgreSQL; Temporal sees only the import's id.
 * Backoffice and admin only: an import writes thousands of records at once.
 */
import { createHash, randomUUID } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import {
  IMPORT_COLUMNS,
  IMPORT_CONTENT_TYPES,
  IMPORT_KINDS,
  IMPORT_MAX_BYTES,
  IMPORT_MAX_ROWS,
  IMPORT_STATUSES,
  emailOfRecord,
  importWorkflowId,
  requestOfCsv,
  type ImportInput,
  type ImportKind,
} from '../../domain/imports.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import { CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import {
  importColumns,
  importsWithContent,
  insertImport,
  listImports,
  readImport,
  rejectedRows,
  requestCancellation,
  requestResumption,
  type ImportRecord,
} from '../../db/repositories/imports.js';
import type { importRecords } from '../../../workflows/imports.js';
import { BACKOFFICE_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { listingOf, pageSizeSchema, pageTokenSchema, pageTokens } from '../listing.js';
import { ApiError, problemResponse } from '../problem.js';
import { jsonContent, problemResponses, problemSchema } from '../openapi.js';
import { uuidParam } from '../schemas.js';
import { readImportFile, rejectedCsv } from './import-file.js';

const importer = requireRole(...BACKOFFICE_ROLES);
const importIdParam = uuidParam('an import');

const importSchema = z
  .object({
    id: z.uuid(),
    kind: z.enum(IMPORT_KINDS),
    format: z.enum(['csv', 'ndjson']),
    contentSha256: z.string().openapi({ description: 'SHA-256 of the uploaded file: the same file uploaded again has the same' }),
    status: z.enum(IMPORT_STATUSES).openapi({
      description:
        'queued → running → completed; `cancelling` once a cancellation is asked for, `cancelled` after the current page; a resumption queues it again',
    }),
    rowsTotal: z.number().int(),
    rowsDone: z.number().int().openapi({ description: 'Rows with an outcome (created + duplicates + rejected)' }),
    created: z.number().int(),
    duplicates: z
      .number()
      .int()
      .openapi({ description: 'Rows whose person already is a customer (or, for leads, an open lead), or an earlier row of the file' }),
    rejected: z.number().int().openapi({ description: 'Rows the single-record API would refuse; listed at /v1/imports/{id}/rejected' }),
    pages: z.number().int(),
    workflowId: z.string(),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
    cancelledBy: z.string().nullable(),
    cancelledAt: z.string().nullable(),
    resumedBy: z.string().nullable(),
    resumedAt: z.string().nullable(),
  })
  .openapi('Import');

const acceptedSchema = z
  .object({
    importId: z.uuid(),
    workflowId: z.string(),
    status: z.literal('queued'),
    rowsTotal: z.number().int(),
    sameContentAs: z.array(z.uuid()).openapi({
      description: 'Earlier imports of the same kind with the same file (same SHA-256): this one runs anyway, and its rows come out duplicates',
    }),
  })
  .openapi('ImportAccepted');

const CSV_EXAMPLE =
  'name,email,phone,address.street,address.postalCode,address.city,address.country\nAda Lovelace,ada.import@example.com,+44 20 7946 0958,12 St James Square,SW1Y 4JH,London,GB\n';
const NDJSON_EXAMPLE =
  '{"name":"Ada Lovelace","email":"ada.import@example.com","address":{"street":"12 St James Square","postalCode":"SW1Y 4JH","city":"London","country":"GB"}}\n';

const kindQuery = z.object({
  kind: z.enum(IMPORT_KINDS).openapi({ description: 'What the rows are: `customers` (registration’s fields) or `leads` (intake’s fields; source `import`)' }),
});

const createRoute_ = createRoute({
  method: 'post',
  path: '/v1/imports',
  operationId: 'createImport',
  tags: ['imports'],
  summary: 'Import customers or leads from a CSV or JSON-lines file',
  description:
    `The body is the file: \`text/csv\` (a header row of the API's field names; customers: ${IMPORT_COLUMNS.customers.join(', ')}; leads: ` +
    `${IMPORT_COLUMNS.leads.join(', ')}; \`productIds\` separated by \`;\`; an empty cell is an absent field) or \`application/x-ndjson\` (one JSON object per line, ` +
    `as POST /v1/customers or POST /v1/leads take it, without \`source\`). At most ${IMPORT_MAX_BYTES / 1024 / 1024} MiB and ${IMPORT_MAX_ROWS} rows (413). ` +
    'Every row is checked with the same rules as the single-record API; customers and leads already on record (same e-mail) and repeated rows of the file are ' +
    'counted as duplicates, never created twice, so uploading the same file again creates nothing. The file is stored and the `import-<id>` workflow takes it ' +
    'in pages; follow it at the Location. Backoffice and admin only.',
  middleware: [
    importer,
    bodyLimit({ maxSize: IMPORT_MAX_BYTES, onError: (c) => problemResponse(c, 413, `The file is larger than ${IMPORT_MAX_BYTES} bytes`) }),
  ] as const,
  request: {
    query: kindQuery,
    body: {
      content: {
        'text/csv': { schema: z.string(), example: CSV_EXAMPLE },
        'application/x-ndjson': { schema: z.string(), example: NDJSON_EXAMPLE },
      },
      required: true,
    },
  },
  responses: {
    202: { ...jsonContent(acceptedSchema, 'The file is stored and its import queued; follow it at the Location'), headers: z.object({ Location: z.string() }) },
    ...problemResponses(400, 401, 403),
    413: {
      content: { 'application/problem+json': { schema: problemSchema } },
      description: `The file is over ${IMPORT_MAX_BYTES} bytes or ${IMPORT_MAX_ROWS} rows`,
    },
    415: { content: { 'application/problem+json': { schema: problemSchema } }, description: 'The body is neither text/csv nor application/x-ndjson' },
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/v1/imports/{id}',
  operationId: 'getImport',
  tags: ['imports'],
  summary: 'How far an import is: status and counts',
  description: 'From the record in PostgreSQL, written with every page: rows done, created, duplicates, rejected.',
  middleware: [importer] as const,
  request: { params: importIdParam },
  responses: { 200: jsonContent(importSchema, 'The import'), ...problemResponses(400, 401, 403, 404) },
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/imports',
  operationId: 'listImports',
  tags: ['imports'],
  summary: 'Imports, newest first',
  middleware: [importer] as const,
  request: {
    query: z
      .object({
        status: z.enum(IMPORT_STATUSES).optional(),
        kind: z.enum(IMPORT_KINDS).optional(),
        pageSize: pageSizeSchema,
        pageToken: pageTokenSchema.optional(),
      })
      .strict(),
  },
  responses: {
    200: jsonContent(z.object({ items: z.array(importSchema), nextPageToken: z.string().optional() }).openapi('ImportPage'), 'A page of imports'),
    ...problemResponses(400, 401, 403),
  },
});

const rejectedRoute = createRoute({
  method: 'get',
  path: '/v1/imports/{id}/rejected',
  operationId: 'listRejectedRows',
  tags: ['imports'],
  summary: 'The rejected rows of an import: row number, reason and each wrong field',
  description: 'In file order (row 1 is the first record after the CSV header). The same as CSV, with the rows as uploaded: `/v1/imports/{id}/rejected.csv`.',
  middleware: [importer] as const,
  request: {
    params: importIdParam,
    query: z.object({ pageSize: z.coerce.number().int().min(1).max(1000).default(100), pageToken: pageTokenSchema.optional() }).strict(),
  },
  responses: {
    200: jsonContent(
      z
        .object({
          items: z.array(
            z.object({
              row: z.number().int(),
              reason: z.string(),
              errors: z.array(z.object({ path: z.string(), message: z.string() })),
              data: z.object({}).loose().openapi({ description: 'The row as uploaded' }),
            }),
          ),
          nextPageToken: z.string().optional(),
        })
        .openapi('RejectedRowPage'),
      'A page of rejected rows',
    ),
    ...problemResponses(400, 401, 403, 404),
  },
});

const rejectedCsvRoute = createRoute({
  method: 'get',
  path: '/v1/imports/{id}/rejected.csv',
  operationId: 'downloadRejectedRows',
  tags: ['imports'],
  summary: 'The rejected rows as CSV: the row as uploaded, its number and the reason',
  description:
    'CSV imports keep their columns, then `row` and `reason`; a JSON-lines import has one column `record` with the line. Fix the rows and upload them again.',
  middleware: [importer] as const,
  request: { params: importIdParam },
  responses: {
    200: { content: { 'text/csv': { schema: z.string() } }, description: 'The rejected rows' },
    ...problemResponses(400, 401, 403, 404),
  },
});

const cancelRoute = createRoute({
  method: 'post',
  path: '/v1/imports/{id}/cancellation',
  operationId: 'cancelImport',
  tags: ['imports'],
  summary: 'Stop an import after its current page',
  description:
    'The import becomes `cancelling`, and `cancelled` when its workflow reaches the next page; rows done stay done. A completed or cancelled import is a 409.',
  middleware: [importer] as const,
  request: { params: importIdParam },
  responses: { 202: jsonContent(importSchema, 'Cancellation asked for'), ...problemResponses(400, 401, 403, 404, 409) },
});

const resumeRoute = createRoute({
  method: 'post',
  path: '/v1/imports/{id}/resumption',
  operationId: 'resumeImport',
  tags: ['imports'],
  summary: 'Continue a cancelled import where it stopped',
  description:
    'Starts `import-<id>` again over the rows without an outcome. Only a `cancelled` import can be resumed, or a `queued` one whose start was lost (a running one is replaced; a page is one transaction, so nothing is done twice); 409 otherwise.',
  middleware: [importer] as const,
  request: { params: importIdParam },
  responses: { 202: jsonContent(importSchema, 'The import is queued again'), ...problemResponses(400, 401, 403, 404, 409) },
});

async function importOr404(deps: ApiDeps, id: string): Promise<ImportRecord> {
  const found = await readImport(deps.pool, id);
  if (!found) throw new ApiError(404, `No import with id ${id}`);
  return found;
}

async function startImport(deps: ApiDeps, record: Pick<ImportRecord, 'id' | 'kind'>, actor: string, rowsTotal: number) {
  const input: ImportInput = { importId: record.id, kind: record.kind, actor };
  await deps.temporal.workflow.start<typeof importRecords>('importRecords', {
    taskQueue: deps.taskQueue,
    workflowId: importWorkflowId(record.id),
    args: [input],
    // A resumption starts the id again; the run it follows has ended with the cancellation.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
    typedSearchAttributes: [
      { key: CrmProcess, value: CRM_PROCESS.import },
      { key: CrmStatus, value: 'running' },
    ],
    staticSummary: `Import of ${rowsTotal} ${record.kind}`,
    staticDetails: `Import ${record.id} by user ${actor}; rows are in PostgreSQL (import_rows)`,
  });
}

export function importRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const tokens = pageTokens(deps.pageTokenSecret);

  app.openapi(createRoute_, async (c) => {
    const { kind } = c.req.valid('query');
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const format = IMPORT_CONTENT_TYPES[type];
    if (!format) {
      throw new ApiError(
        415,
        `Content-Type must be text/csv or application/x-ndjson, not ${type || 'missing'}`,
        {},
        { Accept: 'text/csv, application/x-ndjson' },
      );
    }
    const bytes = Buffer.from(await c.req.arrayBuffer());
    const file = readImportFile(kind, format, bytes.toString('utf8'));
    const contentSha256 = createHash('sha256').update(bytes).digest('hex');
    const id = randomUUID();
    const workflowId = importWorkflowId(id);
    const { actor } = c.get('principal');
    const records = file.records;
    const emails = records.map((r) => emailOfRecord(format === 'csv' ? requestOfCsv(r as Record<string, string>) : r));
    await insertImport(deps.pool, { id, kind, format, contentSha256, columns: file.columns, workflowId, actor, records, emails });
    c.set('workflowId', workflowId);
    await startImport(deps, { id, kind }, actor, records.length);
    const sameContentAs = await importsWithContent(deps.pool, kind as ImportKind, contentSha256, id);
    return c.json({ importId: id, workflowId, status: 'queued' as const, rowsTotal: records.length, sameContentAs }, 202, { Location: `/v1/imports/${id}` });
  });

  app.openapi(listRoute, async (c) => {
    const { pageSize, pageToken, ...filter } = c.req.valid('query');
    const listing = listingOf('imports', filter);
    const page = await listImports(deps.pool, filter, pageToken === undefined ? undefined : tokens.open(pageToken, listing), pageSize);
    return c.json({ items: page.items, ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(getRoute, async (c) => c.json(await importOr404(deps, c.req.valid('param').id), 200));

  app.openapi(rejectedRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { pageSize, pageToken } = c.req.valid('query');
    await importOr404(deps, id);
    const listing = listingOf(`imports/${id}/rejected`, {});
    const afterRow = pageToken === undefined ? 0 : tokens.open<{ row: number }>(pageToken, listing).row;
    const rows = await rejectedRows(deps.pool, id, afterRow, pageSize + 1);
    const items = rows.slice(0, pageSize);
    const next = rows.length > pageSize ? tokens.seal({ row: items.at(-1)!.row }, listing) : undefined;
    return c.json({ items, ...(next ? { nextPageToken: next } : {}) }, 200);
  });

  app.openapi(rejectedCsvRoute, async (c) => {
    const { id } = c.req.valid('param');
    await importOr404(deps, id);
    const csv = rejectedCsv(await importColumns(deps.pool, id), await rejectedRows(deps.pool, id, 0));
    return c.body(csv, 200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="import-${id}-rejected.csv"` });
  });

  app.openapi(cancelRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { changed, record } = await requestCancellation(deps.pool, id, c.get('principal').actor);
    if (!record) throw new ApiError(404, `No import with id ${id}`);
    if (!changed && record.status !== 'cancelling') throw new ApiError(409, `The import is already ${record.status}`, { importStatus: record.status });
    c.set('workflowId', record.workflowId);
    return c.json(record, 202);
  });

  app.openapi(resumeRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { actor } = c.get('principal');
    const { changed, record } = await requestResumption(deps.pool, id, actor);
    if (!record) throw new ApiError(404, `No import with id ${id}`);
    if (!changed) {
      const why =
        record.status === 'cancelling'
          ? 'is still stopping; resume it once it is cancelled'
          : `is ${record.status}; only a cancelled (or still queued) import can be resumed`;
      throw new ApiError(409, `The import ${why}`, { importStatus: record.status });
    }
    c.set('workflowId', record.workflowId);
    await startImport(deps, record, actor, record.rowsTotal);
    return c.json(record, 202, { Location: `/v1/imports/${id}` });
  });

  return app;
}
