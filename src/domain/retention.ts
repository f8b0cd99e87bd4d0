/**
 * Retention campaigns: the contract between the API, the `campaignRun` and `campaignEnrollment`
 * workflows and their activities. A campaign is a definition (segment, steps, goal, contact rules)
 * fired by a Temporal Schedule; each run enrolls the segment, and each enrollment walks the steps
 * for one customer.
 */
import { z } from 'zod';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { countryCodeSchema } from './contact-data.js';
import { dateTimeSchema } from './formats.js';
import { OFFER_KINDS, productIdSchema, type ContactRules, type OfferResult, type QuietHours } from './offers.js';
import type { EnrollmentStatus } from './processes.js';
import type { HistoryLimits } from './history-limits.js';
import { parseDuration } from './duration.js';

// ---- durations, time zones, quiet hours (pure; used by the API, the workflows and the activities)

export { parseDuration };

/** The units a campaign's durations take: what `parseDuration` reads, less milliseconds and years. */
const STEP_UNITS = [
  's',
  'sec',
  'secs',
  'second',
  'seconds',
  'm',
  'min',
  'mins',
  'minute',
  'minutes',
  'h',
  'hr',
  'hrs',
  'hour',
  'hours',
  'd',
  'day',
  'days',
  'w',
  'week',
  'weeks',
];
const stepDuration = (v: string) => (STEP_UNITS.includes(/[a-z]+\s*$/i.exec(v)?.[0].trim().toLowerCase() ?? '') ? parseDuration(v) : undefined);

const MAX_STEP_DURATION_MS = 365 * 86_400_000;
export const durationSchema = z
  .string()
  .max(40)
  .regex(/^\s*\d{1,6}\s*[A-Za-z]+\s*$/, 'must be a duration such as "30 minutes", "12h", "7 days" or "2w"')
  .refine((v) => stepDuration(v) !== undefined, 'must be a duration such as "30 minutes", "12h", "7 days" or "2w"')
  .refine((v) => (stepDuration(v) ?? 0) > 0 && (stepDuration(v) ?? 0) <= MAX_STEP_DURATION_MS, 'must be more than 0 and at most 365 days')
  .meta({ description: `A number and a unit (${STEP_UNITS.join(', ')}; any case), more than 0 and at most 365 days`, example: '7 days' });

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(tz);
  } catch {
    return false;
  }
}
export const timeZoneSchema = z
  .string()
  .max(64)
  .regex(/^[A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*$/, 'must be an IANA time zone such as Europe/Berlin or UTC')
  .refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin or UTC')
  .meta({
    description: "An IANA time-zone name that the server's time-zone database knows (e.g. Europe/Berlin, UTC; links such as US/Eastern too)",
    example: 'Europe/Berlin',
  });

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a local time HH:MM (24h)');
export const quietHoursSchema = z
  .object({ start: clock, end: clock })
  .strict()
  .refine((q) => q.start !== q.end, 'start and end must differ')
  .meta({ description: 'Local times in the schedule’s time zone; start and end must differ (a window may span midnight)' });

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

/** The local wall-clock minute of the day at `at` in `timeZone`. */
export function localMinuteOfDay(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

/**
 * When the quiet hours around `now` end, or undefined when `now` is outside them. The window may
 * wrap midnight. Across a daylight-saving change the answer can be an hour off; callers check
 * again when they wake, so a message never goes out inside the window.
 */
export function quietHoursEnd(now: Date, timeZone: string, quiet: QuietHours): Date | undefined {
  const m = localMinuteOfDay(now, timeZone);
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  const inside = start < end ? m >= start && m < end : m >= start || m < end;
  if (!inside) return undefined;
  const minutesLeft = (end - m + 1440) % 1440;
  const intoMinute = now.getUTCSeconds() * 1000 + now.getUTCMilliseconds();
  return new Date(now.getTime() + minutesLeft * 60_000 - intoMinute);
}

// ---- campaign definitions

const range = (max: number, integer: boolean) => {
  const n = integer ? z.number().int().min(0).max(max) : z.number().min(0).max(max);
  return z
    .object({ min: n.optional(), max: n.optional() })
    .strict()
    .refine((r) => r.min !== undefined || r.max !== undefined, 'give min, max or both')
    .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, 'min must not exceed max')
    .meta({ minProperties: 1, description: 'min, max or both; min must not exceed max' });
};

/** Segment rules over operational data; every rule given must hold (AND). */
export const segmentSchema = z
  .object({
    daysSinceLastContact: range(36_500, true).optional(),
    daysSinceLastPurchase: range(36_500, true).optional(),
    tenureDays: range(36_500, true).optional(),
    ownsAnyOf: z.array(productIdSchema).min(1).max(50).optional(),
    missingAllOf: z.array(productIdSchema).min(1).max(50).optional(),
    countries: z.array(countryCodeSchema).min(1).max(250).optional(),
    churnRisk: range(1, false).optional(),
  })
  .strict();
export type Segment = z.infer<typeof segmentSchema>;

/** Templates a campaign message step may use (rendered in src/domain/notifications.ts). */
export const CAMPAIGN_TEMPLATES = ['campaign-checkin', 'campaign-winback', 'campaign-loyalty'] as const;

export const stepSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('message'),
      channel: z.enum(['email', 'sms'], { message: 'must be email or sms' }),
      template: z.enum(CAMPAIGN_TEMPLATES, { message: `must be one of ${CAMPAIGN_TEMPLATES.join(', ')}` }),
    })
    .strict(),
  z.object({ type: z.literal('wait'), duration: durationSchema }).strict(),
  z
    .object({
      type: z.literal('offer'),
      kind: z.enum(OFFER_KINDS, { message: `must be one of ${OFFER_KINDS.join(', ')}` }),
      productId: productIdSchema,
      validFor: durationSchema.optional(),
    })
    .strict(),
  z.object({ type: z.literal('wait-for-response'), timeout: durationSchema }).strict(),
]);
export type CampaignStep = z.infer<typeof stepSchema>;

