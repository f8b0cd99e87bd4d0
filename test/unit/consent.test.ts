import { describe, expect, it } from 'vitest';
import { TEMPLATES, TEMPLATE_PURPOSE, messagePurpose, renderTemplate } from '../../src/domain/notifications.js';
import { CONSENT_TEXTS, consentChangeRequestSchema } from '../../src/domain/consent.js';

describe('which messages are marketing', () => {
  it('classifies every template once: campaign messages and offers are marketing, codes, confirmations and GDPR notices are service', () => {
    expect(Object.keys(TEMPLATE_PURPOSE).sort()).toEqual(Object.keys(TEMPLATES).sort());
    const marketing = Object.entries(TEMPLATE_PURPOSE)
      .filter(([, p]) => p === 'marketing')
      .map(([t]) => t)
      .sort();
    expect(marketing).toEqual(['campaign-checkin', 'campaign-loyalty', 'campaign-winback', 'offer']);
    for (const service of ['verification-code', 'onboarding-opt-in', 'offer-confirmation', 'master-data-applied', 'gdpr-export-ready']) {
      expect(messagePurpose(service)).toBe('service');
    }
    // A template nobody classified asks for consent rather than assuming it.
    expect(messagePurpose('campaign-new-template')).toBe('marketing');
  });

  it('adds the unsubscribe link to marketing messages only', () => {
    const url = 'https://crm.example.com/unsubscribe/abc';
    expect(renderTemplate('campaign-checkin', { name: 'Ann', unsubscribeUrl: url }).text).toContain(`To stop them, open: ${url}`);
    expect(renderTemplate('offer-confirmation', { name: 'Ann', unsubscribeUrl: url }).text).not.toContain(url);
    expect(renderTemplate('onboarding-opt-in', { name: 'Ann', code: '123456' }).text).toContain(CONSENT_TEXTS['opt-in-email-v1']);
  });

  it('names each wrong field of a consent request', () => {
    const parsed = consentChangeRequestSchema.safeParse({ channel: 'fax', purpose: 'marketing', method: 'double-opt-in', source: ' ', extra: 1 });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.') || i.code).sort()).toEqual(['channel', 'method', 'source', 'unrecognized_keys']);
  });
});
