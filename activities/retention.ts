/**
 * Side effects of retention campaigns: selecting a segment page and starting its enrollments,
 * sending a campaign message behind the contact gate (suppression, quiet hours, frequency cap),
 * recording every step in contact_events, and recording customer events.
 *
 * Time: every activity takes `now` from its workflow, so a rule such as "3 messages a week" counts
 * in the time the process lives in (which a time-skipping test moves on by days).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Pool, PoolClient } from '../src/db/pool.js';
import { inTransaction } from '../src/db/pool.js';
import { recordEvent } from '../src/db/repositories/webhook-events.js';
import type { ContactRules } from '../src/domain/offers.js';
import {
  enrollmentWorkflowId,
  quietHoursEnd,
  type CampaignDefinition,
  type CampaignGoal,
  type CampaignRunInput,
  type CustomerEventInput,
  type CustomerEventResult,
  type EnrollmentInput,
  type EnrollmentLogEntry,
  type EnrollmentStatus,
  type MessageOutcome,
  type RunTotals,
  type Segment,
} from '../src/domain/retention.js';
import { CrmCampaignId, CrmCustomerId, CrmProcess, CrmStatus } from '../src/domain/search-attributes.js';
import { CRM_PROCESS } from '../src/domain/processes.js';
import { appendEnrolled, appendEnrollmentEvent } from '../src/db/repositories/campaigns.js';
import { queueMessage, queuedMessage } from '../src/db/repositories/outbox.js';
import { recordContactEvent } from '../src/db/repositories/contact-events.js';
import { hasMarketingConsent } from '../src/db/repositories/consents.js';
import type { ConsentChannel } from '../src/domain/consent.js';

export interface RetentionActivityDeps {
  pool: Pool;
}

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** Contact events that count towards the weekly frequency cap: promotional messages of any campaign or offer. */
export const PROMOTIONAL_KINDS = ['campaign-message', 'offer'] as const;

type Snapshot = NonNullable<CampaignRunInput['snapshot']>;

export type GateVerdict =
  | { outcome: 'clear'; email: string; phone: string | null; name: string }
  | { outcome: 'deferred'; why: 'quiet-hours' | 'frequency-cap'; resumeAt: string }
  | { outcome: 'suppressed'; reason: string }
  | { outcome: 'no-consent'; reason: string };

/**
 * May this customer be sent a promotional message on `channel` at `now`? Not without their
 * marketing consent for the channel. Locks the customer row, so two campaigns deciding at once are
 * serialised and the frequency cap holds across them; the caller records its message in the same
 * transaction.
 */
export async function contactGate(
  db: PoolClient,
  customerId: string,
  now: Date,
  rules?: ContactRules,
  channel: ConsentChannel = 'email',
): Promise<GateVerdict> {
  const { rows } = await db.query<{ name: string; email: string; phone: string | null; status: string; timezone: string | null }>(
    'SELECT name, email, phone, status, timezone FROM customers WHERE id = $1 FOR UPDATE',
    [customerId],
  );
  const customer = rows[0];
  if (!customer) return { outcome: 'suppressed', reason: 'customer not found' };
  if (customer.status !== 'active') return { outcome: 'suppressed', reason: `customer is ${customer.status}` };

  const suppression = await db.query<{ reason: string }>(
    `SELECT reason FROM suppressions WHERE customer_id = $1 AND lifted_at IS NULL
     ORDER BY CASE reason WHEN 'erasure' THEN 0 WHEN 'opt-out' THEN 1 WHEN 'complaint' THEN 2 ELSE 3 END LIMIT 1`,
    [customerId],
  );
  if (suppression.rows[0]) return { outcome: 'suppressed', reason: `suppressed: ${suppression.rows[0].reason}` };
  if (!(await hasMarketingConsent(db, customerId, channel))) return { outcome: 'no-consent', reason: `no marketing consent for ${channel}` };
  if (!rules) return { outcome: 'clear', email: customer.email, phone: customer.phone, name: customer.name };

  if (rules.quietHours) {
    const end = quietHoursEnd(now, customer.timezone ?? rules.timezone, rules.quietHours);
    if (end) return { outcome: 'deferred', why: 'quiet-hours', resumeAt: end.toISOString() };
  }
  if (rules.maxMessagesPerWeek !== undefined) {
    const sent = await db.query<{ occurred_at: Date }>(
      `SELECT occurred_at FROM contact_events
       WHERE customer_id = $1 AND direction = 'outbound' AND kind = ANY($2)
         AND occurred_at > $3 AND occurred_at <= $4
       ORDER BY occurred_at`,
      [customerId, PROMOTIONAL_KINDS, new Date(now.getTime() - WEEK_MS), now],
    );
    if (sent.rows.length >= rules.maxMessagesPerWeek) {
      // The window frees up when the oldest message that fills it is a week old.
      const oldest = sent.rows[sent.rows.length - rules.maxMessagesPerWeek]!.occurred_at;
      return { outcome: 'deferred', why: 'frequency-cap', resumeAt: new Date(oldest.getTime() + WEEK_MS + 1_000).toISOString() };
    }
  }
  return { outcome: 'clear', email: customer.email, phone: customer.phone, name: customer.name };
}

