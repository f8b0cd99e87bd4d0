import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { KeyScan, workerLogLines } from '../support/key-scan.js';

const KEY = 'dev_agent_0123456789abcdef0123456789abcdef';
const json = (body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status: 201, headers: { 'content-type': 'application/json', ...headers } });

describe('the key scan of the test harness', () => {
  it('names each place a known secret appears in clear: a body, a header, an API log line, a worker log line', async () => {
    const scan = new KeyScan();
    scan.add('the API key of agent', KEY);
    await scan.response('GET', '/v1/customers/1', json({ note: `key ${KEY}` }));
    await scan.response('GET', '/v1/customers/2', json({}, { 'x-debug': KEY }));
    await scan.response('GET', '/v1/customers/3', json({ fine: true }));
    createLogger('info', 'crm', scan.apiLog).info({ token: KEY }, 'oops');
    workerLogLines.push(`INFO activity failed ${KEY}`);
    const { findings } = scan.finish();
    expect(findings).toEqual([
      'the API key of agent in clear in the body of the response to GET /v1/customers/1 (201)',
      'the API key of agent in clear in a header of the response to GET /v1/customers/2 (201)',
      'the API key of agent in clear in API log line 1',
      expect.stringMatching(/^the API key of agent in clear in worker log line \d+$/),
    ]);
  });

  it('lets a secret stand in the one field of the response that issues it, and finds it anywhere after', async () => {
    const scan = new KeyScan();
    const secret = 'whsec_' + 'a'.repeat(32);
    await scan.response('POST', '/v1/webhooks', json({ id: 'w1', secret }));
    expect(scan.finish().findings).toEqual([]);
    await scan.response('GET', '/v1/webhooks/w1', json({ id: 'w1', secret }));
    expect(scan.findings).toEqual(['a webhook secret in clear in the body of the response to GET /v1/webhooks/w1 (201)']);
    // The issuing response may not carry it twice either.
    const again = new KeyScan();
    await again.response('POST', '/v1/users/u1/keys', json({ key: KEY, name: KEY }));
    expect(again.findings).toEqual(['an issued API key in clear in the body of the response to POST /v1/users/u1/keys (201)']);
  });
});
