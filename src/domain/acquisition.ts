/**
 * Acquisition: the contract between the API, the `leadFunnel` workflow and its activities.
 * A lead moves new → contacted → qualified → proposal → won | lost; `nurture` parks it and a
 * timer brings it back as new. The allowed edges, the facts each stage needs, and the scoring
 * rules live here, so the API documents them and the workflow enforces them from one source.
 */
import { z } from 'zod';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { emailSchema, localeSchema, personNameSchema, phoneSchema } from './contact-data.js';
import { CLOSED_STAGES, DEFAULT_STAGE_PROBABILITIES, LEAD_STAGES, OPPORTUNITY_SOURCE, type LeadStage, type StageProbabilities } from './processes.js';
import { productIdSchema } from './offers.js';
import { uuidSchema } from './formats.js';
import { CrmOwner, CrmProcess, CrmSource, CrmStatus, CrmTeam } from './search-attributes.js';
import { CRM_PROCESS } from './processes.js';
import type { HistoryLimits } from './history-limits.js';

/** Where a lead comes from, as intake takes it. */
export const LEAD_SOURCES = ['web', 'event', 'referral', 'import', 'partner'] as const;
/** Every source a lead or opportunity in the record may have. */
export const RECORD_SOURCES = [...LEAD_SOURCES, OPPORTUNITY_SOURCE] as const;
export type LeadSource = (typeof RECORD_SOURCES)[number];

/** A lead is a person not yet a customer; an opportunity runs the same funnel for an existing customer, from `qualified`. */
export const LEAD_KINDS = ['lead', 'opportunity'] as const;
export type LeadKind = (typeof LEAD_KINDS)[number];

/** Employee-count bands, as a web form asks for them. */
export const COMPANY_SIZES = ['1-10', '11-50', '51-200', '201-1000', '1000+'] as const;
export type CompanySize = (typeof COMPANY_SIZES)[number];

export {
  CLOSED_STAGES,
  DEFAULT_STAGE_PROBABILITIES,
  LEAD_STAGE,
  LEAD_STAGES,
  OPPORTUNITY_SOURCE,
  type LeadStage,
  type StageProbabilities,
} from './processes.js';

/** Transitions a person may ask for. `nurture → new` is the re-activation timer's alone. */
export const LEAD_EDGES: Record<LeadStage, readonly LeadStage[]> = {
  new: ['contacted', 'nurture', 'lost'],
  contacted: ['qualified', 'nurture', 'lost'],
  qualified: ['proposal', 'nurture', 'lost'],
  proposal: ['won', 'nurture', 'lost'],
  nurture: ['contacted', 'qualified', 'lost'],
  won: [],
  lost: [],
};

/** The facts a stage needs before a lead may enter it. */
export const STAGE_REQUIREMENTS: Partial<Record<LeadStage, readonly TransitionFact[]>> = {
  qualified: ['need', 'budget', 'timeline'],
  proposal: ['product', 'amount'],
  lost: ['reason'],
};

const TRANSITION_FACTS = ['need', 'budget', 'timeline', 'product', 'amount', 'currency', 'reason'] as const;
type TransitionFact = (typeof TRANSITION_FACTS)[number];
const FACTS_FOR: Record<LeadStage, readonly TransitionFact[]> = {
  new: [],
  contacted: [],
  qualified: ['need', 'budget', 'timeline', 'currency'],
  proposal: ['product', 'amount', 'currency'],
  nurture: ['reason'],
  won: [],
  lost: ['reason'],
};

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `has at most ${max} characters`).meta({ pattern: '\\S' });

// The deal ------------------------------------------------------------------------------------

export function stageProbability(stage: LeadStage, table: Partial<StageProbabilities> | undefined): number {
  return table?.[stage] ?? DEFAULT_STAGE_PROBABILITIES[stage];
}

/** Amount × probability, in cents exactly: what one open deal adds to the forecast. */
export function weightedAmount(amount: number, probability: number): number {
  return Math.round(amount * probability * 100) / 100;
}

