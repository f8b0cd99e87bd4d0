/**
 * The pipeline reports' operations: the open pipeline and its forecast (as of the last ingest,
 * filtered by owner, team or currency), win rate and sales cycle, task SLA adherence.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { count, problems, rangeOut, rangeQuerySchema, rate } from './routes.js';

const key = (description: string, example: string) =>
  z.string().min(1, { message: 'must not be empty' }).max(200, { message: 'must be at most 200 characters' }).optional().openapi({ description, example });

export const pipelineQuerySchema = z
  .object({
    owner: key('Only deals of this owner (CrmOwner: a user id)', 'u-1'),
    team: key('Only deals of this team (CrmTeam: a team id)', 'team-north'),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 code such as EUR' })
      .optional()
      .openapi({ description: 'Only deals in this currency', example: 'EUR' }),
  })
  .strict();

const money = z.number().openapi({ description: 'in the currency named beside it, to the cent' });
const amounts = z
  .array(
    z.object({
      currency: z.string(),
      deals: count,
      amount: money,
      weightedAmount: money.openapi({ description: 'Σ amount × the probability of the deal’s stage' }),
    }),
  )
  .openapi({ description: 'Per currency: amounts are never converted' });
const slice = { count, withoutAmount: count.openapi({ description: 'Open deals with no amount yet' }), amounts };
const asOf = z.iso.datetime().nullable().openapi({ description: 'When the running funnels were last read (null: never)' });

export const pipelineReportSchema = z
  .object({
    asOf,
    open: count.openapi({ description: 'Open leads and opportunities' }),
    withoutAmount: count,
    totals: amounts,
    byStage: z.array(z.object({ stage: z.string().nullable(), ...slice })),
    byKind: z
      .array(z.object({ kind: z.enum(['lead', 'opportunity']), ...slice }))
      .openapi({ description: 'Leads, and opportunities (the funnel for an existing customer, CrmSource `customer`)' }),
    byOwner: z.array(z.object({ owner: z.string().nullable(), ...slice })),
    byTeam: z.array(z.object({ team: z.string().nullable(), ...slice })),
  })
  .openapi('PipelineReport');

export const forecastReportSchema = z
  .object({
    asOf,
    byCurrency: z.array(
      z.object({
        currency: z.string(),
        deals: count,
        openAmount: money,
        forecast: money.openapi({ description: 'Σ open amount × stage probability' }),
        withoutProbability: count.openapi({ description: 'Deals with an amount but no probability: they add 0 to the forecast' }),
        byExpectedClose: z.array(
          z.object({
            month: z.string().nullable().openapi({ description: 'YYYY-MM of the expected close (UTC); null: none set', example: '2026-03' }),
            deals: count,
            openAmount: money,
            forecast: money,
          }),
        ),
      }),
    ),
  })
  .openapi('ForecastReport');

const cycle = z
  .object({ median: z.number().min(0).nullable(), average: z.number().min(0).nullable() })
  .openapi({ description: 'Days from the first start of the funnel to won or lost' });
const performance = { won: count, lost: count, winRate: rate, salesCycleDays: cycle };

export const salesReportSchema = z
  .object({
    range: rangeOut,
    total: z.object(performance),
    byOwner: z.array(z.object({ owner: z.string().nullable(), ...performance })),
    byTeam: z.array(z.object({ team: z.string().nullable(), ...performance })),
  })
  .openapi('SalesReport');

const sla = {
  done: count.openapi({ description: 'Tasks completed in the range' }),
  onTime: count,
  late: count,
  adherence: rate.openapi({ description: 'onTime / done: completed before due and never overdue' }),
  openNow: count,
  overdueNow: count,
};

export const taskSlaReportSchema = z
  .object({
    range: rangeOut,
    total: z.object(sla),
    byKind: z.array(z.object({ kind: z.string().nullable(), ...sla })),
    byTeam: z.array(z.object({ team: z.string().nullable(), ...sla })),
  })
  .openapi('TaskSlaReport');

const ok = <T extends z.ZodType>(schema: T, description: string) => ({ 200: { content: { 'application/json': { schema } }, description }, ...problems });

export const pipelineRoute = createRoute({
  method: 'get',
  path: '/v1/analytics/pipeline',
  operationId: 'pipelineReport',
  tags: ['pipeline'],
  summary: 'Open pipeline: open leads and opportunities by stage, owner and team, with amounts and weighted amounts per currency',
  request: { query: pipelineQuerySchema },
  responses: ok(pipelineReportSchema, 'The open pipeline as of the last ingest'),
});

export const forecastRoute = createRoute({
  method: 'get',
  path: '/v1/analytics/forecast',
  operationId: 'forecastReport',
  tags: ['pipeline'],
  summary: 'Forecast: Σ open amount × stage probability, per currency and expected-close month',
  request: { query: pipelineQuerySchema },
  responses: ok(forecastReportSchema, 'The forecast as of the last ingest'),
});

export const salesRoute = createRoute({
  method: 'get',
  path: '/v1/analytics/sales',
  operationId: 'salesReport',
  tags: ['pipeline'],
  summary: 'Win rate and sales cycle per owner and team, of funnels won or lost in the range',
  request: { query: rangeQuerySchema },
  responses: ok(salesReportSchema, 'Win rate and sales cycle'),
});

export const tasksRoute = createRoute({
  method: 'get',
  path: '/v1/analytics/tasks',
  operationId: 'taskSlaReport',
  tags: ['pipeline'],
  summary: 'Task SLA adherence per kind and team: tasks completed in the range before their due time, and those open or overdue now',
  request: { query: rangeQuerySchema },
  responses: ok(taskSlaReportSchema, 'Task SLA adherence'),
});
