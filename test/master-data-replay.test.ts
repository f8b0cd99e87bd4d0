/**
 * Replay tests for the master-data change desk and the GDPR requests: histories recorded under
 * test/histories/ must replay on today's workflow code. They guard the per-change status timeline
 * (patched 'change-outcomes-in-status-timeline': a desk that ran before it must replay without
 * its upserts) and the desk, export and erasure as they run today.
 *
 * Recording (once, and after a deliberate, patched change): RECORD_HISTORIES=1 npx vitest run
 * test/master-data-replay.test.ts. As in acquisition-replay.test.ts, histories are binary
 * protobuf recorded without payload encryption (so they replay with any key): the journeys go
 * through the real API, but one whose Temporal client has no codec, to a recording worker of its
 * own. Customers are registered through the harness as in master-data.test.ts. The change desk
 * would close after ten idle minutes; once its last change has closed it is terminated instead,
 * so its history is closed.
 */
import { describe, expect, it } from 'vitest';
import { eventually, uniqueId, type Harness, type RequestOptions } from './support/harness.js';
import { codeFor, confirmFromOldContact, fetchExportByLink, registerCustomer, waitForChange, waitForGdpr } from './support/master-data.js';
import { RECORDING, bundleFromGit, recorder, replayRecorded } from './support/replay.js';
import { createApi } from '../src/api/app.js';
import { devKeyEntries } from '../src/dev/dev-keys.js';
import { createLogger } from '../src/logger.js';
import { DEFAULT_MASTER_DATA_POLICY, masterDataStateQuery, masterDataWorkflowId, type MasterDataPolicy } from '../src/domain/master-data.js';
import { gdprWorkflowId, type GdprState } from '../src/domain/gdpr.js';

/** The commit that added the per-change status timeline to the change desk. */
const CHANGE_TIMELINE_COMMIT = '10f4a7c';
/** Short enough to record an erasure through its grace period. */
const POLICY: MasterDataPolicy = { ...DEFAULT_MASTER_DATA_POLICY, erasureGracePeriod: '2 seconds' };