let currencies: Set<string> | undefined;
/** ISO 4217 codes in use (the runtime's ICU list), read on first use. */
export function isCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return currencies.has(code);
}

export const currencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code, e.g. EUR')
  .refine(isCurrency, 'is not an ISO 4217 currency code');
const dealAmountSchema = z
  .number({ message: 'must be a number' })
  .positive('must be a positive amount')
  .max(1e12, 'must be at most 1000000000000')
  // In cents; not as JSON Schema's multipleOf, which validators check in binary floating point
  // (4081227.01 would fail it).
  .refine((v) => Math.abs(Math.round(v * 100) - v * 100) < 1e-6, 'has at most two decimals')
  .meta({ description: 'At most two decimals' });
const expectedCloseSchema = z.iso.date({ message: 'must be a date as YYYY-MM-DD, e.g. 2026-09-30' });
const productIdsSchema = z
  .array(productIdSchema)
  .max(20, 'names at most 20 products')
  .refine((ids) => new Set(ids).size === ids.length, 'names each product once');

/** The deal fields a lead or an opportunity carries: all optional at intake, changed by `changeDeal`. */
export const dealFieldsSchema = z.object({
  amount: dealAmountSchema.optional(),
  currency: currencySchema.optional().meta({ description: 'ISO 4217; EUR when an amount is given without one' }),
  expectedClose: expectedCloseSchema.optional(),
  productIds: productIdsSchema
    .optional()
    .meta({ description: 'Products of the catalogue (GET /v1/products) the deal sells: a won deal adds them to the customer' }),
});
export type DealFields = z.infer<typeof dealFieldsSchema>;

export interface Deal {
  amount?: number;
  currency: string;
  expectedClose?: string;
  productIds: string[];
}

export function dealOf(fields: DealFields): Deal {
  return {
    ...(fields.amount !== undefined ? { amount: fields.amount } : {}),
    currency: fields.currency ?? 'EUR',
    ...(fields.expectedClose !== undefined ? { expectedClose: fields.expectedClose } : {}),
    productIds: fields.productIds ?? [],
  };
}

/** An entry of the deal's timeline: the deal after the change, with the stage's probability then. */
export interface DealChange extends Deal {
  at: string;
  actor: string;
  reason?: string;
  probability: number;
  /** The fields this entry changed, old and new (none for the deal as taken in). */
  changes?: Array<{ field: keyof Deal; from: unknown; to: unknown }>;
}

export const dealChangeRequestSchema = dealFieldsSchema
  .extend({ reason: text(500).optional() })
  .strict()
  .refine((v) => v.amount !== undefined || v.currency !== undefined || v.expectedClose !== undefined || v.productIds !== undefined, {
    message: 'names at least one field to change: amount, currency, expectedClose, productIds',
  });
export type DealChangeRequest = z.infer<typeof dealChangeRequestSchema>;

/** The fields of the deal a change really changes. */
export function dealChanges(current: Deal, change: DealFields): Array<{ field: keyof Deal; from: unknown; to: unknown }> {
  const out: Array<{ field: keyof Deal; from: unknown; to: unknown }> = [];
  for (const field of ['amount', 'currency', 'expectedClose', 'productIds'] as const) {
    const to = change[field];
    if (to !== undefined && JSON.stringify(to) !== JSON.stringify(current[field])) out.push({ field, from: current[field] ?? null, to });
  }
  return out;
}

export function refuseDealChange(state: Pick<LeadState, 'stage' | 'intake'>): string | undefined {
  if (state.intake.outcome === 'pending') return 'the lead is still being taken in; try again in a moment';
  if (state.intake.outcome === 'duplicate') return 'this intake was a duplicate and never became a lead';
  if (CLOSED_STAGES.includes(state.stage)) return `the deal is already ${state.stage}; a closed deal does not change`;
  return undefined;
}

