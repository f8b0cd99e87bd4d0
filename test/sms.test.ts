/**
 * SMS over an HTTP gateway, configured as docker-compose.yml configures the workers: the compose
 * environment goes through the config parser, and its SMS transport posts to a local gateway stub
 * (a real node:http server) standing where `sms-gateway` stands in compose.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createTransport } from '../src/notifications/transport.js';
import { eventually, startHarness, type Harness } from './support/harness.js';
import { composeEnv } from './support/compose.js';
import { registerCustomer, waitForChange } from './support/master-data.js';
import { startSmsGateway, type SmsGatewayStub } from './support/sms-gateway.js';

const workerEnv = composeEnv('worker');
let gateway: SmsGatewayStub;
let h: Harness;

beforeAll(async () => {
  gateway = await startSmsGateway({ token: workerEnv.SMS_GATEWAY_TOKEN });
  // The worker's compose settings with the gateway's address where compose names `sms-gateway`;
  // e-mail goes to a mailbox folder instead of compose's Mailpit.
  const config = loadConfig({ ...workerEnv, SMS_GATEWAY_URL: gateway.url });
  const mailboxDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sms-mail-'));
  h = await startHarness('sms', { transport: createTransport({ mail: { ...config.mail, transport: 'file', mailboxDir }, sms: config.sms }) });
});
afterAll(async () => {
  await h?.close();
  await gateway?.close();
});

describe('SMS by the HTTP gateway', () => {
  it('the compose workers configure a transport for both channels, and a worker with none for SMS is refused at start', async () => {
    const config = loadConfig(workerEnv);
    expect(config.mail.transport).toBe('smtp');
    expect(config.sms).toMatchObject({ transport: 'http', gateway: { url: 'http://sms-gateway:8080/messages', token: 'sample-sms-token' } });
    const transports = createTransport({ mail: config.mail, sms: config.sms });
    expect(transports.name).toBe('email:smtp,sms:sms-http');
    await transports.close();

    const { SMS_TRANSPORT: _sms, SMS_GATEWAY_URL: _url, ...withoutSms } = workerEnv;
    const unconfigured = loadConfig(withoutSms);
    expect(unconfigured.sms.transport).toBeUndefined();
    expect(() => createTransport({ mail: unconfigured.mail, sms: unconfigured.sms })).toThrow(/No message transport for sms.*SMS_TRANSPORT=http/s);
    expect(() => loadConfig({ ...workerEnv, SMS_GATEWAY_URL: '' })).toThrow(/SMS_GATEWAY_URL/);
    expect(() => loadConfig({ SMS_TRANSPORT: 'http' })).toThrow(/SMS_GATEWAY_URL: required when SMS_TRANSPORT=http/);
  });

  it('a phone change in the compose-like configuration reaches the SMS gateway with the code, which confirms the change', async () => {
    const c = await registerCustomer(h);
    const newPhone = '+4915112345678';
    const res = await h.json('POST', `/v1/customers/${c.id}/changes`, { body: { changes: { phone: newPhone }, reason: 'customer called' } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const changeId = res.body.changeId as string;
    await waitForChange(h, changeId, 'awaiting-verification');

    const [sms] = await eventually(async () => {
      const got = gateway.accepted(newPhone);
      return got.length > 0 ? got : undefined;
    });
    expect(sms).toMatchObject({ to: newPhone, from: 'CRM' });
    const code = /\b(\d{6})\b/.exec(sms!.text)?.[1];
    expect(code, sms!.text).toBeDefined();
    const request = gateway.requests.find((r) => r.body.to === newPhone)!;
    expect(request.headers.authorization).toBe('Bearer sample-sms-token');
    expect(request.headers['idempotency-key']).toBe(sms!.id);
    // The old number hears of the change by SMS too, through its delivery workflow.
    const notice = await eventually(async () => gateway.accepted(c.phone).find((m) => m.text.includes(changeId)));
    expect(notice.text).toContain('phone number');

    const verified = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code } });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    // The old number confirms too, with its own code by SMS.
    const oldSms = await eventually(async () => gateway.accepted(c.phone).find((m) => m.text.startsWith('Your confirmation code')));
    const oldCode = /\b(\d{6})\b/.exec(oldSms.text)![1];
    const confirmed = await h.json('POST', `/v1/changes/${changeId}/verification`, { body: { code: oldCode } });
    expect(confirmed.body, JSON.stringify(confirmed.body)).toMatchObject({ status: 'verified' });
    await waitForChange(h, changeId, 'applied');
    const row = await h.pool.query('SELECT phone FROM customers WHERE id = $1', [c.id]);
    expect(row.rows[0].phone).toBe(newPhone);
    const message = await h.json('GET', `/v1/messages/${sms!.id}`);
    expect(message.status).toBe(200);
    expect(message.body).toMatchObject({ channel: 'sms', template: 'verification-code', status: 'sent', attempts: 1, reason: null });
  });

  it('a new number the gateway refuses fails the change with that reason, and its code message is undeliverable', async () => {
    const c = await registerCustomer(h);
    const refused = '+4915199999999';
    gateway.respond(refused, 400);
    const res = await h.json('POST', `/v1/customers/${c.id}/changes`, { body: { changes: { phone: refused }, reason: 'customer called' } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const failed = await waitForChange(h, res.body.changeId, 'failed');
    expect(failed.transitions.at(-1)).toMatchObject({
      status: 'failed',
      reason: 'the confirmation code could not be delivered: the number or address was refused',
    });
    expect(gateway.requests.filter((r) => r.body.to === refused).map((r) => r.status)).toEqual([400]);
    const row = await h.pool.query("SELECT id FROM notification_outbox WHERE recipient = $1 AND template = 'verification-code'", [refused]);
    const message = await h.json('GET', `/v1/messages/${row.rows[0].id}`);
    expect(message.body).toMatchObject({ status: 'undeliverable', attempts: 1, reason: { type: 'RecipientInvalid' } });
    expect((await h.pool.query('SELECT phone FROM customers WHERE id = $1', [c.id])).rows[0].phone).toBe(c.phone);
  });
});
