/**
 * Side effects of GDPR requests: assembling an export, the erasure suppression, and the erasure
 * itself.
 *
 * The export reads every table that has a `customer_id` column, so a table added later is
 * exported without a change here. The erasure is an explicit plan, table by table, because what
 * is personal in a table is a decision; ERASURE_COVERAGE names that decision for every table of
 * the operational schema, and the test fails when a table has none.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { writeAudit } from '../src/db/repositories/audit-log.js';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction, quoteIdent } from '../src/db/pool.js';
import { recordEvent } from '../src/db/repositories/webhook-events.js';
import type { EraseCustomerResult } from '../src/domain/gdpr.js';
import { openGdprRequest, recordGdprRequest, type GdprRecord } from '../src/db/repositories/gdpr-requests.js';
import { readCustomerRow } from '../src/db/repositories/customers.js';
import { leadDataOf } from '../src/db/repositories/lead-data.js';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createLeadGdprActivities, endFunnels } from './gdpr-leads.js';
import type { MessageTransport } from '../src/notifications/transport.js';
import { CrmCustomerId } from '../src/domain/search-attributes.js';
import { ERASED_PROCESS_REASON } from '../src/domain/gdpr.js';
import { destroySubjectKeys } from '../src/codec/subject-keys.js';

export interface GdprActivityDeps {
  pool: Pool;
  /** The message transport: erasure removes what it keeps of the person's messages (the file mailbox). */
  transport?: MessageTransport;
}

/** Internal bookkeeping that is no datum about the person (hashes of codes and unsubscribe links, the export itself). */
const NOT_EXPORTED = new Set(['verification_subjects', 'verification_codes', 'unsubscribe_tokens', 'customer_links', 'gdpr_exports', 'pgmigrations']);

/** Runs for the customer's rows; $1 is the customer id, $2 the normalised e-mail before erasure. */
type Step = (db: PoolClient, customer: { id: string; emailNormalized: string }) => Promise<number>;

const run =
  (sql: string): Step =>
  async (db, customer) =>
    (await db.query(sql, sql.includes('$2') ? [customer.id, customer.emailNormalized] : [customer.id])).rowCount ?? 0;

/**
 * What the erasure does to each table. `anonymise`: the statement runs for the customer's rows.
 * Tables with a reason string hold no personal data of a customer (catalogue, definitions) or
 * only non-personal facts that are kept (which product, which campaign, when).
 */
