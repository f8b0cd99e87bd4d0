/**
 * Webhook rules without services: the Standard Webhooks signature a receiver checks (also during a
 * secret rotation), the backoff between attempts, and the catalogue's schemas and secrets.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { backoffMs, signedRequest } from '../../activities/webhooks.js';
import { EVENT_TYPES, EVENT_TYPE_NAMES, newSubscriptionSchema, webhookSecretSchema } from '../../src/domain/webhooks.js';
import type { DueDelivery } from '../../src/db/repositories/webhooks.js';

const secret = (fill: string) => `whsec_${Buffer.from(fill.repeat(32).slice(0, 32)).toString('base64')}`;
const delivery: DueDelivery = {
  id: '00000000-0000-4000-8000-000000000001',
  orderingKey: 'customer:x',
  attempts: 0,
  pendingSince: new Date(),
  event: {
    id: '3f1f4b8e-5d7a-4c1e-9a51-3c1d2b7f0a11',
    type: 'erasure.completed',
    version: 1,
    data: { requestId: 'r', customerId: 'c' },
    occurredAt: new Date('2026-12-03T10:00:00Z'),
  },
};

describe('webhook signatures', () => {
  it('are HMAC-SHA256 over "id.timestamp.body" with the decoded secret, as Standard Webhooks says, and verify with the library', () => {
    const s = secret('a');
    const req = signedRequest({ secrets: [s] }, delivery);
    const expected = createHmac('sha256', Buffer.from(s.slice(6), 'base64'))
      .update(`${delivery.event.id}.${req.headers['webhook-timestamp']}.${req.body}`)
      .digest('base64');
    expect(req.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(new Webhook(s).verify(req.body, req.headers)).toMatchObject({ id: delivery.event.id, type: 'erasure.completed', version: 1 });
    expect(() => new Webhook(secret('b')).verify(req.body, req.headers)).toThrow();
    expect(() => new Webhook(s).verify(req.body.replace('"c"', '"d"'), req.headers)).toThrow();
  });

  it('carry two signatures during a rotation, so a receiver with either secret verifies', () => {
    const req = signedRequest({ secrets: [secret('new'), secret('old')] }, delivery);
    expect(req.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(secret('new')).verify(req.body, req.headers)).toBeTruthy();
    expect(new Webhook(secret('old')).verify(req.body, req.headers)).toBeTruthy();
  });
});

describe('webhook retries', () => {
  it('back off exponentially from the initial wait to the maximum, with a tenth of jitter', () => {
    const settings = { retryInitialMs: 1_000, retryMaxMs: 60_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, settings, () => 0.5))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(backoffMs(50, settings, () => 0.5)).toBe(60_000);
    expect(backoffMs(1, settings, () => 0)).toBe(900);
    expect(backoffMs(1, settings, () => 1)).toBe(1_100);
  });
});

describe('the event catalogue', () => {
  it('names the issue’s types, each versioned, with why its data is not personal', () => {
    for (const t of [
      'customer.registered',
      'lead.stage_changed',
      'lead.won',
      'lead.lost',
      'change.applied',
      'change.rejected',
      'offer.accepted',
      'erasure.completed',
      'enrollment.ended',
    ]) {
      expect(EVENT_TYPE_NAMES).toContain(t);
    }
    for (const t of EVENT_TYPE_NAMES) {
      expect(EVENT_TYPES[t].version).toBeGreaterThanOrEqual(1);
      expect(EVENT_TYPES[t].personalData).toMatch(/^none/);
      // No field of any type's data is a name, e-mail, phone, address or bank account.
      expect(
        Object.keys(EVENT_TYPES[t].data.shape).filter((k) => /name|email|phone|address|iban|bank|birth/i.test(k)),
        t,
      ).toEqual([]);
    }
  });

  it('accepts only http(s) URLs, known types and well-formed secrets for a subscription', () => {
    const ok = { url: 'https://erp.example.com/hooks', eventTypes: ['lead.won'] };
    expect(newSubscriptionSchema.safeParse(ok).success).toBe(true);
    for (const url of ['ftp://x.example.com', 'javascript:alert(1)', 'example.com/hooks', 'https://']) {
      expect(newSubscriptionSchema.safeParse({ ...ok, url }).success, url).toBe(false);
    }
    expect(newSubscriptionSchema.safeParse({ ...ok, eventTypes: ['lead.exploded'] }).success).toBe(false);
    expect(webhookSecretSchema.safeParse(secret('a')).success).toBe(true);
    expect(webhookSecretSchema.safeParse(`whsec_${Buffer.from('short').toString('base64')}`).success).toBe(false);
    expect(webhookSecretSchema.safeParse(secret('a').slice(6)).success).toBe(false);
  });
});