export const goalSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('offer-accepted') }).strict(),
  z.object({ type: z.literal('customer-event'), event: z.enum(['purchase', 'login'], { message: 'must be purchase or login' }) }).strict(),
]);
export type CampaignGoal = z.infer<typeof goalSchema>;

const CRON = /^(@(yearly|annually|monthly|weekly|daily|hourly)|([0-9A-Za-z*,/?-]+(\s+[0-9A-Za-z*,/?-]+){4,6}))$/;
export const scheduleSchema = z
  .object({
    cron: z.string().trim().max(120).regex(CRON, 'must be a cron expression of 5 to 7 fields (e.g. "0 9 * * MON") or @daily, @weekly, ...').optional(),
    interval: durationSchema.refine((v) => (stepDuration(v) ?? 0) >= 60_000, 'must be at least 1 minute').optional(),
    timezone: timeZoneSchema,
  })
  .strict()
  .refine((s) => (s.cron === undefined) !== (s.interval === undefined), { message: 'give exactly one of cron or interval', path: ['cron'] })
  .meta({ oneOf: [{ required: ['cron'] }, { required: ['interval'] }] });

export const reEnrollmentSchema = z.union([z.literal('never'), z.object({ afterDays: z.number().int().min(1).max(3650) }).strict()], {
  message: 'must be "never" or {"afterDays": N}',
});
export type ReEnrollment = z.infer<typeof reEnrollmentSchema>;

export const DEFAULT_MAX_MESSAGES_PER_WEEK = 3;

export const campaignRequestSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(200).meta({ pattern: '\\S' }),
    segment: segmentSchema,
    schedule: scheduleSchema,
    steps: z.array(stepSchema).min(1, 'a campaign needs at least one step').max(20, 'at most 20 steps'),
    goal: goalSchema.optional(),
    reEnrollment: reEnrollmentSchema.default('never'),
    quietHours: quietHoursSchema.optional(),
    maxMessagesPerWeek: z.number().int().min(1).max(50).default(DEFAULT_MAX_MESSAGES_PER_WEEK),
    /** Spread a run's enrollments over time (mail server, call centre capacity): at most this many start per minute. */
    throttle: z
      .object({ perMinute: z.number().int().min(1).max(100_000) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    let offers = 0;
    c.steps.forEach((s, i) => {
      if (s.type === 'offer') offers++;
      if (s.type === 'wait-for-response' && offers === 0) {
        ctx.addIssue({ code: 'custom', path: ['steps', i], message: 'wait-for-response must follow an offer step' });
      }
    });
    if (c.goal?.type === 'offer-accepted' && offers === 0) {
      ctx.addIssue({ code: 'custom', path: ['goal'], message: 'an offer-accepted goal needs an offer step' });
    }
  });
export type CampaignDefinition = z.infer<typeof campaignRequestSchema>;

export const campaignPatchSchema = z
  .object({ status: z.enum(['active', 'paused'], { message: 'must be active or paused' }), note: z.string().trim().max(500).optional() })
  .strict();

export function campaignScheduleId(campaignId: string): string {
  return `campaign-${campaignId}`;
}
/** The Schedule appends the firing time, so each run has its own id under this prefix. */
export function campaignRunWorkflowId(campaignId: string): string {
  return `campaign-${campaignId}-run`;
}
export function enrollmentWorkflowId(campaignId: string, customerId: string): string {
  return `campaign-${campaignId}-${customerId}`;
}

// ---- customer events

export const CUSTOMER_EVENT_TYPES = ['purchase', 'login', 'complaint', 'opt-out', 'cancellation-request'] as const;
export type CustomerEventType = (typeof CUSTOMER_EVENT_TYPES)[number];

