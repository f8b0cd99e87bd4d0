/** Onboarding's opt-in rules: when a code may be entered or sent again. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPT_IN_MAX_RESENDS, refuseOptIn, refuseResend, type OnboardingState } from '../../src/domain/onboarding.js';

type Gate = Pick<OnboardingState, 'status' | 'optIn'>;
const gate = (status: Gate['status'], optIn: Partial<Gate['optIn']> = {}): Gate => ({
  status,
  optIn: { status: 'pending', ...optIn } as Gate['optIn'],
});

describe('opt-in', () => {
  it('a code is taken while onboarding is in progress and the address is not yet confirmed', () => {
    expect(refuseOptIn(gate('in-progress'))).toBeUndefined();
    expect(refuseOptIn(gate('starting'))).toMatch(/not been sent yet/);
    expect(refuseOptIn(gate('onboarded'))).toMatch(/onboarding has ended/);
    expect(refuseOptIn(gate('in-progress', { status: 'confirmed' }))).toMatch(/already confirmed/);
    expect(refuseOptIn(gate('in-progress', { status: 'locked' }))).toMatch(/locked/);
  });

  it(`a code is sent again at most ${OPT_IN_MAX_RESENDS} times, and never when no code would be taken`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Gate['status']>('starting', 'in-progress', 'onboarded', 'stalled'),
        fc.constantFrom('pending', 'confirmed', 'locked'),
        fc.nat(10),
        (status, optInStatus, resends) => {
          const g = gate(status, { status: optInStatus as Gate['optIn']['status'], resends });
          const resend = refuseResend(g);
          if (refuseOptIn(g)) expect(resend).toBe(refuseOptIn(g));
          else expect(resend === undefined).toBe(resends < OPT_IN_MAX_RESENDS);
        },
      ),
    );
  });
});