export const ERASURE_COVERAGE: Record<string, Step | string> = {
  // Acquisition (0003): the lead the customer came from, and any lead under the same address.
  // With them (0006): the values of their corrections in the audit log, and the free-text reasons
  // of their timeline (a lost reason, a note may quote the person).
  leads: run(
    `WITH erased AS (SELECT id FROM leads WHERE customer_id = $1 OR email_normalized = $2),
          corrections AS (UPDATE audit_log SET old_value = NULL, new_value = NULL
                           WHERE lead_id IN (SELECT id FROM erased) AND (old_value IS NOT NULL OR new_value IS NOT NULL)),
          timeline AS (UPDATE lead_transitions SET reason = NULL WHERE lead_id IN (SELECT id FROM erased) AND reason IS NOT NULL),
          deals AS (UPDATE lead_deal_changes SET reason = NULL WHERE lead_id IN (SELECT id FROM erased) AND reason IS NOT NULL)
     UPDATE leads SET name = 'Erased lead', email = 'erased-' || id || '@erased.invalid', email_normalized = 'erased-' || id || '@erased.invalid',
       phone = NULL, company = NULL, interest = NULL, lost_reason = NULL, score_reasons = '[]'::jsonb,
       qualification_need = NULL, qualification_timeline = NULL, updated_at = now()
     WHERE id IN (SELECT id FROM erased)`,
  ),
  lead_transitions: 'who moved the lead from which stage to which, when: kept; its reasons are erased with the leads',
  lead_deal_changes: "the deal's amount, currency, expected close and products, who changed them when: kept; their reasons are erased with the leads",
  owner_rotation: 'round-robin counters: no customer data',
  customer_onboardings: 'onboarding status, dates and account manager: non-personal facts (the opt-in code is only a hash)',
  onboarding_transitions: "the onboarding's status steps and why (confirmation, first contact): non-personal facts",
  registrations: 'which workflow registered the customer, when and at whose request: non-personal facts',
  customers: run(
    `UPDATE customers SET name = 'Erased customer', email = 'erased-' || id || '@erased.invalid', email_normalized = 'erased-' || id || '@erased.invalid',
       phone = NULL, address = NULL, birth_date = NULL, bank_account_iban = NULL, status = 'erased', erased_at = now(),
       version = version + 1, updated_at = now()
     WHERE id = $1`,
  ),
  // Who changed which field when stays; the values go.
  audit_log: run('UPDATE audit_log SET old_value = NULL, new_value = NULL WHERE customer_id = $1 AND (old_value IS NOT NULL OR new_value IS NOT NULL)'),
  notification_outbox: run(
    `UPDATE notification_outbox SET recipient = 'erased', payload = '{}'::jsonb, last_error = NULL, undeliverable_reason = NULL WHERE customer_id = $1`,
  ),
  contact_events: run(`UPDATE contact_events SET summary = '[erased]' WHERE customer_id = $1`),
  // Which fields changed when, by whom, and how it ended stay; the new values and free text go.
  change_requests: run(
    `UPDATE change_requests SET reason = NULL, preview = NULL, verification = NULL, decision_comment = NULL, outcome_detail = NULL, new_bank_account = NULL
     WHERE customer_id = $1`,
  ),
  request_events: run('UPDATE request_events SET reason = NULL WHERE customer_id = $1 AND reason IS NOT NULL'),
  gdpr_requests: 'kind, status, dates and who asked: no personal values (contact points only masked)',
  verification_subjects: run('DELETE FROM verification_subjects WHERE customer_id = $1'),
  verification_codes: 'deleted with verification_subjects (ON DELETE CASCADE)',
  // An export still waiting to be fetched is discarded; one already fetched keeps who fetched it when.
  gdpr_exports: run('UPDATE gdpr_exports SET content = NULL, discarded_at = COALESCE(discarded_at, now()) WHERE customer_id = $1 AND content IS NOT NULL'),
  suppressions: 'keeps why and since when the customer must not be contacted: no personal values',
  consent_events: 'the proof of consent and its withdrawal (GDPR Art. 7(1)): channel, purpose, how, wording version, source; append-only, no personal values',
  unsubscribe_tokens: run('DELETE FROM unsubscribe_tokens WHERE customer_id = $1'),
  // 0020: links to fetch an export, cancel an erasure or stop a contact change: nothing is left to act on.
  customer_links: run('DELETE FROM customer_links WHERE customer_id = $1'),
  // Retention (0005): free-text notes and reasons may quote the customer; the facts stay.
  customer_events: run('UPDATE customer_events SET note = NULL WHERE customer_id = $1 AND note IS NOT NULL'),
  offers: run('UPDATE offers SET reason = NULL WHERE customer_id = $1 AND reason IS NOT NULL'),
  offer_events: run('UPDATE offer_events e SET reason = NULL FROM offers o WHERE o.id = e.offer_id AND o.customer_id = $1 AND e.reason IS NOT NULL'),
  enrollment_events: 'which step of which campaign ran or was held back, and why (rules, message ids): non-personal facts',
  customer_products: 'which product since when at which price: non-personal facts kept for accounting',
  campaign_enrollments: 'which campaign run enrolled the customer and how it ended: non-personal facts',
  campaigns: 'campaign definitions: no customer data',
  campaign_runs: 'run counters: no customer data',
  products: 'catalogue: no customer data',
  category_complements: 'catalogue rules: no customer data',
  // An Idempotency-Key keeps the first answer to replay it (0008), and a registration's or an
  // intake's answer holds the person's name and e-mail: such keys are forgotten with the person.
  idempotency_keys: run(
    `DELETE FROM idempotency_keys
     WHERE response_body LIKE '%' || $1 || '%' OR response_location LIKE '%' || $1 || '%' OR lower(response_body) LIKE '%' || $2 || '%'`,
  ),
  pgmigrations: 'migration bookkeeping',
  // Tasks (0012): titles name the person and outcomes or reasons may quote them; who had which
  // kind of task, when it was due and how it ended stay.
  tasks: run(
    `WITH erased AS (SELECT id FROM tasks WHERE customer_id = $1 OR lead_id IN (SELECT id FROM leads WHERE customer_id = $1 OR email_normalized = $2)),
          timeline AS (UPDATE task_events SET outcome = NULL, reason = NULL WHERE task_id IN (SELECT id FROM erased) AND (outcome IS NOT NULL OR reason IS NOT NULL)),
          audited AS (UPDATE audit_log SET old_value = NULL, new_value = NULL WHERE workflow_id IN (SELECT 'task-' || id FROM erased) AND (old_value IS NOT NULL OR new_value IS NOT NULL))
     UPDATE tasks SET title = 'Task about an erased person', outcome = NULL, updated_at = now() WHERE id IN (SELECT id FROM erased)`,
  ),
  task_events: "a task's steps (who, when, to whom): kept; their outcomes and reasons are erased with the tasks",
  // The people who work the CRM (0010): employees, not customers; a customer's erasure leaves them.
  users: 'the people who work the CRM (employees): no customer data',
  teams: 'teams of users: no customer data',
  api_keys: "users' key hashes: no customer data",
  // Outbound events (0016): an event carries ids and non-personal facts only (src/domain/webhooks.ts
  // says per type why); erasure.completed itself goes out after this, to tell subscribers to erase.
  webhook_events: 'outbound events: ids and non-personal facts only (which lead moved to which stage, which offer was accepted): kept',
  webhook_subscriptions: 'subscribers (URL, event types, secret): no customer data',
  webhook_deliveries: 'which event went to which subscriber, when: no personal values',
  webhook_attempts: "each delivery attempt's HTTP status, latency and our own error text: no personal values",
  // Bulk imports (0017): a row as uploaded holds the person's data, whatever came of it (created,
  // duplicate or rejected); the row's number, outcome and reason (field paths and rule messages,
  // record ids) stay, the values go. A rejected row whose e-mail was no valid address cannot be
  // found by the person's address: see README, Imports.
  import_rows: run(
    `UPDATE import_rows SET data = '{}'::jsonb, email_normalized = NULL, errors = NULL, erased_at = now()
     WHERE (customer_id = $1 OR email_normalized = $2) AND erased_at IS NULL`,
  ),
  imports: 'who imported which kind of file when, its SHA-256 and counters: no personal data',
  // Security (0019): who decoded how many payloads when: kept; the workflow id may carry the customer's id and goes.
  // Crypto-shredding (0022): the customer's data key and their leads' are destroyed by eraseCustomer itself (after this plan).
  subject_keys: "data keys of persons: the erased person's are destroyed (wrapped key removed), which makes their Temporal payloads unreadable",
  codec_decodes: run(`UPDATE codec_decodes SET workflow_id = NULL WHERE workflow_id LIKE '%' || $1 || '%'`),
};

