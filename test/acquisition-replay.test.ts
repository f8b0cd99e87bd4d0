/**
 * Replay tests: histories recorded under test/histories/ must replay on today's workflow code.
 * They guard changes that running executions would see: the onboarding that registration now
 * starts (patched), the lead funnel and onboarding as first recorded, and both again once they
 * write their record to PostgreSQL (patched), and an opportunity whose deal is published as search
 * attributes (patched: `lead-deal-search-attributes`).
 *
 * Recording (once, and after a deliberate, patched change): RECORD_HISTORIES=1 npx vitest run
 * test/acquisition-replay.test.ts. Histories are stored as binary protobuf (the SDK's own format)
 * and recorded without payload encryption, so they replay with any key.
 */
import { describe, expect, it } from 'vitest';
import { eventually, uniqueId } from './support/harness.js';
import { RECORDING, bundleFromGit, recorder, replayRecorded } from './support/replay.js';
import { changeDealUpdate, intakeOutcomeUpdate, leadStateQuery, transitionUpdate, type LeadFunnelInput } from '../src/domain/acquisition.js';
import { onboardingStateQuery } from '../src/domain/onboarding.js';

describe.runIf(RECORDING)('recording histories', () => {
  const r = recorder('acquisition_replay');

  it('records registerCustomer as it ran before onboarding existed', async () => {
    const { bundle } = await bundleFromGit('be8d675~1', 'customers', 'registerCustomer');
    const taskQueue = uniqueId('record-old');
    const w = await r.worker(taskQueue, bundle);
    const workflowId = `customer-register-${uniqueId('replay')}`;
    await w.runUntil(
      r.client.workflow.execute('registerCustomer', {
        taskQueue,
        workflowId,
        args: [
          {
            customerId: crypto.randomUUID(),
            request: { name: 'Old Registration', email: `${uniqueId('old')}@example.com`, locale: 'en' },
            actor: 'recorder',
          },
        ],
      }),
    );
    await r.save('register-customer-before-onboarding', workflowId);
  });

  it('records a lead funnel from intake to won with an interaction, and the onboarding it starts', async () => {
    const taskQueue = uniqueId('record-funnel');
    const w = await r.worker(taskQueue);
    await w.runUntil(async () => {
      const leadId = crypto.randomUUID();
      const input: LeadFunnelInput = {
        leadId,
        actor: 'recorder',
        intake: { name: 'Replay Lead', email: `${uniqueId('replay')}@example.com`, source: 'web', company: 'ACME', locale: 'en' },
      };
      const handle = await r.client.workflow.start('leadFunnel', { taskQueue, workflowId: `lead-${leadId}`, args: [input] });
      await handle.executeUpdate(intakeOutcomeUpdate);
      await r.client.workflow.start('recordInteraction', {
        taskQueue,
        workflowId: `interaction-${uniqueId('replay')}`,
        args: [
          {
            subject: { kind: 'lead', leadId },
            interaction: { channel: 'call', direction: 'outbound', summary: 'Reached them' },
            actor: 'recorder',
          },
        ],
      });
      await eventually(async () => (await handle.query(leadStateQuery)).stage === 'contacted');
      const actor = 'recorder';
      await handle.executeUpdate(transitionUpdate, { args: [{ to: 'qualified', need: 'x', budget: 100, timeline: 'Q1', actor }] });
      await handle.executeUpdate(transitionUpdate, { args: [{ to: 'proposal', product: 'CRM', amount: 90, actor }] });
      const won = await handle.executeUpdate(transitionUpdate, { args: [{ to: 'won', actor }] });
      await handle.result();
      // Recorded again with each patched change under a new name: the older files keep guarding the older paths.
      await r.save('lead-funnel-won-with-record', handle.workflowId);
      const onboarding = r.client.workflow.getHandle(`onboarding-${won.customerId}`);
      await eventually(async () => (await onboarding.query(onboardingStateQuery)).status === 'in-progress');
      await r.save('onboarding-in-progress-with-record', onboarding.workflowId);
    });
  });

  it('records an opportunity for an existing customer with a deal change, won (patch lead-deal-search-attributes)', async () => {
    const taskQueue = uniqueId('record-opportunity');
    const w = await r.worker(taskQueue);
    const customerId = crypto.randomUUID();
    const email = `${uniqueId('replay-customer')}@example.com`;
    await r.h.pool.query("INSERT INTO customers (id, name, email, email_normalized, created_by) VALUES ($1, 'Replay Customer', $2, $2, 'recorder')", [
      customerId,
      email,
    ]);
    await w.runUntil(async () => {
      const leadId = crypto.randomUUID();
      const input: LeadFunnelInput = {
        leadId,
        actor: 'recorder',
        opportunity: { customerId },
        intake: { name: 'Replay Customer', email, source: 'customer', locale: 'en', productIds: ['tv-basic'], amount: 119.88, expectedClose: '2027-01-31' },
      };
      const handle = await r.client.workflow.start('leadFunnel', { taskQueue, workflowId: `lead-${leadId}`, args: [input] });
      await handle.executeUpdate(intakeOutcomeUpdate);
      const actor = 'recorder';
      await handle.executeUpdate(changeDealUpdate, { args: [{ amount: 150, reason: 'two rooms', actor }] });
      await handle.executeUpdate(transitionUpdate, { args: [{ to: 'proposal', product: 'TV Basic', amount: 160, actor }] });
      await handle.executeUpdate(transitionUpdate, { args: [{ to: 'won', actor }] });
      await handle.result();
      await r.save('lead-funnel-opportunity-won-with-deal', handle.workflowId, { closed: true });
    });
  });
});

describe('replaying recorded histories on the current code', () => {
  it('replays every recorded acquisition, onboarding and registration history without non-determinism', async () => {
    expect(await replayRecorded(/^(lead-funnel|onboarding|register-customer)-/)).toContain('lead-funnel-opportunity-won-with-deal.history.pb');
  });
});
