/**
 * Bulk import of customers or leads (`import-<importId>`).
 * States: running → completed | cancelled (a cancelled import is resumed by a new run of the same id).
 * Moved by: one page activity after another (IMPORT_PAGE_SIZE rows, one transaction each), which
 * reads the rows from PostgreSQL and writes their outcomes and the counters there; the workflow
 * carries only the import id and counters, and continues as new every IMPORT_PAGES_PER_RUN pages,
 * so its history stays bounded whatever the file's size.
 * Ends when every row has its outcome, or at the first page after a cancellation was asked for.
 */
import { continueAsNew, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  IMPORT_PAGE_SIZE,
  IMPORT_PAGES_PER_RUN,
  IMPORT_START_CONCURRENCY,
  importStateQuery,
  type ImportInput,
  type ImportResult,
  type ImportState,
} from '../src/domain/imports.js';
import { CrmStatus } from '../src/domain/search-attributes.js';

// A page is idempotent (its rows' outcomes commit with it), so retrying is always safe; a
// PostgreSQL outage must not lose the import, so the retries are not bounded by count: an
// operator sees a page that keeps failing in the Temporal UI with its last error. An import that
// no longer exists is a non-retryable failure.
const { runImportPage } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['ImportNotFound', 'ImportRowInvalid'] },
});

export async function importRecords(input: ImportInput): Promise<ImportResult> {
  const state: ImportState = {
    importId: input.importId,
    kind: input.kind,
    status: 'running',
    rowsTotal: 0,
    rowsDone: 0,
    created: 0,
    duplicates: 0,
    rejected: 0,
    pages: input.pages ?? 0,
  };
  setHandler(importStateQuery, () => state);

  for (let pagesThisRun = 0; ; pagesThisRun++) {
    if (pagesThisRun >= (input.pagesPerRun ?? IMPORT_PAGES_PER_RUN) || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof importRecords>({ ...input, pages: state.pages });
    }
    const page = await runImportPage({
      importId: input.importId,
      actor: input.actor,
      pageSize: input.pageSize ?? IMPORT_PAGE_SIZE,
      concurrency: input.concurrency ?? IMPORT_START_CONCURRENCY,
    });
    const { status, ...counts } = page;
    Object.assign(state, counts);
    if (status === 'more') {
      state.pages += 1;
      continue;
    }
    state.status = status;
    upsertSearchAttributes([{ key: CrmStatus, value: status }]);
    return state;
  }
}
