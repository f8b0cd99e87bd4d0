/**
 * The analytics dashboard shows every value as text (issue 14, finding 5): ingest reads every
 * closed workflow of the namespace, so a workflow type is input anyone with access to Temporal
 * chooses. One made of markup must show as its characters, create no element and run nothing;
 * and the page's CSP allows no script but its own files.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAnalyticsHarness, withDashboard, type AnalyticsHarness } from './support/analytics.js';
import { uniqueId } from './support/harness.js';

let a: AnalyticsHarness;
const taskQueue = uniqueId('hostile');
beforeAll(async () => {
  a = await startAnalyticsHarness(taskQueue);
});
afterAll(async () => {
  await a?.stop();
});

it('shows a workflow type made of markup as text: no element is created and no script runs', { timeout: 120_000 }, async () => {
  const hostile = `<img src=x id=planted onerror="document.body.dataset.pwned='yes'">`;
  // Nobody polls this task queue: the run only has to exist and close.
  const run = await a.service.client.workflow.start(hostile, { taskQueue, workflowId: uniqueId('hostile') });
  await run.terminate('planted by the test');
  expect((await a.ingest()).ingested).toBeGreaterThanOrEqual(1);

  const page = await a.service.app.request('/');
  const csp = page.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(/script-src[^;]*/.exec(csp)![0]).not.toContain('unsafe-inline');
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');

  await withDashboard(a, 1400, async (p) => {
    const types = await p.locator('#processes tbody tr td:first-child').allTextContents();
    expect(types).toContain(hostile);
    expect(await p.locator('#planted').count()).toBe(0);
    expect(await p.locator('#processes img').count()).toBe(0);
    expect(await p.locator('body').getAttribute('data-pwned')).toBeNull();
  });
});