/** Extra columns of `customers` that other processes added and that are personal. */
const CUSTOMER_EXTRA_PERSONAL_COLUMNS = ['timezone', 'churn_risk'];

async function tablesOf(db: Pool | PoolClient): Promise<Set<string>> {
  const { rows } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
  );
  return new Set(rows.map((r) => r.table_name));
}

/** Keeps an export for its one retrieval (a retry finds the first); returns its size. */
async function storeExport(
  pool: Pool,
  input: { requestId: string; customerId: string | null; retentionMs: number },
  content: Record<string, unknown>,
): Promise<{ bytes: number; tables: string[] }> {
  const json = JSON.stringify(content);
  const bytes = Buffer.byteLength(json);
  await pool.query(
    `INSERT INTO gdpr_exports (request_id, customer_id, content, bytes, expires_at) VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')
     ON CONFLICT (request_id) DO NOTHING`,
    [input.requestId, input.customerId, json, bytes, input.retentionMs],
  );
  return { bytes, tables: Object.keys(content) };
}

export function createGdprActivities({ pool, transport }: GdprActivityDeps) {
  return {
    ...createLeadGdprActivities({ pool }),
    /** The request's row for this run, before anything else happens; a retry finds it. */
    async openGdprRequestRecord(record: GdprRecord): Promise<void> {
      await openGdprRequest(pool, record);
    },

    /** Keeps the row and its timeline in step with the workflow, so the request reads the same once it is gone. */
    async recordGdprRequestState(record: GdprRecord): Promise<void> {
      await recordGdprRequest(pool, record);
    },

    /**
     * Every datum held about the customer, or about a person known only as a lead (`email`: their
     * leads of no customer and what hangs off them), stored for one retrieval; returns only its size.
     */
    async assembleExport(input: { requestId: string; customerId?: string; email?: string; retentionMs: number }): Promise<{ bytes: number; tables: string[] }> {
      const existing = await pool.query<{ bytes: number }>('SELECT bytes FROM gdpr_exports WHERE request_id = $1', [input.requestId]);
      if (existing.rows[0]) return { bytes: existing.rows[0].bytes, tables: [] };
      if (!input.customerId) {
        const data = await leadDataOf(pool, input.email!);
        return storeExport(
          pool,
          { ...input, customerId: null },
          { requestId: input.requestId, generatedAt: new Date().toISOString(), email: input.email, ...data },
        );
      }
      const customer = await readCustomerRow(pool, input.customerId);
      if (!customer || customer.status === 'erased') throw ApplicationFailure.nonRetryable('the customer no longer exists', 'CustomerGone');
      const { rows: columns } = await pool.query<{ table_name: string }>(
        `SELECT DISTINCT table_name FROM information_schema.columns
         WHERE table_schema = current_schema() AND column_name = 'customer_id' ORDER BY table_name`,
      );
      const content: Record<string, unknown> = {
        requestId: input.requestId,
        generatedAt: new Date().toISOString(),
        customer: (await pool.query('SELECT * FROM customers WHERE id = $1', [input.customerId])).rows[0],
      };
      const tables: string[] = ['customers'];
      for (const { table_name: table } of columns) {
        if (NOT_EXPORTED.has(table)) continue;
        const { rows } = await pool.query(`SELECT * FROM ${quoteIdent(table)} WHERE customer_id = $1`, [input.customerId]);
        content[table] = rows;
        tables.push(table);
      }
      return { ...(await storeExport(pool, { requestId: input.requestId, customerId: input.customerId, retentionMs: input.retentionMs }, content)), tables };
    },

    /** Removes an export that was not fetched in time. */
    async discardExport(requestId: string): Promise<boolean> {
      const { rowCount } = await pool.query('UPDATE gdpr_exports SET content = NULL, discarded_at = now() WHERE request_id = $1 AND content IS NOT NULL', [
        requestId,
      ]);
      return (rowCount ?? 0) > 0;
    },

    /** From the moment an erasure is requested no process contacts the customer for promotion. */
    async suppressForErasure(input: { customerId: string; requestId: string; actor: string; workflowId: string }): Promise<void> {
      await pool.query(
        `INSERT INTO suppressions (customer_id, reason, created_by, source_workflow_id, idempotency_key)
         VALUES ($1, 'erasure', $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING`,
        [input.customerId, input.actor, input.workflowId, `${input.workflowId}:suppress`],
      );
    },

    async liftErasureSuppression(input: { workflowId: string }): Promise<void> {
      await pool.query('UPDATE suppressions SET lifted_at = COALESCE(lifted_at, now()) WHERE idempotency_key = $1', [`${input.workflowId}:suppress`]);
    },

    /**
     * Ends every running process of the customer before the erasure, so none writes their data again
     * and none is left with payloads that its own worker can no longer read once the key is
     * destroyed: lead funnels of their leads (by customer or address) close as lost with the reason
     * `erased`; every other running workflow tagged with the customer (onboarding, changes, offers,
     * enrollments, tasks, exports, deliveries) is terminated with that reason. The erasure's audit
     * entry records which processes ended and why (`eraseCustomer`).
     */
    async endCustomerProcesses(input: { customerId: string; requestId: string; actor: string; workflowId: string }): Promise<{ ended: string[] }> {
      const { client } = Context.current();
      const customer = await readCustomerRow(pool, input.customerId);
      if (!customer) return { ended: [] };
      const { rows: leads } = await pool.query<{ workflow_id: string }>(
        'SELECT workflow_id FROM leads WHERE (customer_id = $1 OR email_normalized = $2) AND workflow_id IS NOT NULL',
        [input.customerId, customer.email_normalized],
      );
      const { ended } = await endFunnels(
        leads.map((l) => l.workflow_id),
        input,
      );
      const reason = `${ERASED_PROCESS_REASON}: GDPR request ${input.requestId}`;
      for await (const wf of client.workflow.list({ query: `${CrmCustomerId.name} = '${input.customerId}' AND ExecutionStatus = 'Running'` })) {
        if (wf.workflowId === input.workflowId) continue;
        try {
          await client.workflow.getHandle(wf.workflowId, wf.runId).terminate(reason);
          ended.push(wf.workflowId);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        Context.current().heartbeat();
      }
      return { ended };
    },

    /**
     * Removes what the message transport keeps of messages to the customer (the file mailbox: every
     * message to their e-mail addresses and phone numbers on record, their leads' included), before
     * the record forgets those addresses. Mail handed to SMTP or an SMS gateway cannot be recalled.
     */
    async eraseDeliveredMessages(input: { customerId: string }): Promise<{ removed: number }> {
      if (!transport?.erase) return { removed: 0 };
      const { rows } = await pool.query<{ r: string | null }>(
        `WITH c AS (SELECT email, phone, email_normalized FROM customers WHERE id = $1 AND status <> 'erased')
         SELECT email AS r FROM c UNION SELECT phone FROM c
         UNION SELECT l.email FROM leads l, c WHERE l.customer_id = $1 OR l.email_normalized = c.email_normalized
         UNION SELECT l.phone FROM leads l, c WHERE l.customer_id = $1 OR l.email_normalized = c.email_normalized
         UNION SELECT recipient FROM notification_outbox WHERE customer_id = $1 AND recipient <> 'erased'`,
        [input.customerId],
      );
      return { removed: await transport.erase(rows.map((r) => r.r).filter((r): r is string => !!r)) };
    },

    /**
     * Anonymises the customer in every operational table in one transaction and records the
     * erasure in the audit log (which tables, how many rows: no values). Idempotent: a second run
     * finds nothing personal left and records nothing twice.
     */
    async eraseCustomer(input: {
      customerId: string;
      requestId: string;
      actor: string;
      workflowId: string;
      /** The processes `endCustomerProcesses` ended, for the audit entry. */
      processesEnded?: string[];
    }): Promise<EraseCustomerResult> {
      return inTransaction(pool, async (db) => {
        const customer = await readCustomerRow(db, input.customerId, true);
        if (!customer) throw ApplicationFailure.nonRetryable('the customer does not exist', 'CustomerGone');
        const present = await tablesOf(db);
        const uncovered = [...present].filter((t) => !(t in ERASURE_COVERAGE));
        if (uncovered.length > 0) {
          // Refuse rather than leave personal data behind in a table nobody decided about.
          throw ApplicationFailure.nonRetryable(`erasure does not cover the tables ${uncovered.join(', ')}`, 'ErasureIncomplete');
        }
        // The data keys of the customer and of their leads (by customer or by address), read before the leads are anonymised.
        const { rows: leads } = await db.query<{ id: string }>('SELECT id FROM leads WHERE customer_id = $1 OR email_normalized = $2', [
          input.customerId,
          customer.email_normalized,
        ]);
        const rows: Record<string, number> = {};
        for (const [table, step] of Object.entries(ERASURE_COVERAGE)) {
          if (typeof step === 'string' || !present.has(table)) continue;
          rows[table] = await step(db, { id: input.customerId, emailNormalized: customer.email_normalized });
        }
        const { rows: extra } = await db.query<{ column_name: string }>(
          "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'customers' AND column_name = ANY($1)",
          [CUSTOMER_EXTRA_PERSONAL_COLUMNS],
        );
        if (extra.length > 0) {
          await db.query(`UPDATE customers SET ${extra.map((c) => `${quoteIdent(c.column_name)} = NULL`).join(', ')} WHERE id = $1`, [input.customerId]);
        }
        // Crypto-shredding: with the keys gone, no Temporal history (running or closed) reveals their data.
        rows.subject_keys = await destroySubjectKeys(db, [`customer:${input.customerId}`, ...leads.map((l) => `lead:${l.id}`)], input.workflowId);
        await writeAudit(
          db,
          {
            step: input.workflowId,
            customerId: input.customerId,
            actor: input.actor,
            process: 'gdpr',
            workflowId: input.workflowId,
            changeId: input.requestId,
          },
          [
            {
              field: 'erasure',
              oldValue: null,
              newValue: {
                erased: true,
                rows,
                ...(input.processesEnded ? { processesEnded: { reason: ERASED_PROCESS_REASON, workflows: input.processesEnded } } : {}),
              },
            },
          ],
        );
        // Every system the customer's data went to must erase it too: they learn it with the commit.
        await recordEvent(db, {
          type: 'erasure.completed',
          customerId: input.customerId,
          data: { requestId: input.requestId, customerId: input.customerId },
          idempotencyKey: `erasure.completed:${input.requestId}`,
        });
        return { rows };
      });
    },
  };
}