function enrollmentKey(campaignId: string, customerId: string, runKey: string): string {
  return `enrollment:${campaignId}:${customerId}:${runKey}`;
}

/** The segment as SQL over operational tables: parameters are numbered from `first`. */
export function segmentSql(segment: Segment, now: Date, first: number): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  const daysAgo = (days: number) => `(${p(now)}::timestamptz - make_interval(days => ${p(days)}))`;
  const lastContact = `(SELECT max(e.occurred_at) FROM contact_events e WHERE e.customer_id = c.id AND e.direction <> 'internal')`;
  const lastPurchase = `GREATEST((SELECT max(ev.occurred_at) FROM customer_events ev WHERE ev.customer_id = c.id AND ev.type = 'purchase'),
                                (SELECT max(cp.acquired_at) FROM customer_products cp WHERE cp.customer_id = c.id AND cp.source <> 'import'))`;
  // "At least N days since": true when it never happened; "at most N days since": it must have happened.
  const since = (expr: string, r: { min?: number; max?: number }) => {
    if (r.min !== undefined) where.push(`(${expr} IS NULL OR ${expr} <= ${daysAgo(r.min)})`);
    if (r.max !== undefined) where.push(`(${expr} >= ${daysAgo(r.max)})`);
  };
  if (segment.daysSinceLastContact) since(lastContact, segment.daysSinceLastContact);
  if (segment.daysSinceLastPurchase) since(lastPurchase, segment.daysSinceLastPurchase);
  if (segment.tenureDays) {
    if (segment.tenureDays.min !== undefined) where.push(`c.created_at <= ${daysAgo(segment.tenureDays.min)}`);
    if (segment.tenureDays.max !== undefined) where.push(`c.created_at >= ${daysAgo(segment.tenureDays.max)}`);
  }
  if (segment.ownsAnyOf) {
    where.push(
      `EXISTS (SELECT 1 FROM customer_products cp WHERE cp.customer_id = c.id AND cp.ended_at IS NULL AND cp.product_id = ANY(${p(segment.ownsAnyOf)}))`,
    );
  }
  if (segment.missingAllOf) {
    where.push(
      `NOT EXISTS (SELECT 1 FROM customer_products cp WHERE cp.customer_id = c.id AND cp.ended_at IS NULL AND cp.product_id = ANY(${p(segment.missingAllOf)}))`,
    );
  }
  if (segment.countries) where.push(`upper(c.address->>'country') = ANY(${p(segment.countries)})`);
  if (segment.churnRisk) {
    if (segment.churnRisk.min !== undefined) where.push(`c.churn_risk >= ${p(segment.churnRisk.min)}`);
    if (segment.churnRisk.max !== undefined) where.push(`c.churn_risk <= ${p(segment.churnRisk.max)}`);
  }
  return { where, params };
}

async function goalMetSince(db: PoolClient, campaignId: string, customerId: string, goal: CampaignGoal | undefined, since: Date): Promise<string | undefined> {
  if (!goal) return undefined;
  if (goal.type === 'customer-event') {
    const { rows } = await db.query<{ occurred_at: Date }>(
      'SELECT occurred_at FROM customer_events WHERE customer_id = $1 AND type = $2 AND occurred_at >= $3 ORDER BY occurred_at LIMIT 1',
      [customerId, goal.event, since],
    );
    return rows[0] ? `${goal.event} at ${rows[0].occurred_at.toISOString()}` : undefined;
  }
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM offers WHERE customer_id = $1 AND campaign_id = $2 AND status = 'accepted' AND created_at >= $3 LIMIT 1",
    [customerId, campaignId, since],
  );
  return rows[0] ? `offer ${rows[0].id} accepted` : undefined;
}