export const leadIntakeSchema = z
  .object({
    name: personNameSchema,
    email: emailSchema,
    phone: phoneSchema.optional(),
    company: text(200).optional(),
    companySize: z.enum(COMPANY_SIZES).optional(),
    source: z.enum(LEAD_SOURCES),
    interest: text(500).optional(),
    /** An active user who owns the lead; without one, the team's next active agent does. */
    ownerId: uuidSchema('must be a user id (UUID)').optional(),
    /** The team whose agents take the lead in turn (default: LEAD_TEAM), and the lead's team in reports. */
    teamId: uuidSchema('must be a team id (UUID)').optional(),
    locale: localeSchema.default('en'),
    ...dealFieldsSchema.shape,
  })
  .strict();
export type LeadIntake = z.infer<typeof leadIntakeSchema>;
/** What a funnel is started with: a lead's intake, or the customer's data and deal of an opportunity. */
export type FunnelIntake = Omit<LeadIntake, 'source'> & { source: LeadSource };

/** An opportunity: the funnel for an existing customer, from `qualified`, with its deal. */
export const opportunityRequestSchema = dealFieldsSchema
  .extend({
    productIds: productIdsSchema.refine((ids) => ids.length > 0, 'names at least one product'),
    interest: text(500).optional(),
    ownerId: emailSchema.optional(),
  })
  .strict();
export type OpportunityRequest = z.infer<typeof opportunityRequestSchema>;

export const transitionRequestSchema = z
  .object({
    to: z.enum(LEAD_STAGES),
    /** The stage the caller saw: the transition is refused if the lead has moved on since. */
    from: z.enum(LEAD_STAGES).optional(),
    need: text(1000).optional(),
    budget: z.number().positive('must be a positive amount').max(1e12).optional(),
    timeline: text(200).optional(),
    product: text(200).optional(),
    amount: z.number().positive('must be a positive amount').max(1e12).optional(),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code, e.g. EUR')
      .optional(),
    reason: text(1000).optional(),
    note: text(2000).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    for (const fact of TRANSITION_FACTS) {
      if (v[fact] !== undefined && !FACTS_FOR[v.to].includes(fact)) {
        ctx.addIssue({ code: 'custom', path: [fact], message: `is not used when moving a lead to ${v.to}` });
      }
    }
  })
  // The same rule in JSON Schema: for each target stage, the facts it does not use are absent.
  .meta({
    allOf: LEAD_STAGES.map((stage) => ({
      if: { properties: { to: { const: stage } }, required: ['to'] },
      then: { properties: Object.fromEntries(TRANSITION_FACTS.filter((f) => !FACTS_FOR[stage].includes(f)).map((f) => [f, false])) },
    })),
  });
export type TransitionRequest = z.infer<typeof transitionRequestSchema>;
export type TransitionCommand = TransitionRequest & { actor: string };

export interface ScoreReason {
  rule: 'source' | 'company-size' | 'company' | 'interest' | 'phone' | 'engagement';
  points: number;
  detail: string;
}

export interface LeadScore {
  value: number;
  /** A: call today, B: this week, C: nurture candidate. */
  grade: 'A' | 'B' | 'C';
  reasons: ScoreReason[];
  scoredAt: string;
}

export interface Engagement {
  inbound: number;
  meetings: number;
}

const SOURCE_POINTS: Record<LeadSource, number> = { customer: 35, referral: 30, partner: 25, event: 20, web: 15, import: 5 };
const SIZE_POINTS: Record<CompanySize, number> = { '1-10': 5, '11-50': 10, '51-200': 20, '201-1000': 25, '1000+': 30 };

