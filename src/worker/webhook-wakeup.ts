/**
 * New events reach their subscribers within a moment of the commit: recording an event NOTIFYs
 * `crm_webhook_events` with the subscriptions it was queued for (PostgreSQL delivers a NOTIFY only
 * when its transaction commits), and this listener signals those subscriptions' delivery workflows
 * (signal-with-start, so an ended one starts again). Every worker process runs one; a second
 * listener only sends a second, harmless wake. A lost notification (listener reconnecting) costs at
 * most WEBHOOK_POLL_INTERVAL: the workflows look for work on their own that often.
 */
import pg from 'pg';
import type { Client } from '@temporalio/client';
import { WEBHOOK_NOTIFY_CHANNEL } from '../db/repositories/webhook-events.js';
import { CRM_PROCESS } from '../domain/processes.js';
import { CrmProcess, CrmStatus } from '../domain/search-attributes.js';
import { wakeSignal, webhookWorkflowId } from '../domain/webhooks.js';
import type { Logger } from '../logger.js';

/** Starts the subscription's delivery workflow, or wakes the running one: deliver what is due now. */
export async function wakeDelivery(client: Client, taskQueue: string, subscriptionId: string): Promise<void> {
  await client.workflow.signalWithStart('webhookDelivery', {
    workflowId: webhookWorkflowId(subscriptionId),
    taskQueue,
    args: [{ subscriptionId }],
    signal: wakeSignal,
    signalArgs: [],
    typedSearchAttributes: [
      { key: CrmProcess, value: CRM_PROCESS.webhooks },
      { key: CrmStatus, value: 'delivering' },
    ],
    staticSummary: `Webhook deliveries of subscription ${subscriptionId}`,
  });
}

export interface WebhookWakeupOptions {
  connectionString: string;
  /** The schema whose events this worker delivers (tests run one schema each; `public` otherwise). */
  schema?: string;
  client: Client;
  taskQueue: string;
  logger?: Logger;
}

export interface WebhookWakeup {
  stop(): Promise<void>;
}

/** Listens for committed events and wakes their subscriptions; reconnects after a lost connection. */
export async function startWebhookWakeup(opts: WebhookWakeupOptions): Promise<WebhookWakeup> {
  const schema = opts.schema ?? 'public';
  let stopped = false;
  let listener: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  const wake = (ids: string[]) => {
    for (const id of ids) {
      wakeDelivery(opts.client, opts.taskQueue, id).catch((err: unknown) => opts.logger?.warn({ err, subscriptionId: id }, 'webhook wake-up failed'));
    }
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: opts.connectionString, application_name: 'crm-webhook-wakeup' });
    c.on('notification', (n) => {
      const [from, ids] = (n.payload ?? '').split(' ');
      if (from === schema && ids) wake(ids.split(','));
    });
    c.on('error', (err) => {
      opts.logger?.warn({ err }, 'webhook wake-up listener lost its connection; reconnecting');
      c.end().catch(() => undefined);
      if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 1_000);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${WEBHOOK_NOTIFY_CHANNEL}`);
      listener = c;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (stopped) return;
      opts.logger?.warn({ err }, 'webhook wake-up listener could not connect; retrying');
      retry = setTimeout(() => void connect().catch(() => undefined), 1_000);
    }
  };
  await connect();

  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await listener?.end().catch(() => undefined);
    },
  };
}
