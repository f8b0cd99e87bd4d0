/**
 * The analytics API's operations, declared with createRoute so its OpenAPI document
 * (/openapi.json) is generated from the same zod schemas that validate the requests and
 * describe the reports.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { dateTimeSchema } from '../../domain/formats.js';
import type { Range } from '../reports.js';
import { problemSchema } from '../../http/problem-schema.js';

const DAY = 86_400_000;

const instant = dateTimeSchema('must be an ISO 8601 date-time with offset or a date (YYYY-MM-DD)').or(
  z.iso.date({ message: 'must be an ISO 8601 date-time with offset or a date (YYYY-MM-DD)' }),
);

export const rangeQuerySchema = z
  .object({
    from: instant.optional().openapi({ description: 'Start of the closed-time range (inclusive); default 30 days before `to`', example: '2026-01-01' }),
    to: instant.optional().openapi({ description: 'End of the range (exclusive); default now. After `from`, at most 366 days later', example: '2026-02-01' }),
    groupBy: z.enum(['day', 'week']).default('day').openapi({ description: 'Period of the series' }),
  })
  .strict()
  .transform((q, ctx): Range => {
    const to = q.to ? new Date(q.to) : new Date(Date.now() + 60_000);
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * DAY);
    if (from >= to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before to' });
    if (to.getTime() - from.getTime() > 366 * DAY) ctx.addIssue({ code: 'custom', path: ['to'], message: 'a range spans at most 366 days' });
    return { from, to, groupBy: q.groupBy };
  });

export const problems = {
  400: {
    content: { 'application/problem+json': { schema: problemSchema } },
    description: 'Invalid query: every wrong parameter is named in `errors`',
  },
  401: { content: { 'application/problem+json': { schema: problemSchema } }, description: 'No or unknown analyst key' },
} as const;

export const count = z.number().int().min(0);
/** 0..1, or null when there was nothing to divide by. */
export const rate = z.number().min(0).max(1).nullable();
const millis = z.number().min(0).nullable().openapi({ description: 'milliseconds; null without data' });
export const rangeOut = z.object({ from: z.iso.datetime(), to: z.iso.datetime(), groupBy: z.enum(['day', 'week']) });
const seriesPoint = z.object({ period: z.iso.datetime(), closed: count, succeeded: count, rate });
const quantiles = z.object({ medianMs: millis, p90Ms: millis });

export const funnelReportSchema = z
  .object({
    range: rangeOut,
    closedLeads: count,
    stageCounts: z.record(z.string(), count).openapi({ description: 'Leads that reached each stage' }),
    conversion: z.array(z.object({ from: z.string(), to: z.string(), rate })),
    timeInStage: z.record(z.string(), z.object({ transitions: count, medianMs: millis, p90Ms: millis })),
    winRateBySource: z.array(z.object({ source: z.string(), won: count, lost: count, winRate: rate })),
    series: z.array(seriesPoint),
  })
  .openapi('FunnelReport');

export const campaignsReportSchema = z
  .object({
    range: rangeOut,
    enrolled: count,
    messaged: count,
    goalReached: count,
    optedOut: count,
    goalRate: rate,
    optOutRate: rate,
    offersByKind: z.record(z.string(), z.object({ offers: count, accepted: count, declined: count, expired: count, ineligible: count, acceptanceRate: rate })),
    series: z.array(seriesPoint),
  })
  .openapi('CampaignsReport');

export const changesReportSchema = z
  .object({
    range: rangeOut,
    volumeByType: z.record(z.string(), count),
    outcomes: z.record(z.string(), count),
    verification: z.object({ requested: count, verified: count, failed: count, successRate: rate, timeToVerify: quantiles }),
    approval: z.object({ requested: count, approved: count, rejected: count, escalated: count, turnaround: quantiles }),
    expired: count,
    applied: count,
    series: z.array(seriesPoint),
  })
  .openapi('ChangesReport');

export const processesReportSchema = z
  .object({
    range: rangeOut,
    undeliverableMessages: z.array(z.object({ channel: z.string(), template: z.string(), reason: z.string(), count })).openapi({
      description:
        'Messages whose delivery gave up (CrmStatus undeliverable), by channel, template and reason: RecipientErased, RecipientInvalid, NoTransport, or RetriesExhausted',
    }),
    byType: z.array(
      z.object({
        workflowType: z.string(),
        process: z.string().nullable(),
        total: count,
        completed: count,
        failed: count,
        timedOut: count,
        terminated: count,
        canceled: count,
        durationMedianMs: millis,
        durationP90Ms: millis,
        failuresByType: z.record(z.string(), count),
      }),
    ),
    series: z.array(z.object({ period: z.iso.datetime(), workflowType: z.string(), closed: count, failed: count })),
  })
  .openapi('ProcessesReport');

export const ingestStatusSchema = z
  .object({
    watermark: z.iso.datetime(),
    runsIngested: count,
    lastRunAt: z.iso.datetime().nullable(),
    lastBatch: count,
    followed: z
      .object({
        watermark: z.iso.datetime().openapi({ description: 'Closed funnels and tasks before it are read to their end' }),
        runsFollowed: count,
        lastRunAt: z.iso.datetime().nullable(),
        lastListed: count.openapi({ description: 'Running or newly closed funnel and task runs the last pass listed' }),
        lastRead: count.openapi({ description: 'Runs whose new events it read: the others had not changed' }),
        lastEvents: count.openapi({ description: 'Events it read' }),
      })
      .openapi({ description: 'Following of running funnels and tasks (the pipeline reports)' }),
  })
  .openapi('IngestStatus');

const report = <T extends z.ZodType>(name: string, operationId: string, summary: string, schema: T) =>
  createRoute({
    method: 'get',
    path: `/v1/analytics/${name}`,
    operationId,
    tags: ['reports'],
    summary,
    request: { query: rangeQuerySchema },
    responses: { 200: { content: { 'application/json': { schema } }, description: summary }, ...problems },
  });

export const funnelRoute = report('funnel', 'funnelReport', 'Lead funnel: stages reached, conversion, time in stage, win rate by source', funnelReportSchema);
export const campaignsRoute = report(
  'campaigns',
  'campaignsReport',
  'Campaign outcomes: enrolled, messaged, goal reached, opted out; offers by kind',
  campaignsReportSchema,
);
export const changesRoute = report(
  'changes',
  'changesReport',
  'Master-data changes: volume, outcomes, verification and approval turnaround',
  changesReportSchema,
);
export const processesRoute = report('processes', 'processesReport', 'Every workflow type: closed runs by status, durations, failures', processesReportSchema);

export const ingestRoute = createRoute({
  method: 'get',
  path: '/v1/analytics/ingest',
  operationId: 'ingestStatus',
  tags: ['ingest'],
  summary: 'How far the analytics store has read Temporal’s record of closed workflows and of running funnels and tasks',
  responses: {
    200: { content: { 'application/json': { schema: ingestStatusSchema } }, description: 'Ingest watermark and counts' },
    401: problems[401],
  },
});