/** Explainable scoring: every point is a reason a person can read and argue with. */
export function scoreLead(
  lead: Pick<FunnelIntake, 'source' | 'companySize' | 'company' | 'interest' | 'phone'>,
  engagement: Engagement,
  scoredAt: string,
): LeadScore {
  const reasons: ScoreReason[] = [{ rule: 'source', points: SOURCE_POINTS[lead.source], detail: `came via ${lead.source}` }];
  reasons.push(
    lead.companySize
      ? { rule: 'company-size', points: SIZE_POINTS[lead.companySize], detail: `company has ${lead.companySize} employees` }
      : { rule: 'company-size', points: 0, detail: 'company size unknown' },
  );
  if (lead.company) reasons.push({ rule: 'company', points: 5, detail: `buys for a company (${lead.company})` });
  if (lead.interest) reasons.push({ rule: 'interest', points: 15, detail: `stated an interest: ${lead.interest.slice(0, 80)}` });
  if (lead.phone) reasons.push({ rule: 'phone', points: 5, detail: 'reachable by phone' });
  const inbound = Math.min(engagement.inbound, 3) * 5;
  const meetings = Math.min(engagement.meetings, 2) * 10;
  if (inbound + meetings > 0) {
    reasons.push({
      rule: 'engagement',
      points: inbound + meetings,
      detail: `${engagement.inbound} inbound contact(s), ${engagement.meetings} meeting(s)`,
    });
  }
  const value = Math.min(
    100,
    reasons.reduce((sum, r) => sum + r.points, 0),
  );
  return { value, grade: value >= 70 ? 'A' : value >= 40 ? 'B' : 'C', reasons, scoredAt };
}

/** Timings captured at intake: a changed configuration applies to new leads, not running ones. */
export interface AcquisitionPolicy {
  contactSlaMs: number;
  idleToNurtureMs: number;
  nurtureReactivationMs: number;
  escalationEmail: string;
  /** Funnels started before deals had probabilities use the defaults. */
  stageProbabilities?: StageProbabilities;
}

export interface LeadTransition {
  from: LeadStage | null;
  to: LeadStage;
  at: string;
  actor: string;
  reason?: string;
  /** The probability of the stage entered (funnels started before deals: none). */
  probability?: number;
}

export type LeadDeadlineKind = 'contact-reminder' | 'contact-escalation' | 'idle-to-nurture' | 'reactivation';

export interface LeadAlert {
  kind: 'contact-reminder' | 'contact-escalation';
  at: string;
  recipient: string;
}

export type IntakeOutcome = { outcome: 'pending' } | { outcome: 'accepted' } | { outcome: 'duplicate'; existingLeadId?: string; existingCustomerId?: string };

export interface LeadState {
  leadId: string;
  /** Set for an opportunity (funnels of leads, and those started before opportunities: none). */
  kind?: LeadKind;
  stage: LeadStage;
  name: string;
  email: string;
  company?: string;
  source: LeadSource;
  /** The owner's user id (an e-mail address in funnels taken in before owners were users). */
  owner?: string;
  /** The lead's team (CrmTeam); none in funnels taken in before teams. */
  teamId?: string;
  score?: LeadScore;
  qualification?: { need: string; budget: number; currency: string; timeline: string };
  proposal?: { product: string; amount: number; currency: string };
  lostReason?: string;
  customerId?: string;
  onboardingWorkflowId?: string;
  intake: IntakeOutcome;
  /** Contact SLA of the current stint in `new`: counted from `since`. */
  /**
   * `taskId`: the owner's contact task, opened when the SLA was missed (a task escalates along the
   * team by itself, so the funnel then plans no escalation of its own); `taskOpen` until the task
   * is completed or resolved.
   */
  contact: { since: string; remindersSent: number; escalated: boolean; lastContactAt?: string; taskId?: string; taskOpen?: boolean };
  lastActivityAt: string;
  interactions: number;
  nextDue?: { kind: LeadDeadlineKind; at: string };
  alerts: LeadAlert[];
  /** Owner changes after intake: who handed the lead to whom, when and why. */
  reassignments?: Array<{ from: string; to: string; at: string; actor: string; reason?: string }>;
  transitions: LeadTransition[];
  /** The person's data as corrected (funnels started before corrections existed: the intake's). */
  profile?: LeadProfile;
  /** Corrections of the lead's data (PATCH): who changed which field when. */
  corrections?: Array<{ at: string; actor: string; changes: LeadFieldChange[] }>;
  /** The deal as it stands (funnels started before deals: none), and its timeline. */
  deal?: Deal;
  dealChanges?: DealChange[];
}

