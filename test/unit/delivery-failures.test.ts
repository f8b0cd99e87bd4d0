/**
 * Which delivery failures are permanent: the SMS gateway's answers, SMTP's verdicts and the
 * channel routing, typed as the delivery workflow reads them (a non-retryable ApplicationFailure
 * of its type, or a plain error its retry policy retries).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelTransports, HttpSmsTransport, createTransport, smtpFailure, type OutboundMessage } from '../../src/notifications/transport.js';
import { NON_RETRYABLE_TYPES, PERMANENT_FAILURE, REFUSAL, isPermanent, permanentFailure } from '../../src/domain/refusals.js';
import { startSmsGateway, type SmsGatewayStub } from '../support/sms-gateway.js';

const sms = (to: string): OutboundMessage => ({
  id: '7d0c7c3e-0000-4000-8000-000000000001',
  channel: 'sms',
  recipient: to,
  template: 'verification-code',
  subject: 'Your confirmation code',
  text: 'Your confirmation code is 123456.',
  payload: {},
  createdAt: new Date().toISOString(),
});

let gateway: SmsGatewayStub;
beforeAll(async () => {
  gateway = await startSmsGateway({ token: 'secret' });
});
afterAll(async () => {
  await gateway?.close();
});

const transport = (opts: Partial<ConstructorParameters<typeof HttpSmsTransport>[0]> = {}) =>
  new HttpSmsTransport({ url: gateway.url, token: 'secret', from: 'CRM', timeoutMs: 2_000, ...opts });

/** The error a send fails with. */
async function failureOf(send: Promise<void>): Promise<unknown> {
  try {
    await send;
  } catch (err) {
    return err;
  }
  throw new Error('the send succeeded');
}

describe('the HTTP SMS gateway transport', () => {
  it('posts the documented JSON with the bearer token and the message id as idempotency key', async () => {
    await transport().send(sms('+4915100000001'));
    const request = gateway.requests.at(-1)!;
    expect(request.body).toEqual({ id: sms('').id, to: '+4915100000001', from: 'CRM', text: 'Your confirmation code is 123456.' });
    expect(request.headers).toMatchObject({ authorization: 'Bearer secret', 'content-type': 'application/json', 'idempotency-key': sms('').id });
  });

  it('sends basic auth when configured with a user instead of a token', async () => {
    await new HttpSmsTransport({ url: gateway.url, username: 'crm', password: 'pw', from: 'CRM', timeoutMs: 2_000 })
      .send(sms('+4915100000002'))
      .catch(() => undefined);
    expect(gateway.requests.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('crm:pw').toString('base64')}`);
  });

  it.each([400, 404, 422])('takes a %i for the number as permanent: RecipientInvalid, non-retryable, with the gateway’s words', async (status) => {
    gateway.respond('+4915100000400', status);
    const err = await failureOf(transport().send(sms('+4915100000400')));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'RecipientInvalid', nonRetryable: true });
    expect((err as Error).message).toContain(`(${status})`);
    expect(isPermanent(err)).toBe(true);
  });

  it.each([401, 403, 408, 429, 500, 503])('leaves a %i to the retry policy', async (status) => {
    gateway.respond('+4915100000500', status);
    const err = await failureOf(transport().send(sms('+4915100000500')));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect((err as Error).message).toContain(`(${status})`);
    expect(isPermanent(err)).toBe(false);
  });

  it('leaves a gateway that does not answer in time, or cannot be reached, to the retry policy', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/messages`;
    const slow = await failureOf(transport({ url, timeoutMs: 200 }).send(sms('+4915100000003')));
    expect((slow as Error).message).toBe('the SMS gateway could not be reached: no answer within 200 ms');
    expect(isPermanent(slow)).toBe(false);
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    const down = await failureOf(transport({ url }).send(sms('+4915100000003')));
    expect((down as Error).message).toMatch(/^the SMS gateway could not be reached: .*ECONNREFUSED/);
    expect(isPermanent(down)).toBe(false);
  });
});

describe('SMTP verdicts', () => {
  it('takes a refused mailbox (550, 551, 553) or no valid recipient as permanent, a 4xx or a dropped connection not', () => {
    for (const responseCode of [550, 551, 553])
      expect(smtpFailure(Object.assign(new Error('mailbox unavailable'), { responseCode }))).toMatchObject({ type: 'RecipientInvalid', nonRetryable: true });
    expect(smtpFailure(Object.assign(new Error('no recipients'), { code: 'EENVELOPE' }))).toMatchObject({ type: 'RecipientInvalid' });
    const busy = Object.assign(new Error('try later'), { responseCode: 421 });
    expect(smtpFailure(busy)).toBe(busy);
    const dropped = Object.assign(new Error('connection closed'), { code: 'ECONNECTION' });
    expect(smtpFailure(dropped)).toBe(dropped);
  });
});

describe('a transport per channel', () => {
  it('refuses a message of a channel with no transport as NoTransport, non-retryable', async () => {
    const err = await failureOf(new ChannelTransports({ sms: transport() }).send({ ...sms('a@example.com'), channel: 'email' }));
    expect(err).toMatchObject({ type: PERMANENT_FAILURE.noTransport, nonRetryable: true });
  });

  it('refuses to build transports without one for SMS, naming what to set', () => {
    const mail = { transport: 'smtp' as const, smtpUrl: 'smtp://localhost:1025', from: 'CRM <crm@example.com>', mailboxDir: '/tmp/unused' };
    expect(() => createTransport({ mail, sms: { from: 'CRM' } })).toThrow(/No message transport for sms.*SMS_TRANSPORT=http with SMS_GATEWAY_URL/s);
    expect(() => createTransport({ mail, sms: { from: 'CRM', transport: 'http' } })).toThrow('SMS_GATEWAY_URL is required for SMS_TRANSPORT=http');
    expect(createTransport({ mail: { ...mail, transport: 'file' }, sms: { from: 'CRM', transport: 'file' } }).name).toBe('email:file,sms:file');
  });
});

describe('the failure types', () => {
  it('are non-retryable failures of their type, and every refusal and permanent type is on the proxies’ list', () => {
    const failure = permanentFailure(PERMANENT_FAILURE.recipientErased, 'the recipient was erased');
    expect(failure).toMatchObject({ type: 'RecipientErased', nonRetryable: true, message: 'the recipient was erased' });
    for (const type of [...Object.values(REFUSAL), ...Object.values(PERMANENT_FAILURE)]) expect(NON_RETRYABLE_TYPES).toContain(type);
    // A failure the SDK wraps (an activity's, seen by a workflow) is read down its cause chain.
    expect(isPermanent({ cause: { type: 'RecipientInvalid' } })).toBe(true);
    expect(isPermanent(ApplicationFailure.retryable('outage', 'NoActiveAgent'))).toBe(false);
    expect(isPermanent(new Error('ECONNRESET'))).toBe(false);
  });
});