/** What a run keeps of its campaign: the campaign as it was when the run began. */
export function campaignSnapshot(name: string, d: CampaignDefinition): Snapshot {
  return {
    campaignName: name,
    segment: d.segment,
    reEnrollment: d.reEnrollment,
    steps: d.steps,
    goal: d.goal,
    quietHours: d.quietHours,
    maxMessagesPerWeek: d.maxMessagesPerWeek,
    timezone: d.schedule.timezone,
    throttle: d.throttle,
  };
}

/**
 * How an enrollment is started: its id per campaign and customer, its run in the memo, and the
 * search attributes operators find it by. `once` (re-enrollment "never") is also the id's rule: a
 * closed enrollment of this customer is never started again.
 */
export function enrollmentStart(args: EnrollmentInput, taskQueue: string, once: boolean) {
  return {
    taskQueue,
    workflowId: enrollmentWorkflowId(args.campaignId, args.customerId),
    args: [args] as [EnrollmentInput],
    workflowIdReusePolicy: once ? ('REJECT_DUPLICATE' as const) : ('ALLOW_DUPLICATE' as const),
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    memo: { runKey: args.runKey },
    typedSearchAttributes: [
      { key: CrmCustomerId, value: args.customerId },
      { key: CrmProcess, value: CRM_PROCESS.retention },
      { key: CrmStatus, value: 'active' },
      { key: CrmCampaignId, value: args.campaignId },
    ],
    staticSummary: `Campaign "${args.campaignName}" for customer ${args.customerId}`,
  };
}

/**
 * Runs `task` over `items` with at most `limit` in flight. Once `signal` aborts (an activity's
 * cancellation: its workflow was cancelled or terminated), no further item is taken; the tasks in
 * flight end and the call rejects with the signal's reason.
 */
export async function withConcurrency<T>(items: T[], limit: number, task: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++]!;
      await task(item);
    }
  });
  await Promise.all(lanes);
  signal?.throwIfAborted();
}

