/**
 * Reports over the processes analytics follows while they run (followed_processes): the open
 * pipeline and its forecast as of the last ingest, win rate and sales cycle per owner and team,
 * and task SLA adherence. Amounts are in their deal's currency and never converted; weighted
 * amounts are amount × the stage's probability the funnel published.
 */
import type { StorePool } from './store.js';
import { FUNNEL, PIPELINE, TASKS } from './contract.js';
import type { Range } from './reports.js';

export interface PipelineFilter {
  owner?: string;
  team?: string;
  currency?: string;
}

const money = (v: unknown) => Math.round(Number(v ?? 0) * 100) / 100;
const rate = (num: number, den: number) => (den > 0 ? Math.round((num / den) * 10_000) / 10_000 : null);
const days = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v) * 100) / 100);

/** Open deals: funnels whose newest run still runs, less the intakes that were no deal. */
function openDeals(filter: PipelineFilter, first: number) {
  const clauses = ['process = $1', 'open', '(status IS NULL OR NOT (status = ANY($2)))'];
  const args: unknown[] = [PIPELINE.funnelProcess, PIPELINE.notADeal];
  for (const [column, value] of [
    ['owner', filter.owner],
    ['team', filter.team],
    ['currency', filter.currency],
  ] as const) {
    if (value === undefined) continue;
    args.push(value);
    clauses.push(`${column} = $${first + args.length - 1}`);
  }
  return { where: clauses.join(' AND '), args };
}

async function asOf(pool: StorePool): Promise<string | null> {
  const { rows } = await pool.query<{ last_run_at: Date | null }>('SELECT last_run_at FROM follow_state');
  return rows[0]?.last_run_at?.toISOString() ?? null;
}

interface Amounts {
  currency: string;
  deals: number;
  amount: number;
  weightedAmount: number;
}

type SliceRow = {
  stage: string | null;
  owner: string | null;
  team: string | null;
  kind: string;
  currency: string | null;
  n: string;
  amount: string;
  weighted: string;
};

function group<K extends string>(rows: SliceRow[], key: 'stage' | 'owner' | 'team' | 'kind', name: K) {
  const groups = new Map<string | null, { count: number; withoutAmount: number; amounts: Map<string, Amounts> }>();
  for (const r of rows) {
    const g = groups.get(r[key]) ?? { count: 0, withoutAmount: 0, amounts: new Map<string, Amounts>() };
    g.count += Number(r.n);
    if (r.currency === null) g.withoutAmount += Number(r.n);
    else {
      const a = g.amounts.get(r.currency) ?? { currency: r.currency, deals: 0, amount: 0, weightedAmount: 0 };
      a.deals += Number(r.n);
      a.amount = money(a.amount + Number(r.amount));
      a.weightedAmount = money(a.weightedAmount + Number(r.weighted));
      g.amounts.set(r.currency, a);
    }
    groups.set(r[key], g);
  }
  return [...groups.entries()].map(([k, g]) => ({
    [name]: k,
    count: g.count,
    withoutAmount: g.withoutAmount,
    amounts: [...g.amounts.values()].sort((x, y) => x.currency.localeCompare(y.currency)),
  })) as Array<{ [P in K]: string | null } & { count: number; withoutAmount: number; amounts: Amounts[] }>;
}

