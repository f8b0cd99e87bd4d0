/**
 * Side effects of a bulk import: one page of rows per call, in one transaction under a lock of
 * the import's row. Each row is validated with the single-record API's schema and its domain
 * checks, deduplicated against the record and within the file, and created as the API creates it:
 * a customer with the registration's audit entries; a lead through its funnel, started after the
 * page commits (throttled), with source `import`. A retried page finds its rows done (their
 * outcome is written with the page) and only starts the funnels still missing.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { writeAuditBatch, type AuditField, type AuditWrite } from '../src/db/repositories/audit-log.js';
import { insertCustomers } from '../src/db/repositories/customers.js';
import {
  firstCreatedRows,
  lockImport,
  readImport,
  markStarted,
  pendingRows,
  recordPage,
  setImportStatus,
  takenEmails,
  unstartedLeads,
  type ImportRecord,
  type PendingRow,
  type RowResult,
} from '../src/db/repositories/imports.js';
import { unsellableProducts, unsellableReason } from '../src/db/repositories/products.js';
import { INACTIVE_USER, NO_TEAM, NO_USER } from '../src/domain/users.js';
import { readActiveUser, readTeam, readUser } from '../src/db/repositories/users.js';
import { leadFunnelStart, type LeadIntake } from '../src/domain/acquisition.js';
import { normaliseEmail } from '../src/domain/contact-data.js';
import type { RegistrationRequest } from '../src/domain/customers.js';
import { importWorkflowId, parseRow, reasonOf, requestOfCsv, type ImportFormat, type ImportPageResult, type RowProblem } from '../src/domain/imports.js';
import { registrationAudit } from './customers.js';
import { withConcurrency } from './retention.js';

export interface ImportActivityDeps {
  pool: Pool;
}

/** A stored record as the request it stands for (CSV cells converted; JSON lines as they are). */
function recordOf(format: ImportFormat, data: unknown): unknown {
  return format === 'csv' ? requestOfCsv(data as Record<string, string>) : data;
}

/**
 * The intake's domain checks, which the schema cannot make: products on sale, an active owner, a
 * known team (the API's 400/409 for a single lead; a rejection here). Looked up once per page.
 */
function leadChecks(db: PoolClient) {
  const products = new Map<string, string | null>();
  const owners = new Map<string, string | null>();
  const teams = new Map<string, string | null>();
  return async (intake: LeadIntake): Promise<RowProblem[]> => {
    const problems: RowProblem[] = [];
    const unknownProducts = (intake.productIds ?? []).filter((id) => !products.has(id));
    for (const bad of await unsellableProducts(db, unknownProducts)) {
      products.set(bad.id, unsellableReason(bad));
    }
    for (const id of unknownProducts) if (!products.has(id)) products.set(id, null);
    for (const id of intake.productIds ?? []) {
      const problem = products.get(id);
      if (problem) problems.push({ path: 'productIds', message: problem });
    }
    if (intake.ownerId) {
      const id = intake.ownerId;
      if (!owners.has(id)) {
        const active = await readActiveUser(db, id);
        owners.set(id, active ? null : (await readUser(db, id)) ? INACTIVE_USER(id) : NO_USER(id));
      }
      const problem = owners.get(id);
      if (problem) problems.push({ path: 'ownerId', message: problem });
    }
    if (intake.teamId) {
      const id = intake.teamId;
      if (!teams.has(id)) teams.set(id, (await readTeam(db, id)) ? null : NO_TEAM(id));
      const problem = teams.get(id);
      if (problem) problems.push({ path: 'teamId', message: problem });
    }
    return problems;
  };
}

/** Outcomes of a page: rejected, duplicate (of the record, or of an earlier row of the file), or created. */
async function processRows(db: PoolClient, imp: ImportRecord, rows: PendingRow[], actor: string): Promise<RowResult[]> {
  const check = imp.kind === 'leads' ? leadChecks(db) : undefined;
  const valid: Array<{ row: number; request: Record<string, unknown>; email: string }> = [];
  const results: RowResult[] = [];
  for (const r of rows) {
    const parsed = parseRow(imp.kind, recordOf(imp.format, r.data));
    const errors = parsed.ok ? ((await check?.(parsed.request as LeadIntake)) ?? []) : parsed.errors;
    if (!parsed.ok || errors.length > 0) {
      results.push({ row: r.row, outcome: 'rejected', reason: reasonOf(errors), errors });
      continue;
    }
    valid.push({ row: r.row, request: parsed.request, email: normaliseEmail(parsed.request.email as string) });
  }

  const emails = [...new Set(valid.map((v) => v.email))];
  const firstRow = await firstCreatedRows(db, imp.id, emails);
  const taken = await takenEmails(db, imp.kind, emails);
  const workflowId = importWorkflowId(imp.id);
  const creating: Array<{ row: number; id: string; request: RegistrationRequest; emailNormalized: string }> = [];

  for (const v of valid) {
    const first = firstRow.get(v.email);
    if (first !== undefined) {
      results.push({ row: v.row, outcome: 'duplicate', reason: `the same e-mail address as row ${first} of this file` });
      continue;
    }
    const existing = taken.get(v.email);
    if (existing?.customerId) {
      results.push({
        row: v.row,
        outcome: 'duplicate',
        reason: `a customer with this e-mail address exists (${existing.customerId})`,
        customerId: existing.customerId,
      });
      continue;
    }
    if (existing?.leadId) {
      results.push({ row: v.row, outcome: 'duplicate', reason: `an open lead with this e-mail address exists (${existing.leadId})`, leadId: existing.leadId });
      continue;
    }
    firstRow.set(v.email, v.row);
    if (imp.kind === 'leads') {
      // The funnel writes the lead at intake; it is started once this page has committed.
      results.push({ row: v.row, outcome: 'created', leadId: randomUUID() });
    } else {
      creating.push({ row: v.row, id: randomUUID(), request: v.request as RegistrationRequest, emailNormalized: v.email });
    }
  }

  if (creating.length > 0) {
    // One statement for the page's customers and one for their audit entries (the registration's).
    const { inserted, existing } = await insertCustomers(db, creating, actor);
    const audited: Array<{ write: AuditWrite; fields: AuditField[] }> = [];
    for (const c of creating) {
      if (!inserted.has(c.id)) {
        // A registration took the address since the page looked (the unique e-mail decides).
        const holder = existing.get(c.id);
        results.push({ row: c.row, outcome: 'duplicate', reason: `a customer with this e-mail address exists (${holder})`, customerId: holder });
        continue;
      }
      audited.push({
        write: { step: `${workflowId}:row-${c.row}:audit`, customerId: c.id, actor, process: 'import', workflowId },
        fields: registrationAudit(c.request),
      });
      results.push({ row: c.row, outcome: 'created', customerId: c.id });
    }
    await writeAuditBatch(db, audited);
  }
  return results.sort((a, b) => a.row - b.row);
}