export interface LeadFunnelInput {
  leadId: string;
  intake: FunnelIntake;
  actor: string;
  /** Set for an opportunity: the customer it sells to; the funnel starts at `qualified` and registers no one. */
  opportunity?: { customerId: string };
  /** Set when the funnel continues as new: the state it had reached, and how far its record got. */
  carried?: { state: LeadState; policy: AcquisitionPolicy; record?: LeadRecordProgress };
  /** When to continue as new (workflows/history-budget.ts): the defaults unless a test lowers them; carried on. */
  limits?: Partial<HistoryLimits>;
}

/** How much of the funnel's state has reached PostgreSQL: the last write, and the timeline entries written. */
export interface LeadRecordProgress {
  seq: number;
  stages: number;
  owners: number;
  /** Deal timeline entries written (funnels started before deals: none). */
  deals?: number;
}

export interface LeadFunnelResult {
  outcome: 'won' | 'lost' | 'duplicate';
  leadId: string;
  customerId?: string;
  reason?: string;
  stageHistory: LeadTransition[];
}

export const reassignRequestSchema = z.object({ ownerId: uuidSchema('must be a user id (UUID)'), reason: text(500).optional() }).strict();
export type ReassignRequest = z.infer<typeof reassignRequestSchema>;

/** The person's data on a lead that may be corrected; e-mail is the dedupe key and stays. */
export const LEAD_PROFILE_FIELDS = ['name', 'phone', 'company', 'companySize', 'interest', 'locale'] as const;
export type LeadProfileField = (typeof LEAD_PROFILE_FIELDS)[number];

export interface LeadProfile {
  name: string;
  phone: string | null;
  company: string | null;
  companySize: CompanySize | null;
  interest: string | null;
  locale: string;
}

export function profileOf(intake: FunnelIntake): LeadProfile {
  return {
    name: intake.name,
    phone: intake.phone ?? null,
    company: intake.company ?? null,
    companySize: intake.companySize ?? null,
    interest: intake.interest ?? null,
    locale: intake.locale,
  };
}

/** A correction names the fields to change; `null` clears an optional one. */
export const leadCorrectionSchema = z
  .object({
    name: personNameSchema.optional(),
    phone: phoneSchema.nullable().optional(),
    company: text(200).nullable().optional(),
    companySize: z.enum(COMPANY_SIZES).nullable().optional(),
    interest: text(500).nullable().optional(),
    locale: localeSchema.optional(),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), {
    message: `names at least one field to correct: ${LEAD_PROFILE_FIELDS.join(', ')}`,
  });
export type LeadCorrection = z.infer<typeof leadCorrectionSchema>;

export interface LeadFieldChange {
  field: LeadProfileField;
  from: string | null;
  to: string | null;
}

/** The fields a correction really changes, with their old and new values. */
export function profileChanges(current: LeadProfile, correction: LeadCorrection): LeadFieldChange[] {
  const changes: LeadFieldChange[] = [];
  for (const field of LEAD_PROFILE_FIELDS) {
    const to = correction[field];
    if (to !== undefined && to !== current[field]) changes.push({ field, from: current[field], to });
  }
  return changes;
}

export function refuseCorrection(state: Pick<LeadState, 'stage' | 'intake' | 'kind'>): string | undefined {
  if (state.intake.outcome === 'pending') return 'the lead is still being taken in; try again in a moment';
  if (state.kind === 'opportunity') return "an opportunity holds the customer's data: correct them on the customer";
  if (state.intake.outcome === 'duplicate') return 'this intake was a duplicate and never became a lead';
  if (CLOSED_STAGES.includes(state.stage)) return `the lead is already ${state.stage}; a closed lead is not corrected`;
  return undefined;
}