export const customerEventRequestSchema = z
  .object({
    type: z.enum(CUSTOMER_EVENT_TYPES, { message: `must be one of ${CUSTOMER_EVENT_TYPES.join(', ')}` }),
    productId: productIdSchema.optional(),
    channel: z.enum(['email', 'sms', 'call', 'letter']).optional(),
    note: z.string().trim().max(1000).optional(),
    occurredAt: dateTimeSchema().meta({ description: 'When it happened; not in the future (5 minutes of clock skew allowed); default now' }).optional(),
  })
  .strict()
  .refine((e) => e.productId === undefined || e.type === 'purchase', { message: 'only a purchase names a product', path: ['productId'] })
  .meta({ if: { required: ['productId'] }, then: { properties: { type: { const: 'purchase' } } } });
export type CustomerEventRequest = z.infer<typeof customerEventRequestSchema>;

export interface CustomerEventInput {
  eventId: string;
  customerId: string;
  event: CustomerEventRequest & { occurredAt: string };
  actor: string;
}

export interface CustomerEventNotice {
  eventId: string;
  type: CustomerEventType;
  occurredAt: string;
}

export interface CustomerEventResult {
  eventId: string;
  customerId: string;
  type: CustomerEventType;
  occurredAt: string;
  suppression: 'opt-out' | 'complaint' | null;
  notifiedEnrollments: string[];
}

export function customerEventWorkflowId(key: string): string {
  return `customer-event-${key}`;
}

// ---- runs and enrollments

export interface CampaignRunInput {
  campaignId: string;
  pageSize?: number;
  concurrency?: number;
  /** Carried across continue-as-new: */
  runKey?: string;
  startedAt?: string;
  cursor?: string;
  pages?: number;
  totals?: RunTotals;
  snapshot?: EnrollmentDefinition & {
    campaignName: string;
    segment: Segment;
    reEnrollment: ReEnrollment;
    throttle?: { perMinute: number };
  };
}

export interface RunTotals {
  selected: number;
  enrolled: number;
  skipped: number;
}

export interface CampaignRunState {
  campaignId: string;
  runKey: string;
  status: 'starting' | 'enrolling' | 'completed' | 'skipped';
  pages: number;
  cursor?: string;
  totals: RunTotals;
  reason?: string;
}

export interface CampaignRunResult extends RunTotals {
  runKey: string;
  status: 'completed' | 'skipped';
  pages: number;
  reason?: string;
}

/** What an enrollment needs from its campaign, frozen at the run that enrolled it. */
export interface EnrollmentDefinition {
  steps: CampaignStep[];
  goal?: CampaignGoal;
  quietHours?: QuietHours;
  maxMessagesPerWeek: number;
  timezone: string;
}

export interface EnrollmentInput {
  campaignId: string;
  campaignName: string;
  customerId: string;
  runKey: string;
  enrolledAt: string;
  definition: EnrollmentDefinition;
  /** When to continue as new (workflows/history-budget.ts): the defaults unless a test lowers them. */
  limits?: Partial<HistoryLimits>;
  /** Set by continue-as-new in a `wait` step: the enrollment as it stood, the step and when its wait ends. */
  carried?: EnrollmentCarried;
}

/** What a run hands to the next when it continues as new (only in a `wait` step, with no offer open). */
export interface EnrollmentCarried {
  state: EnrollmentState;
  step: number;
  waitUntil: string;
  messagesSent: number;
}

/** A log entry is kept in the workflow's state for the query; beyond this many, the oldest go (steps are recorded in PostgreSQL). */
export const ENROLLMENT_LOG_KEPT = 200;

export { ENROLLMENT_STATUS, FINAL_ENROLLMENT_STATUSES, type EnrollmentStatus } from './processes.js';

export interface EnrollmentLogEntry {
  at: string;
  step: number | null;
  type: 'enrolled' | CampaignStep['type'] | 'event' | 'end';
  outcome: string;
  detail?: string;
}

export interface EnrollmentState {
  campaignId: string;
  campaignName: string;
  customerId: string;
  runKey: string;
  status: EnrollmentStatus;
  /** index of the step in progress; steps.length when all are done */
  step: number;
  steps: CampaignStep[];
  goal?: CampaignGoal;
  log: EnrollmentLogEntry[];
  lastOffer?: OfferResult;
}

export const enrollmentStateQuery = defineQuery<EnrollmentState>('state');
export const campaignRunStateQuery = defineQuery<CampaignRunState>('state');
export const customerEventSignal = defineSignal<[CustomerEventNotice]>('customerEvent');

export function contactRulesOf(def: EnrollmentDefinition): ContactRules {
  return { quietHours: def.quietHours, maxMessagesPerWeek: def.maxMessagesPerWeek, timezone: def.timezone };
}

export type MessageOutcome =
  | { outcome: 'sent'; messageId: string }
  | { outcome: 'deferred'; why: 'quiet-hours' | 'frequency-cap'; resumeAt: string }
  | { outcome: 'suppressed'; reason: string }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'goal-met'; reason: string };