export async function pipelineReport(pool: StorePool, filter: PipelineFilter) {
  const { where, args } = openDeals(filter, 1);
  const source = args.length + 1;
  const { rows } = await pool.query<SliceRow>(
    `SELECT status AS stage, owner, team, CASE WHEN attributes->>$${source} = $${source + 1} THEN 'opportunity' ELSE 'lead' END AS kind,
            CASE WHEN amount IS NULL THEN NULL ELSE currency END AS currency, count(*) AS n,
            COALESCE(sum(amount), 0) AS amount, COALESCE(sum(amount * COALESCE(probability, 0)), 0) AS weighted
       FROM followed_processes WHERE ${where}
      GROUP BY 1, 2, 3, 4, 5`,
    [...args, PIPELINE.attributes.source, PIPELINE.opportunitySource],
  );
  const order = (s: string | null) => {
    const i = (FUNNEL.stages as readonly (string | null)[]).indexOf(s);
    return i < 0 ? FUNNEL.stages.length : i;
  };
  const byStage = group(rows, 'stage', 'stage').sort((x, y) => order(x.stage) - order(y.stage) || String(x.stage).localeCompare(String(y.stage)));
  const byKey =
    <T extends Record<string, unknown>>(key: string) =>
    (x: T, y: T) =>
      String(x[key] ?? '').localeCompare(String(y[key] ?? ''));
  const totals = group(
    rows.map((r) => ({ ...r, stage: null })),
    'stage',
    'stage',
  )[0];
  return {
    asOf: await asOf(pool),
    open: totals?.count ?? 0,
    withoutAmount: totals?.withoutAmount ?? 0,
    totals: totals?.amounts ?? [],
    byStage,
    byKind: group(rows, 'kind', 'kind')
      .map(({ kind, ...slice }) => ({ kind: kind === 'opportunity' ? ('opportunity' as const) : ('lead' as const), ...slice }))
      .sort((x, y) => x.kind.localeCompare(y.kind)),
    byOwner: group(rows, 'owner', 'owner').sort(byKey('owner')),
    byTeam: group(rows, 'team', 'team').sort(byKey('team')),
  };
}

export async function forecastReport(pool: StorePool, filter: PipelineFilter) {
  const { where, args } = openDeals(filter, 1);
  const { rows } = await pool.query<{ currency: string; month: string | null; n: string; amount: string; forecast: string; unweighted: string }>(
    `SELECT currency, to_char(date_trunc('month', expected_close AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, count(*) AS n,
            sum(amount) AS amount, sum(amount * COALESCE(probability, 0)) AS forecast, count(*) FILTER (WHERE probability IS NULL) AS unweighted
       FROM followed_processes WHERE ${where} AND amount IS NOT NULL AND currency IS NOT NULL
      GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST`,
    args,
  );
  const byCurrency = new Map<
    string,
    {
      currency: string;
      deals: number;
      openAmount: number;
      forecast: number;
      withoutProbability: number;
      byExpectedClose: Array<{ month: string | null; deals: number; openAmount: number; forecast: number }>;
    }
  >();
  for (const r of rows) {
    const c = byCurrency.get(r.currency) ?? { currency: r.currency, deals: 0, openAmount: 0, forecast: 0, withoutProbability: 0, byExpectedClose: [] };
    c.deals += Number(r.n);
    c.openAmount = money(c.openAmount + Number(r.amount));
    c.forecast = money(c.forecast + Number(r.forecast));
    c.withoutProbability += Number(r.unweighted);
    c.byExpectedClose.push({ month: r.month, deals: Number(r.n), openAmount: money(r.amount), forecast: money(r.forecast) });
    byCurrency.set(r.currency, c);
  }
  return { asOf: await asOf(pool), byCurrency: [...byCurrency.values()] };
}

export async function salesReport(pool: StorePool, range: Range) {
  const { rows } = await pool.query<{ owner: string | null; team: string | null; won: string; lost: string; days: string[] }>(
    `SELECT owner, team, count(*) FILTER (WHERE status = $4) AS won, count(*) FILTER (WHERE status = $5) AS lost,
            array_agg(extract(epoch FROM closed_at - first_start) / 86400) AS days
       FROM followed_processes
      WHERE process = $1 AND NOT open AND closed_at >= $2 AND closed_at < $3 AND status IN ($4, $5)
      GROUP BY 1, 2`,
    [PIPELINE.funnelProcess, range.from, range.to, PIPELINE.won, PIPELINE.lost],
  );
  const summarize = (parts: typeof rows) => {
    const won = parts.reduce((s, r) => s + Number(r.won), 0);
    const lost = parts.reduce((s, r) => s + Number(r.lost), 0);
    const all = parts.flatMap((r) => r.days.map(Number)).sort((x, y) => x - y);
    const median = all.length === 0 ? null : all.length % 2 ? all[(all.length - 1) / 2]! : (all[all.length / 2 - 1]! + all[all.length / 2]!) / 2;
    const average = all.length === 0 ? null : all.reduce((s, d) => s + d, 0) / all.length;
    return { won, lost, winRate: rate(won, won + lost), salesCycleDays: { median: days(median), average: days(average) } };
  };
  const by = <K extends 'owner' | 'team'>(key: K) =>
    [...new Set(rows.map((r) => r[key]))]
      .sort((x, y) => String(x ?? '').localeCompare(String(y ?? '')))
      .map((k) => ({ [key]: k, ...summarize(rows.filter((r) => r[key] === k)) }) as { [P in K]: string | null } & ReturnType<typeof summarize>);
  return {
    range: { from: range.from.toISOString(), to: range.to.toISOString(), groupBy: range.groupBy },
    total: summarize(rows),
    byOwner: by('owner'),
    byTeam: by('team'),
  };
}