export function createRetentionActivities({ pool }: RetentionActivityDeps) {
  return {
    /** Opens a run: reads the campaign as it is now (the run's snapshot) unless it is paused. */
    async beginCampaignRun(input: {
      campaignId: string;
      runKey: string;
      now: string;
    }): Promise<{ status: 'go'; snapshot: Snapshot } | { status: 'skipped'; reason: string }> {
      const { rows } = await pool.query<{ name: string; definition: CampaignDefinition; status: string }>(
        'SELECT name, definition, status FROM campaigns WHERE id = $1',
        [input.campaignId],
      );
      const campaign = rows[0];
      if (!campaign) throw ApplicationFailure.nonRetryable(`campaign ${input.campaignId} does not exist`, 'CampaignNotFound');
      const skipped = campaign.status !== 'active';
      const d = campaign.definition;
      const snapshot = campaignSnapshot(campaign.name, d);
      // The run keeps the campaign as it was, so its enrollments read with the steps they walked.
      await pool.query(
        `INSERT INTO campaign_runs (run_key, campaign_id, status, reason, started_at, finished_at, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_key) DO NOTHING`,
        [
          input.runKey,
          input.campaignId,
          skipped ? 'skipped' : 'running',
          skipped ? `campaign is ${campaign.status}` : null,
          input.now,
          skipped ? input.now : null,
          JSON.stringify(snapshot),
        ],
      );
      if (skipped) return { status: 'skipped', reason: `campaign is ${campaign.status}` };
      return { status: 'go', snapshot };
    },

    /**
     * One page of the segment (keyset on customer id): applies the re-enrollment policy, records
     * the enrollments and starts their workflows, at most `concurrency` starts in flight. A retry
     * finds its rows (same run key) and starts nothing twice.
     */
    async enrollSegmentPage(input: {
      campaignId: string;
      runKey: string;
      snapshot: Snapshot;
      cursor?: string;
      limit: number;
      concurrency: number;
      now: string;
      pagesBefore: number;
      totalsBefore: RunTotals;
    }): Promise<RunTotals & { nextCursor?: string }> {
      const ctx = Context.current();
      const client: Client = ctx.client;
      const taskQueue = ctx.info.taskQueue;
      const now = new Date(input.now);
      const { snapshot } = input;

      const seg = segmentSql(snapshot.segment, now, 3);
      const page = await pool.query<{ id: string }>(
        `SELECT c.id FROM customers c
         WHERE c.status = 'active' AND ($1::uuid IS NULL OR c.id > $1::uuid)
           AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.customer_id = c.id AND s.lifted_at IS NULL)
           ${seg.where.map((w) => `AND ${w}`).join('\n           ')}
         ORDER BY c.id LIMIT $2`,
        [input.cursor ?? null, input.limit + 1, ...seg.params],
      );
      // One row beyond the page says whether another page follows, so a run never ends on an empty page.
      const more = page.rows.length > input.limit;
      const ids = page.rows.slice(0, input.limit).map((r) => r.id);

      const previous = await pool.query<{ customer_id: string; run_key: string; status: string; ended_at: Date | null }>(
        `SELECT DISTINCT ON (customer_id) customer_id, run_key, status, ended_at FROM campaign_enrollments
         WHERE campaign_id = $1 AND customer_id = ANY($2::uuid[])
         ORDER BY customer_id, enrolled_at DESC, id DESC`,
        [input.campaignId, ids],
      );
      const latest = new Map(previous.rows.map((r) => [r.customer_id, r]));
      const policy = snapshot.reEnrollment;
      const toEnroll = ids.filter((id) => {
        const last = latest.get(id);
        if (!last || last.run_key === input.runKey) return true;
        if (policy === 'never') return false;
        if (last.status === 'active' || !last.ended_at) return false;
        return now.getTime() - last.ended_at.getTime() >= policy.afterDays * DAY_MS;
      });

      const fresh = new Set<string>();
      if (toEnroll.length > 0) {
        await inTransaction(pool, async (db) => {
          const inserted = await db.query<{ customer_id: string }>(
            `INSERT INTO campaign_enrollments (campaign_id, customer_id, run_key, workflow_id, status, enrolled_at)
             SELECT $1::uuid, c, $2, 'campaign-' || $5::text || '-' || c::text, 'active', $3 FROM unnest($4::uuid[]) AS c
             ON CONFLICT (campaign_id, customer_id, run_key) DO NOTHING
             RETURNING customer_id`,
            [input.campaignId, input.runKey, now, toEnroll, input.campaignId],
          );
          for (const r of inserted.rows) fresh.add(r.customer_id);
          await appendEnrolled(db, {
            campaignId: input.campaignId,
            runKey: input.runKey,
            customerIds: toEnroll,
            at: now,
            keyPrefix: `enrollment:${input.campaignId}:`,
          });
          await db.query(
            `INSERT INTO contact_events (customer_id, channel, direction, kind, summary, occurred_at, recorded_by, process, workflow_id, idempotency_key)
             SELECT c, 'note', 'internal', 'campaign-step', $1, $2, 'system', 'retention', 'campaign-' || $3::text || '-' || c::text, $4::text || c::text
             FROM unnest($5::uuid[]) AS c
             ON CONFLICT (idempotency_key) DO NOTHING`,
            [
              `Enrolled in campaign "${snapshot.campaignName}" by run ${input.runKey}`,
              now,
              input.campaignId,
              `enrolled:${input.campaignId}:${input.runKey}:`,
              toEnroll,
            ],
          );
        });
      }

      const { campaignName, segment: _segment, reEnrollment: _re, throttle, ...definition } = snapshot;
      // A throttled run staggers its enrollments: the n-th of the run starts n / perMinute minutes in.
      const position = new Map(toEnroll.map((id, i) => [id, input.totalsBefore.enrolled + i]));
      const delayOf = (customerId: string) => (throttle ? Math.floor((position.get(customerId)! * 60_000) / throttle.perMinute) : 0);
      let started = 0;
      await withConcurrency(
        toEnroll,
        Math.max(1, input.concurrency),
        async (customerId) => {
          const workflowId = enrollmentWorkflowId(input.campaignId, customerId);
          if (!fresh.has(customerId)) {
            // A retry of this page: the enrollment may already have started (and even finished).
            const existing = await client.workflow
              .getHandle(workflowId)
              .describe()
              .catch(() => undefined);
            if (existing?.memo?.runKey === input.runKey) {
              started++;
              return;
            }
          }
          const args: EnrollmentInput = {
            campaignId: input.campaignId,
            campaignName,
            customerId,
            runKey: input.runKey,
            enrolledAt: input.now,
            definition,
          };
          try {
            await client.workflow.start('campaignEnrollment', {
              ...enrollmentStart(args, taskQueue, policy === 'never'),
              ...(delayOf(customerId) > 0 ? { startDelay: delayOf(customerId) } : {}),
            });
          } catch (err) {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          }
          started++;
          // Every start: the SDK throttles what it sends, and a heartbeat is how a terminated or
          // cancelled run's page learns to stop starting enrollments.
          ctx.heartbeat(started);
        },
        ctx.cancellationSignal,
      );

      const totals: RunTotals = {
        selected: input.totalsBefore.selected + ids.length,
        enrolled: input.totalsBefore.enrolled + toEnroll.length,
        skipped: input.totalsBefore.skipped + ids.length - toEnroll.length,
      };
      // Absolute values from the workflow's totals: a retried page writes the same numbers.
      await pool.query('UPDATE campaign_runs SET pages = $2, selected = $3, enrolled = $4, skipped = $5 WHERE run_key = $1', [
        input.runKey,
        input.pagesBefore + 1,
        totals.selected,
        totals.enrolled,
        totals.skipped,
      ]);
      return { ...totals, nextCursor: more ? ids[ids.length - 1] : undefined };
    },

    async finishCampaignRun(input: { runKey: string; now: string }): Promise<void> {
      await pool.query("UPDATE campaign_runs SET status = 'completed', finished_at = COALESCE(finished_at, $2) WHERE run_key = $1", [input.runKey, input.now]);
    },

    /**
     * A campaign message, if the gate lets it through: the goal not yet met, the customer not
     * suppressed, outside quiet hours, under the weekly cap. Whatever the verdict, it is recorded.
     */
    async sendCampaignMessage(input: {
      enrollment: Pick<EnrollmentInput, 'campaignId' | 'campaignName' | 'customerId' | 'runKey' | 'enrolledAt'>;
      goal?: CampaignGoal;
      step: number;
      attempt: number;
      channel: 'email' | 'sms';
      template: string;
      rules: ContactRules;
      now: string;
      workflowId: string;
    }): Promise<MessageOutcome> {
      const { enrollment: e, step, workflowId } = input;
      const now = new Date(input.now);
      const key = `${enrollmentKey(e.campaignId, e.customerId, e.runKey)}:step${step}`;
      return inTransaction(pool, async (db) => {
        const already = await queuedMessage(db, `${key}:message`);
        if (already) return { outcome: 'sent', messageId: already.id };

        const note = (summary: string) =>
          recordContactEvent(db, {
            customerId: e.customerId,
            channel: 'note',
            direction: 'internal',
            kind: 'campaign-step',
            summary,
            occurredAt: now,
            recordedBy: 'system',
            process: 'retention',
            workflowId,
            idempotencyKey: `${key}:try${input.attempt}`,
          });
        // The enrollment's log: what this step did or why it held back, as its workflow logs it.
        const log = (outcome: string, detail: string, entryKey = `${key}:try${input.attempt}`) =>
          appendEnrollmentEvent(db, {
            campaignId: e.campaignId,
            customerId: e.customerId,
            runKey: e.runKey,
            step,
            type: 'message',
            outcome,
            detail,
            at: now,
            key: entryKey,
          });

        const goal = await goalMetSince(db, e.campaignId, e.customerId, input.goal, new Date(e.enrolledAt));
        if (goal) {
          await note(`Step ${step + 1} (message ${input.template}) not sent: goal met (${goal})`);
          return { outcome: 'goal-met', reason: goal };
        }
        const gate = await contactGate(db, e.customerId, now, input.rules, input.channel);
        if (gate.outcome === 'no-consent') {
          // Marketing needs the customer's consent for the channel: the step is skipped, with the reason on record.
          await note(`Step ${step + 1} (message ${input.template}) skipped: ${gate.reason}`);
          await log('skipped', gate.reason);
          return { outcome: 'skipped', reason: gate.reason };
        }
        if (gate.outcome === 'suppressed') {
          await note(`Step ${step + 1} (message ${input.template}) not sent: ${gate.reason}`);
          await log('not sent', gate.reason);
          return gate;
        }
        if (gate.outcome === 'deferred') {
          await note(`Step ${step + 1} (message ${input.template}) deferred until ${gate.resumeAt}: ${gate.why}`);
          await log('deferred', `${gate.why} until ${gate.resumeAt}`);
          return gate;
        }
        const recipient = input.channel === 'email' ? gate.email : gate.phone;
        if (!recipient) {
          await note(
            `Step ${step + 1} (message ${input.template}) skipped: the customer has no ${input.channel === 'sms' ? 'phone number' : 'e-mail address'}`,
          );
          await log('skipped', `no ${input.channel} recipient`);
          return { outcome: 'skipped', reason: `no ${input.channel} recipient` };
        }
        const messageId = await queueMessage(db, {
          customerId: e.customerId,
          channel: input.channel,
          recipient,
          template: input.template,
          payload: { name: gate.name, campaignName: e.campaignName, campaignId: e.campaignId, step: step + 1 },
          idempotencyKey: `${key}:message`,
        });
        await recordContactEvent(db, {
          customerId: e.customerId,
          channel: input.channel,
          direction: 'outbound',
          kind: 'campaign-message',
          summary: `Campaign "${e.campaignName}" step ${step + 1}: ${input.template} (message ${messageId})`,
          occurredAt: now,
          recordedBy: 'system',
          process: 'retention',
          workflowId,
          idempotencyKey: `${key}:sent`,
        });
        await log('sent', `${input.channel} ${input.template}, message ${messageId}`, `${key}:sent`);
        return { outcome: 'sent', messageId };
      });
    },

    /** A step that sends nothing (a wait, an offer outcome, a response) still leaves a trace, and its log entry. */
    async recordEnrollmentStep(input: {
      campaignId: string;
      customerId: string;
      runKey: string;
      step: number;
      summary: string;
      now: string;
      workflowId: string;
      key: string;
      entry?: { type: EnrollmentLogEntry['type']; outcome: string; detail?: string };
    }): Promise<void> {
      const key = `${enrollmentKey(input.campaignId, input.customerId, input.runKey)}:step${input.step}:${input.key}`;
      await inTransaction(pool, async (db) => {
        await recordContactEvent(db, {
          customerId: input.customerId,
          channel: 'note',
          direction: 'internal',
          kind: 'campaign-step',
          summary: input.summary,
          occurredAt: new Date(input.now),
          recordedBy: 'system',
          process: 'retention',
          workflowId: input.workflowId,
          idempotencyKey: key,
        });
        if (input.entry) {
          await appendEnrollmentEvent(db, {
            campaignId: input.campaignId,
            customerId: input.customerId,
            runKey: input.runKey,
            step: input.step,
            ...input.entry,
            at: input.now,
            key,
          });
        }
      });
    },

    async closeEnrollment(input: {
      campaignId: string;
      customerId: string;
      runKey: string;
      status: EnrollmentStatus;
      reason: string;
      now: string;
      workflowId: string;
    }): Promise<void> {
      await inTransaction(pool, async (db) => {
        await recordEvent(db, {
          type: 'enrollment.ended',
          customerId: input.customerId,
          data: { campaignId: input.campaignId, customerId: input.customerId, runKey: input.runKey, status: input.status },
          idempotencyKey: `enrollment.ended:${enrollmentKey(input.campaignId, input.customerId, input.runKey)}`,
        });
        await db.query(
          `UPDATE campaign_enrollments SET status = $4, end_reason = $5, ended_at = $6
           WHERE campaign_id = $1 AND customer_id = $2 AND run_key = $3 AND status = 'active'`,
          [input.campaignId, input.customerId, input.runKey, input.status, input.reason, input.now],
        );
        await recordContactEvent(db, {
          customerId: input.customerId,
          channel: 'note',
          direction: 'internal',
          kind: 'campaign-step',
          summary: `Enrollment ended (${input.status}): ${input.reason}`,
          occurredAt: new Date(input.now),
          recordedBy: 'system',
          process: 'retention',
          workflowId: input.workflowId,
          idempotencyKey: `${enrollmentKey(input.campaignId, input.customerId, input.runKey)}:end`,
        });
        await appendEnrollmentEvent(db, {
          campaignId: input.campaignId,
          customerId: input.customerId,
          runKey: input.runKey,
          step: null,
          type: 'end',
          outcome: input.status,
          detail: input.reason,
          at: input.now,
          key: `${enrollmentKey(input.campaignId, input.customerId, input.runKey)}:end`,
        });
      });
    },

    /**
     * A customer event, in one transaction with what it implies: an opt-out or complaint becomes a
     * suppression, a purchase of a product makes the customer own it. Answers the enrollments to tell.
     */
    async recordCustomerEventRow(input: CustomerEventInput & { workflowId: string; now?: string }): Promise<CustomerEventResult & { enrollments: string[] }> {
      const { eventId, customerId, event, actor, workflowId } = input;
      return inTransaction(pool, async (db) => {
        const customer = await db.query<{ status: string }>('SELECT status FROM customers WHERE id = $1 FOR UPDATE', [customerId]);
        if (!customer.rows[0]) throw ApplicationFailure.nonRetryable(`customer ${customerId} does not exist`, 'CustomerNotFound');
        if (event.productId) {
          const product = await db.query('SELECT 1 FROM products WHERE id = $1', [event.productId]);
          if (!product.rows[0]) throw ApplicationFailure.nonRetryable(`product ${event.productId} does not exist`, 'ProductNotFound');
        }
        await db.query(
          `INSERT INTO customer_events (id, customer_id, type, product_id, channel, note, occurred_at, recorded_by, idempotency_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING`,
          [eventId, customerId, event.type, event.productId ?? null, event.channel ?? null, event.note ?? null, event.occurredAt, actor, `${workflowId}:event`],
        );
        let suppression: CustomerEventResult['suppression'] = null;
        if (event.type === 'opt-out' || event.type === 'complaint') {
          suppression = event.type;
          await db.query(
            `INSERT INTO suppressions (customer_id, reason, channel, created_by, source_workflow_id, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING`,
            [customerId, event.type, event.type === 'opt-out' ? (event.channel ?? null) : null, actor, workflowId, `${workflowId}:suppression`],
          );
        }
        if (event.type === 'purchase' && event.productId) {
          await db.query(
            `INSERT INTO customer_products (customer_id, product_id, price, source, source_id, acquired_at)
             SELECT $1, p.id, p.price, 'purchase', $3, $4 FROM products p WHERE p.id = $2
             ON CONFLICT (customer_id, product_id) WHERE ended_at IS NULL DO NOTHING`,
            [customerId, event.productId, eventId, event.occurredAt],
          );
        }
        const enrollments = await db.query<{ workflow_id: string }>(
          "SELECT DISTINCT workflow_id FROM campaign_enrollments WHERE customer_id = $1 AND status = 'active' ORDER BY workflow_id",
          [customerId],
        );
        // Each running enrollment logs the event it is told of, as its workflow does.
        const active = await db.query<{ campaign_id: string; run_key: string }>(
          "SELECT campaign_id, run_key FROM campaign_enrollments WHERE customer_id = $1 AND status = 'active'",
          [customerId],
        );
        for (const a of active.rows) {
          await appendEnrollmentEvent(db, {
            campaignId: a.campaign_id,
            customerId,
            runKey: a.run_key,
            step: null,
            type: 'event',
            outcome: event.type,
            detail: `customer event ${eventId} at ${event.occurredAt}`,
            at: input.now ?? new Date(),
            key: `${enrollmentKey(a.campaign_id, customerId, a.run_key)}:event:${workflowId}`,
          });
        }
        return {
          eventId,
          customerId,
          type: event.type,
          occurredAt: event.occurredAt,
          suppression,
          notifiedEnrollments: [],
          enrollments: enrollments.rows.map((r) => r.workflow_id),
        };
      });
    },
  };
}