describe.runIf(RECORDING)('recording histories', () => {
  const rec = recorder('master_data_replay', { masterData: POLICY });

  /**
   * The harness's API, schema, keys and mailbox, but over the unencrypted client and the
   * recording worker's task queue: the support helpers drive it as they drive the harness.
   */
  const recordingApi = (taskQueue: string): Harness => {
    const { h, client } = rec;
    const keys = h.keys;
    const api = createApi({
      pool: h.pool,
      temporal: client,
      taskQueue,
      pageTokenSecret: 'test-page-token-secret-0123456789abcdef',
      logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
      keys: devKeyEntries(keys),
    });
    const request = (method: string, url: string, o: RequestOptions = {}) => {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const as = o.as === undefined ? 'agent' : o.as;
      if (as) headers.authorization ??= `Bearer ${typeof as === 'string' ? keys[as] : as.key}`;
      let body: string | undefined = o.rawBody;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      return Promise.resolve(api.request(url, { method, headers, body }));
    };
    return {
      ...h,
      taskQueue,
      client,
      api,
      request,
      async json(method: string, url: string, o?: RequestOptions) {
        const res = await request(method, url, o);
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
      },
      mailbox: (recipient: string) => h.mailbox(recipient),
    };
  };

  /**
   * An e-mail change confirmed with the code from the new mailbox and applied, then a name change
   * rejected by the backoffice; the desk is closed once both have closed. Returns its workflow id.
   */
  const changeJourney = async (r: Harness): Promise<string> => {
    const customer = await registerCustomer(rec.h);
    const newEmail = `moved.${uniqueId('m').slice(2)}@example.com`;
    const email = await r.json('POST', `/v1/customers/${customer.id}/changes`, { body: { changes: { email: newEmail } } });
    expect(email.status, JSON.stringify(email.body)).toBe(202);
    await waitForChange(r, email.body.changeId, 'awaiting-verification');
    const verified = await r.json('POST', `/v1/changes/${email.body.changeId}/verification`, {
      body: { code: await codeFor(r, newEmail) },
    });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    await confirmFromOldContact(r, email.body.changeId, customer.email);
    await waitForChange(r, email.body.changeId, 'applied');

    const name = await r.json('POST', `/v1/customers/${customer.id}/changes`, { body: { changes: { name: 'Jane Renamed' } } });
    expect(name.status, JSON.stringify(name.body)).toBe(202);
    await waitForChange(r, name.body.changeId, 'awaiting-approval');
    const rejected = await r.json('POST', `/v1/changes/${name.body.changeId}/approval`, {
      as: 'backoffice',
      body: { decision: 'reject', comment: 'no proof of the new name' },
    });
    expect(rejected.status, JSON.stringify(rejected.body)).toBe(200);
    expect(rejected.body.status).toBe('rejected');

    // Idle: the rejection is recorded and told, nothing is current or queued; the desk waits to close.
    const desk = rec.client.workflow.getHandle(masterDataWorkflowId(customer.id));
    await eventually(async () => {
      const state = await desk.query(masterDataStateQuery);
      return state.current === undefined && state.queued.length === 0 && state.changes.every((c) => ['applied', 'rejected'].includes(c.status));
    });
    await desk.terminate('recorded; the desk would close after ten idle minutes');
    return desk.workflowId;
  };

  it('records a change desk as it ran before the per-change status timeline', async () => {
    // The workflow as committed before the change, bundled from git.
    const { bundle, source } = await bundleFromGit(`${CHANGE_TIMELINE_COMMIT}~1`, 'master-data', 'customerMasterData');
    expect(source).not.toContain('patched(');
    const taskQueue = uniqueId('record-old-desk');
    const w = await rec.worker(taskQueue, bundle);
    const workflowId = await w.runUntil(changeJourney(recordingApi(taskQueue)));
    await rec.save('master-data-before-change-timeline', workflowId, { closed: true });
  });

  it('records the same change desk on today’s code', async () => {
    const taskQueue = uniqueId('record-desk');
    const w = await rec.worker(taskQueue);
    const workflowId = await w.runUntil(changeJourney(recordingApi(taskQueue)));
    await rec.save('master-data-change-timeline', workflowId, { closed: true });
  });

  it('records a GDPR export through verification and fetch, and an erasure through its grace period', async () => {
    const taskQueue = uniqueId('record-gdpr');
    const w = await rec.worker(taskQueue);
    const r = recordingApi(taskQueue);
    await w.runUntil(async () => {
      const exporter = await registerCustomer(rec.h);
      const started = await r.json('POST', `/v1/customers/${exporter.id}/export`, { body: {} });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const exportId: string = started.body.requestId;
      await waitForGdpr(r, exportId, 'awaiting-verification');
      const verified = await r.json('POST', `/v1/gdpr-requests/${exportId}/verification`, {
        body: { code: await codeFor(r, exporter.email) },
      });
      expect(verified.status, JSON.stringify(verified.body)).toBe(200);
      await waitForGdpr(r, exportId, 'ready');
      const fetched = await fetchExportByLink(r, exporter.email);
      expect(fetched.status, JSON.stringify(fetched.body)).toBe(200);
      const exported = rec.client.workflow.getHandle(gdprWorkflowId(exportId));
      expect(((await exported.result()) as GdprState).status).toBe('retrieved');
      await rec.save('gdpr-export-retrieved', exported.workflowId, { closed: true });

      const leaver = await registerCustomer(rec.h);
      const erasure = await r.json('POST', `/v1/customers/${leaver.id}/erasure`, { body: {} });
      expect(erasure.status, JSON.stringify(erasure.body)).toBe(202);
      const erasureId: string = erasure.body.requestId;
      await waitForGdpr(r, erasureId, 'awaiting-verification');
      const confirmed = await r.json('POST', `/v1/gdpr-requests/${erasureId}/verification`, {
        body: { code: await codeFor(r, leaver.email) },
      });
      expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
      await waitForGdpr(r, erasureId, 'grace-period');
      const erased = rec.client.workflow.getHandle(gdprWorkflowId(erasureId));
      expect(((await erased.result()) as GdprState).status).toBe('erased');
      await rec.save('gdpr-erasure-erased', erased.workflowId, { closed: true });
    });
  });
});

describe('replaying recorded histories on the current code', () => {
  it('replays every recorded master-data and GDPR history without non-determinism', async () => {
    expect(await replayRecorded(/^(master-data|gdpr)-/)).toEqual(
      expect.arrayContaining([
        'master-data-before-change-timeline.history.pb',
        'master-data-change-timeline.history.pb',
        'gdpr-export-retrieved.history.pb',
        'gdpr-erasure-erased.history.pb',
      ]),
    );
  });
});
