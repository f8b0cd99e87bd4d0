import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueId, type Harness } from './support/harness.js';

describe('the test harness on the time-skipping server', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('timeskip', { timeSkipping: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('runs the real registration workflow and activities, with search attributes, over HTTP', async () => {
    const res = await h.json('POST', '/v1/customers', { body: { name: 'Time Traveller', email: `${uniqueId('tt')}@example.com` } });
    expect(res.status).toBe(201);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM customers WHERE id = $1', [res.body.id]);
    expect(rows[0].n).toBe(1);
  });
});