export async function taskSlaReport(pool: StorePool, range: Range) {
  const kind = TASKS.attributes.kind;
  const { rows } = await pool.query<{ kind: string | null; team: string | null; done: string; on_time: string }>(
    `WITH done AS (
       SELECT p.workflow_id, p.attributes->>$4 AS kind, p.team, p.expected_close,
              (SELECT max(at) FROM followed_status_changes c WHERE c.workflow_id = p.workflow_id AND c.to_status = $5) AS done_at
         FROM followed_processes p WHERE p.process = $1 AND p.status = $5)
     SELECT kind, team, count(*) AS done,
            count(*) FILTER (WHERE (expected_close IS NULL OR done_at <= expected_close)
                             AND NOT EXISTS (SELECT 1 FROM followed_status_changes c WHERE c.workflow_id = done.workflow_id AND c.to_status = $6 AND c.at <= done_at))
              AS on_time
       FROM done WHERE done_at >= $2 AND done_at < $3
      GROUP BY 1, 2`,
    [TASKS.process, range.from, range.to, kind, TASKS.done, TASKS.overdue],
  );
  const now = await pool.query<{ kind: string | null; team: string | null; open: string; overdue: string }>(
    `SELECT attributes->>$2 AS kind, team, count(*) FILTER (WHERE status = $3) AS open, count(*) FILTER (WHERE status = $4) AS overdue
       FROM followed_processes WHERE process = $1 AND open AND status IN ($3, $4) GROUP BY 1, 2`,
    [TASKS.process, kind, TASKS.open, TASKS.overdue],
  );
  const summarize = (done: typeof rows, current: typeof now.rows) => {
    const completed = done.reduce((s, r) => s + Number(r.done), 0);
    const onTime = done.reduce((s, r) => s + Number(r.on_time), 0);
    return {
      done: completed,
      onTime,
      late: completed - onTime,
      adherence: rate(onTime, completed),
      openNow: current.reduce((s, r) => s + Number(r.open), 0),
      overdueNow: current.reduce((s, r) => s + Number(r.overdue), 0),
    };
  };
  const by = <K extends 'kind' | 'team'>(key: K) =>
    [...new Set([...rows.map((r) => r[key]), ...now.rows.map((r) => r[key])])]
      .sort((x, y) => String(x ?? '').localeCompare(String(y ?? '')))
      .map(
        (k) =>
          ({
            [key]: k,
            ...summarize(
              rows.filter((r) => r[key] === k),
              now.rows.filter((r) => r[key] === k),
            ),
          }) as { [P in K]: string | null } & ReturnType<typeof summarize>,
      );
  return {
    range: { from: range.from.toISOString(), to: range.to.toISOString(), groupBy: range.groupBy },
    total: summarize(rows, now.rows),
    byKind: by('kind'),
    byTeam: by('team'),
  };
}

export async function followStatus(pool: StorePool) {
  const { rows } = await pool.query<{ watermark: Date; last_run_at: Date | null; last_listed: number; last_read: number; last_events: number; runs: string }>(
    'SELECT *, (SELECT count(*) FROM followed_runs) AS runs FROM follow_state',
  );
  const r = rows[0]!;
  return {
    watermark: r.watermark.toISOString(),
    runsFollowed: Number(r.runs),
    lastRunAt: r.last_run_at?.toISOString() ?? null,
    lastListed: r.last_listed,
    lastRead: r.last_read,
    lastEvents: r.last_events,
  };
}