export const leadStateQuery = defineQuery<LeadState>('state');
/** Corrects the person's data (name, phone, company, size, interest, locale); answers with the lead. */
export const correctLeadUpdate = defineUpdate<LeadState, [LeadCorrection & { actor: string }]>('correct');
export const reassignUpdate = defineUpdate<LeadState, [ReassignRequest & { actor: string }]>('reassign');
export const transitionUpdate = defineUpdate<LeadState, [TransitionCommand]>('transition');
/** Changes the deal's amount, currency, expected close or products; answers with the lead. */
export const changeDealUpdate = defineUpdate<LeadState, [DealChangeRequest & { actor: string }]>('changeDeal');
/** Answers once intake has run: accepted, or a duplicate of an existing lead or customer. */
export const intakeOutcomeUpdate = defineUpdate<IntakeOutcome>('intakeOutcome');

/** Why a transition may not happen now; undefined when it may. */
export function refuseTransition(state: Pick<LeadState, 'stage' | 'intake'>, cmd: TransitionRequest): string | undefined {
  if (state.intake.outcome === 'duplicate') return 'this intake was a duplicate and never became a lead';
  if (cmd.from && cmd.from !== state.stage) return `the lead is ${state.stage}, not ${cmd.from}: it has moved on since you looked`;
  if (CLOSED_STAGES.includes(state.stage)) return `the lead is already ${state.stage}; a closed lead does not move`;
  if (cmd.to === state.stage) return `the lead is already ${state.stage}`;
  const allowed = LEAD_EDGES[state.stage];
  if (!allowed.includes(cmd.to)) {
    return `a lead cannot move from ${state.stage} to ${cmd.to}; from ${state.stage} it can move to ${allowed.join(', ')}`;
  }
  const missing = (STAGE_REQUIREMENTS[cmd.to] ?? []).filter((f) => cmd[f] === undefined);
  if (missing.length > 0) return `moving a lead to ${cmd.to} needs ${(STAGE_REQUIREMENTS[cmd.to] ?? []).join(', ')}; missing: ${missing.join(', ')}`;
  return undefined;
}

export function refuseReassignment(state: Pick<LeadState, 'stage' | 'intake' | 'owner'>, ownerId: string): string | undefined {
  if (state.intake.outcome !== 'accepted') return 'the lead has not been taken in';
  if (CLOSED_STAGES.includes(state.stage)) return `the lead is already ${state.stage}; a closed lead keeps its owner`;
  if (state.owner === ownerId) return `the lead is already owned by ${ownerId}`;
  return undefined;
}

export function leadWorkflowId(leadId: string): string {
  return `lead-${leadId}`;
}

/**
 * The funnel's summary in the Temporal UI: the lead's id and source, no name or company. A summary
 * is a payload of no subject (sealed with the shared key), so it must name no person: the name
 * lives in the funnel's state, sealed with the lead's own key, and goes with their erasure.
 */
export function leadSummary(leadId: string, intake: Pick<FunnelIntake, 'source'>): string {
  return `Lead ${leadId}, via ${intake.source}`;
}

/** How a lead's funnel is started, by the intake API and by an import alike: id, input, search attributes, summary. */
export function leadFunnelStart(leadId: string, intake: LeadIntake, actor: string, details: string) {
  return {
    workflowId: leadWorkflowId(leadId),
    args: [{ leadId, intake, actor }] as [LeadFunnelInput],
    typedSearchAttributes: [
      { key: CrmProcess, value: CRM_PROCESS.acquisition },
      { key: CrmStatus, value: 'new' },
      { key: CrmSource, value: intake.source },
      ...(intake.ownerId ? [{ key: CrmOwner, value: intake.ownerId }] : []),
      ...(intake.teamId ? [{ key: CrmTeam, value: intake.teamId }] : []),
    ],
    staticSummary: leadSummary(leadId, intake),
    staticDetails: details,
  };
}
