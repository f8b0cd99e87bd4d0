/**
 * Acquisition's pure rules: explainable scoring, the lead's stage machine and what each stage
 * needs, the deadlines a lead waits for, and corrections. No services: these run in milliseconds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLOSED_STAGES,
  COMPANY_SIZES,
  LEAD_EDGES,
  LEAD_SOURCES,
  LEAD_STAGES,
  STAGE_REQUIREMENTS,
  profileChanges,
  refuseCorrection,
  refuseReassignment,
  refuseTransition,
  scoreLead,
  transitionRequestSchema,
  type LeadStage,
  type LeadState,
  type TransitionRequest,
} from '../../src/domain/acquisition.js';
import { nextDeadline } from '../../workflows/acquisition.js';

const AT = '2026-05-01T09:00:00.000Z';
const accepted = { outcome: 'accepted' } as const;
const facts: Required<Pick<TransitionRequest, 'need' | 'budget' | 'timeline' | 'product' | 'amount' | 'reason'>> = {
  need: 'a CRM',
  budget: 10_000,
  timeline: 'Q3',
  product: 'crm-pro',
  amount: 9_000,
  reason: 'chose a competitor',
};
/** A transition request to `to` carrying exactly the facts that stage needs. */
const requestTo = (to: LeadStage): TransitionRequest => ({
  to,
  ...Object.fromEntries((STAGE_REQUIREMENTS[to] ?? []).map((f) => [f, facts[f as keyof typeof facts]])),
});