/** Starts the funnels of the import's created leads that have none yet, `concurrency` at a time. */
async function startFunnels(pool: Pool, imp: { id: string; format: ImportFormat }, actor: string, concurrency: number): Promise<void> {
  const pending = await unstartedLeads(pool, imp.id);
  if (pending.length === 0) return;
  const ctx = Context.current();
  const client: Client = ctx.client;
  const started: number[] = [];
  await withConcurrency(
    pending,
    Math.max(1, concurrency),
    async (p) => {
      const parsed = parseRow('leads', recordOf(imp.format, p.data));
      if (!parsed.ok) throw ApplicationFailure.nonRetryable(`row ${p.row} of import ${imp.id} no longer parses`, 'ImportRowInvalid');
      const intake = parsed.request as LeadIntake;
      try {
        await client.workflow.start('leadFunnel', {
          taskQueue: ctx.info.taskQueue,
          ...leadFunnelStart(p.leadId, intake, actor, `Imported by user ${actor} (import ${imp.id}, row ${p.row}); e-mail ${intake.email}`),
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      started.push(p.row);
      // Every start (the SDK throttles what it sends): a heartbeat is how a cancelled import learns to stop.
      ctx.heartbeat(started.length);
    },
    ctx.cancellationSignal,
  ).finally(() => markStarted(pool, imp.id, started));
}

export function createImportActivities({ pool }: ImportActivityDeps) {
  return {
    /**
     * One page of an import. A cancellation asked for (`cancelling`) ends the import here, before
     * the page; an import with no rows left is completed.
     */
    async runImportPage(input: { importId: string; actor: string; pageSize: number; concurrency: number }): Promise<ImportPageResult> {
      const head = await readImport(pool, input.importId);
      if (!head) throw ApplicationFailure.nonRetryable(`no import ${input.importId}`, 'ImportNotFound');
      if (head.kind === 'leads') await startFunnels(pool, head, input.actor, input.concurrency);
      const result = await inTransaction(pool, async (db): Promise<ImportPageResult & { kind: string }> => {
        const imp = await lockImport(db, input.importId);
        if (!imp) throw ApplicationFailure.nonRetryable(`no import ${input.importId}`, 'ImportNotFound');
        const counts = { rowsTotal: imp.rowsTotal, rowsDone: imp.rowsDone, created: imp.created, duplicates: imp.duplicates, rejected: imp.rejected };
        if (imp.status === 'cancelling' || imp.status === 'cancelled') {
          if (imp.status === 'cancelling') await setImportStatus(db, imp.id, 'cancelled');
          return { status: 'cancelled', kind: imp.kind, ...counts };
        }
        const rows = await pendingRows(db, imp.id, input.pageSize);
        if (rows.length === 0) {
          await setImportStatus(db, imp.id, 'completed');
          return { status: 'completed', kind: imp.kind, ...counts };
        }
        const results = await processRows(db, imp, rows, input.actor);
        await recordPage(db, imp.id, results);
        const add = (o: RowResult['outcome']) => results.filter((r) => r.outcome === o).length;
        const after = {
          rowsTotal: imp.rowsTotal,
          rowsDone: imp.rowsDone + results.length,
          created: imp.created + add('created'),
          duplicates: imp.duplicates + add('duplicate'),
          rejected: imp.rejected + add('rejected'),
        };
        const last = after.rowsDone >= imp.rowsTotal;
        if (last) await setImportStatus(db, imp.id, 'completed');
        return { status: last ? 'completed' : 'more', kind: imp.kind, ...after };
      });
      if (result.kind === 'leads') await startFunnels(pool, head, input.actor, input.concurrency);
      const { kind: _kind, ...page } = result;
      return page;
    },
  };
}
