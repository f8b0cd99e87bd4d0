/**
 * The limit every process is measured against: the same workflow code on a worker whose
 * activities do nothing but return a result the workflow accepts. What is left is the work
 * Temporal must carry for the shape of the process (workflow tasks, activity round trips, timers,
 * child workflows, updates), on the same machine in the same run.
 *
 * Typed as `Activities`, so the compiler proves every activity of the worker is covered and that
 * each result has the shape the workflows expect.
 *
 * One exception to "does nothing": a campaign run's `enrollSegmentPage` still starts the
 * enrollment workflows of its page (that is Temporal's work, the very thing a run is made of); it
 * only skips PostgreSQL, paging over customer ids the bench hands in.
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Activities } from '../../activities/index.js';
import { campaignSnapshot, enrollmentStart, withConcurrency } from '../../activities/retention.js';
import { defaultConfig } from '../../src/config.js';
import type { CampaignDefinition, EnrollmentInput } from '../../src/domain/retention.js';
import type { LeadScore } from '../../src/domain/acquisition.js';
import type { OpenedTask } from '../../src/domain/tasks.js';

/** What the no-op campaign activities read instead of the `campaigns` and `customers` tables. */
export interface NoopCampaigns {
  campaigns: Map<string, { definition: CampaignDefinition; customerIds: string[] }>;
}

const now = () => new Date().toISOString();
const score = (): LeadScore => ({ value: 50, grade: 'B', reasons: [], scoredAt: now() });
const task = (t: { taskId: string; kind: OpenedTask['kind']; ownerId?: string; dueInMs?: number }): OpenedTask => ({
  taskId: t.taskId,
  kind: t.kind,
  ownerId: t.ownerId || 'bench',
  teamId: null,
  dueAt: new Date(Date.now() + (t.dueInMs ?? 86_400_000)).toISOString(),
  escalationLevel: 0,
  status: 'open',
});