describe('lead scoring', () => {
  it('a referral from a large company with a stated interest and a phone is an A lead, and says why', () => {
    const score = scoreLead(
      { source: 'referral', companySize: '1000+', company: 'Acme', interest: 'CRM for 200 agents', phone: '+49 30 1234567' },
      { inbound: 0, meetings: 0 },
      AT,
    );
    expect(score.value).toBe(30 + 30 + 5 + 15 + 5);
    expect(score.grade).toBe('A');
    expect(score.reasons.map((r) => r.rule)).toEqual(['source', 'company-size', 'company', 'interest', 'phone']);
    expect(score.scoredAt).toBe(AT);
  });

  it('an imported contact with nothing else is a C lead; an unknown company size scores nothing', () => {
    const score = scoreLead({ source: 'import' }, { inbound: 0, meetings: 0 }, AT);
    expect(score).toMatchObject({ value: 5, grade: 'C' });
    expect(score.reasons).toContainEqual({ rule: 'company-size', points: 0, detail: 'company size unknown' });
  });

  it('engagement counts up to three inbound contacts and two meetings', () => {
    const few = scoreLead({ source: 'web' }, { inbound: 3, meetings: 2 }, AT);
    const many = scoreLead({ source: 'web' }, { inbound: 30, meetings: 20 }, AT);
    expect(few.reasons.at(-1)).toMatchObject({ rule: 'engagement', points: 35 });
    expect(many.value).toBe(few.value);
  });

  it('every score is the sum of its reasons, capped at 100, and its grade follows the value', () => {
    const lead = fc.record({
      source: fc.constantFrom(...LEAD_SOURCES),
      companySize: fc.option(fc.constantFrom(...COMPANY_SIZES), { nil: undefined }),
      company: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      interest: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      phone: fc.option(fc.constant('+49 30 1234567'), { nil: undefined }),
    });
    const engagement = fc.record({ inbound: fc.nat(50), meetings: fc.nat(50) });
    fc.assert(
      fc.property(lead, engagement, (l, e) => {
        const s = scoreLead(l, e, AT);
        expect(s.value).toBe(
          Math.min(
            100,
            s.reasons.reduce((sum, r) => sum + r.points, 0),
          ),
        );
        expect(s.value).toBeGreaterThanOrEqual(0);
        expect(s.value).toBeLessThanOrEqual(100);
        expect(s.grade).toBe(s.value >= 70 ? 'A' : s.value >= 40 ? 'B' : 'C');
        for (const r of s.reasons) expect(r.detail.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('the lead stage machine', () => {
  const state = (stage: LeadStage, intake: LeadState['intake'] = accepted) => ({ stage, intake });

  it('a new lead may be contacted, parked in nurture or lost, and nothing else', () => {
    expect(LEAD_EDGES.new).toEqual(['contacted', 'nurture', 'lost']);
    expect(refuseTransition(state('new'), requestTo('contacted'))).toBeUndefined();
    expect(refuseTransition(state('new'), requestTo('won'))).toMatch(/cannot move from new to won; from new it can move to contacted, nurture, lost/);
  });

  it('qualifying needs need, budget and timeline; a proposal needs product and amount; losing needs a reason', () => {
    expect(refuseTransition(state('contacted'), { to: 'qualified', need: 'x' })).toMatch(/missing: budget, timeline/);
    expect(refuseTransition(state('qualified'), { to: 'proposal' })).toMatch(/missing: product, amount/);
    expect(refuseTransition(state('new'), { to: 'lost' })).toMatch(/missing: reason/);
  });

  it('a request made against a stage the lead has left is refused', () => {
    expect(refuseTransition(state('contacted'), { ...requestTo('qualified'), from: 'new' })).toMatch(/has moved on since you looked/);
  });

  it('a duplicate intake never moves, and a closed lead neither moves, is corrected nor changes owner', () => {
    expect(refuseTransition(state('new', { outcome: 'duplicate' }), requestTo('contacted'))).toMatch(/duplicate/);
    for (const closed of CLOSED_STAGES) {
      expect(refuseTransition(state(closed), requestTo('nurture'))).toMatch(/closed lead does not move/);
      expect(refuseCorrection(state(closed))).toMatch(/closed lead is not corrected/);
      expect(refuseReassignment({ ...state(closed), owner: 'a@example.com' }, 'b@example.com')).toMatch(/closed lead keeps its owner/);
    }
    expect(refuseCorrection(state('new', { outcome: 'pending' }))).toMatch(/still being taken in/);
    expect(refuseReassignment({ ...state('new'), owner: 'a@example.com' }, 'a@example.com')).toMatch(/already owned/);
  });

  it('for any stage and target, a transition with the facts it needs is allowed exactly along an edge', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LEAD_STAGES), fc.constantFrom(...LEAD_STAGES), (from, to) => {
        const why = refuseTransition(state(from), requestTo(to));
        const allowed = !CLOSED_STAGES.includes(from) && from !== to && LEAD_EDGES[from].includes(to);
        expect(why === undefined).toBe(allowed);
      }),
    );
  });

  it('every stage is reachable from new, and won and lost are the only dead ends', () => {
    const seen = new Set<LeadStage>(['new']);
    for (let frontier: LeadStage[] = ['new']; frontier.length;) frontier = frontier.flatMap((s) => LEAD_EDGES[s].filter((t) => !seen.has(t) && seen.add(t)));
    expect([...seen].sort()).toEqual([...LEAD_STAGES].sort());
    expect(LEAD_STAGES.filter((s) => LEAD_EDGES[s].length === 0).sort()).toEqual([...CLOSED_STAGES].sort());
  });

  it('the transition request schema refuses facts the target stage does not use, naming the field', () => {
    const parsed = transitionRequestSchema.safeParse({ to: 'contacted', budget: 5 });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]).toMatchObject({ path: ['budget'], message: 'is not used when moving a lead to contacted' });
    expect(transitionRequestSchema.safeParse(requestTo('qualified')).success).toBe(true);
  });
});

describe('lead deadlines', () => {
  const policy = {
    contactSlaMs: 2 * 86_400_000,
    idleToNurtureMs: 30 * 86_400_000,
    nurtureReactivationMs: 90 * 86_400_000,
    escalationEmail: 'x@example.com',
  };
  const base = (over: Partial<LeadState>): LeadState =>
    ({
      stage: 'new',
      intake: accepted,
      contact: { since: AT, remindersSent: 0, escalated: false },
      lastActivityAt: AT,
      transitions: [{ from: null, to: 'new', at: AT, actor: 'x' }],
      ...over,
    }) as LeadState;
  const plus = (ms: number) => new Date(Date.parse(AT) + ms).toISOString();

  it('a new lead is reminded after the contact SLA, escalated after twice the SLA, then waits for nothing', () => {
    expect(nextDeadline(base({}), policy)).toEqual({ kind: 'contact-reminder', at: plus(policy.contactSlaMs) });
    expect(nextDeadline(base({ contact: { since: AT, remindersSent: 1, escalated: false } }), policy)).toEqual({
      kind: 'contact-escalation',
      at: plus(2 * policy.contactSlaMs),
    });
    expect(nextDeadline(base({ contact: { since: AT, remindersSent: 1, escalated: true } }), policy)).toBeUndefined();
  });

  it('a lead in progress goes to nurture when idle; a nurtured lead comes back after the reactivation time', () => {
    expect(nextDeadline(base({ stage: 'qualified' }), policy)).toEqual({ kind: 'idle-to-nurture', at: plus(policy.idleToNurtureMs) });
    const nurtured = base({ stage: 'nurture', transitions: [{ from: 'qualified', to: 'nurture', at: AT, actor: 'x' }] });
    expect(nextDeadline(nurtured, policy)).toEqual({ kind: 'reactivation', at: plus(policy.nurtureReactivationMs) });
  });
});

describe('lead corrections', () => {
  const current = { name: 'Ann', phone: null, company: 'Acme', companySize: null, interest: null, locale: 'en' };

  it('name only the fields that really change, with their old and new values; null clears one', () => {
    expect(profileChanges(current, { name: 'Ann', company: null, phone: '+49 30 1234567' })).toEqual([
      { field: 'phone', from: null, to: '+49 30 1234567' },
      { field: 'company', from: 'Acme', to: null },
    ]);
    expect(profileChanges(current, { locale: 'en' })).toEqual([]);
  });
});