export function createNoopActivities(campaigns: NoopCampaigns): Activities {
  const config = defaultConfig();
  const acquisitionPolicy = {
    contactSlaMs: config.acquisition.contactSlaMs,
    idleToNurtureMs: config.acquisition.idleToNurtureMs,
    nurtureReactivationMs: config.acquisition.nurtureReactivationMs,
    escalationEmail: config.acquisition.escalationEmail,
  };
  const campaignOf = (id: string) => {
    const c = campaigns.campaigns.get(id);
    if (!c) throw new Error(`the bench registered no campaign ${id} with the no-op worker`);
    return c;
  };

  const noopActivities: Activities = {
    // registration, onboarding, notifications
    registerCustomerRecord: async (input) => ({ outcome: 'created', customerId: input.customerId, welcomeMessageId: randomUUID() }),
    deliverMessage: async () => ({ sentAt: now(), alreadySent: false }),
    raiseUndeliverable: async (input) => ({ messageId: input.messageId, channel: 'email', template: 'welcome', type: input.type, reason: input.reason }),
    beginOnboarding: async () => ({
      accountManager: 'bench',
      optInMessageId: randomUUID(),
      taskMessageId: randomUUID(),
      policy: { firstContactSlaMs: config.acquisition.firstContactSlaMs, checkInAfterMs: config.acquisition.checkInAfterMs },
    }),
    renewOptInCode: async () => randomUUID(),
    // contact changes and erasure (no contact change precedes a bench process; no erasure runs)
    priorContactTargets: async () => [],
    sendCustomerLink: async () => randomUUID(),
    endCustomerProcesses: async () => ({ ended: [] }),
    eraseDeliveredMessages: async () => ({ removed: 0 }),
    checkOptInCode: async () => ({ ok: true }),
    queueOnboardingMessage: async () => ({ messageId: randomUUID() }),
    finishOnboarding: async () => {},
    recordOnboarding: async () => {},

    // tasks
    openTask: async (input) => task(input),
    closeTask: async (input) => ({ ...task({ taskId: input.taskId, kind: 'lead-contact' }), status: input.status }),
    snoozeTask: async (input) => ({ ...task({ taskId: input.taskId, kind: 'lead-contact' }), snoozedUntil: input.until }),
    reassignTask: async (input) => ({ task: task({ taskId: input.taskId, kind: 'lead-contact' }) }),
    escalateTask: async (input) => ({ ...task({ taskId: input.taskId, kind: 'lead-contact' }), escalationLevel: input.level, dueAt: input.dueAt }),

    // acquisition
    intakeLead: async () => ({ outcome: 'accepted', owner: 'bench', score: score(), policy: acquisitionPolicy }),
    openOpportunity: async () => ({ outcome: 'accepted', owner: 'bench', score: score(), policy: acquisitionPolicy }),
    rescoreLead: async () => score(),
    recordLeadStage: async () => {},
    recordLead: async () => {},
    correctLead: async () => score(),
    queueLeadMessage: async () => randomUUID(),
    convertLeadToCustomer: async (input) => ({ outcome: 'created', customerId: input.customerId, welcomeMessageId: randomUUID() }),
    recordContactEvent: async (input) => ({
      id: randomUUID(),
      leadId: null,
      customerId: null,
      channel: 'note',
      direction: 'internal',
      kind: 'interaction',
      summary: '',
      occurredAt: now(),
      recordedBy: 'bench',
      process: null,
      workflowId: input.workflowId,
    }),

    // master data
    masterDataPolicy: async () => config.masterData,
    openChangeRequest: async () => {},
    recordChangeState: async () => {},
    queueCustomerMessage: async () => randomUUID(),
    issueVerificationCodes: async (input) => ({
      expiresAt: new Date(Date.now() + input.ttlMs).toISOString(),
      sent: input.targets.map((t) => ({ target: t.target, channel: t.channel, sentTo: 'b…@example.com' })),
    }),
    checkVerificationCode: async () => ({ result: 'matched', target: 'existing-contact', attemptsLeft: 4 }),
    applyChange: async (input) => ({
      outcome: 'applied',
      version: input.expectedVersion + 1,
      fields: Object.keys(input.changes) as Array<keyof typeof input.changes>,
      messageIds: [],
    }),

    // offers
    decideOfferEligibility: async (input) => ({ eligible: true, replacesProductId: null, price: input.price ?? 10, productName: input.productId }),
    presentOffer: async () => ({ outcome: 'presented', messageId: randomUUID() }),
    acceptOffer: async () => ({ confirmationMessageId: randomUUID(), changed: true }),
    closeOffer: async () => {},

    // retention
    beginCampaignRun: async (input) => {
      const { definition: d } = campaignOf(input.campaignId);
      return { status: 'go', snapshot: campaignSnapshot(d.name, d) };
    },
    enrollSegmentPage: async (input) => {
      const ctx = Context.current();
      const client: Client = ctx.client;
      const ids = campaignOf(input.campaignId).customerIds;
      const from = input.cursor ? ids.indexOf(input.cursor) + 1 : 0;
      const page = ids.slice(from, from + input.limit);
      const { campaignName, segment: _segment, reEnrollment: _re, throttle: _throttle, ...definition } = input.snapshot;
      await withConcurrency(page, Math.max(1, input.concurrency), async (customerId) => {
        const args: EnrollmentInput = { campaignId: input.campaignId, campaignName, customerId, runKey: input.runKey, enrolledAt: input.now, definition };
        // As the real activity starts them: the search attributes are part of what the server carries.
        await client.workflow.start('campaignEnrollment', enrollmentStart(args, ctx.info.taskQueue, true));
      });
      const enrolled = input.totalsBefore.enrolled + page.length;
      const more = from + input.limit < ids.length;
      return { selected: enrolled, enrolled, skipped: 0, ...(more ? { nextCursor: page.at(-1)! } : {}) };
    },
    finishCampaignRun: async () => {},
    sendCampaignMessage: async () => ({ outcome: 'sent', messageId: randomUUID() }),
    recordEnrollmentStep: async () => {},
    closeEnrollment: async () => {},
    recordCustomerEventRow: async (input) => ({
      eventId: input.eventId,
      customerId: input.customerId,
      type: input.event.type,
      occurredAt: input.event.occurredAt,
      suppression: null,
      notifiedEnrollments: [],
      enrollments: [],
    }),
    recordConsentChange: async (input) => ({
      consent: {
        id: input.consentId,
        channel: input.channel,
        purpose: input.purpose,
        action: input.action,
        method: 'form',
        textVersion: null,
        text: null,
        source: 'bench',
        confirmation: null,
        occurredAt: now(),
        recordedAt: now(),
        recordedBy: 'bench',
        workflowId: input.workflowId,
      },
      notifiedEnrollments: [],
      enrollments: [],
    }),

    // GDPR, imports, webhooks
    openGdprRequestRecord: async () => {},
    recordGdprRequestState: async () => {},
    assembleExport: async () => ({ bytes: 0, tables: [] }),
    discardExport: async () => true,
    suppressForErasure: async () => {},
    liftErasureSuppression: async () => {},
    eraseCustomer: async () => ({ rows: {} }),
    endLeadFunnels: async () => ({ ended: [] }),
    eraseLeadData: async () => ({ rows: {} }),
    runImportPage: async () => ({ status: 'completed', rowsTotal: 0, rowsDone: 0, created: 0, duplicates: 0, rejected: 0 }),
    deliverWebhookRound: async () => ({ subscription: 'gone', delivered: 0, failed: 0, deadLettered: 0, more: false, nextDueInMs: null, pollMs: 60_000 }),
  };
  return noopActivities;
}
