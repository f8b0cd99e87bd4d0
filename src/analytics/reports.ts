/**
 * Reports over the analytics store. Every report takes a closed-time range and a grouping
 * (day or week) for its series; durations are milliseconds, rates are 0..1.
 */
import type { StorePool } from './store.js';
import { CAMPAIGNS, CHANGES, FUNNEL, MESSAGES, OFFERS } from './contract.js';

export interface Range {
  from: Date;
  to: Date;
  groupBy: 'day' | 'week';
}

const rate = (num: number, den: number) => (den > 0 ? Math.round((num / den) * 10_000) / 10_000 : null);
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

async function series(pool: StorePool, range: Range, workflowType: string, successStatuses: readonly string[]) {
  const { rows } = await pool.query<{ period: Date; closed: string; succeeded: string }>(
    `SELECT date_trunc($4, close_time) AS period, count(*) AS closed,
            count(*) FILTER (WHERE final_status = ANY($5)) AS succeeded
       FROM process_runs
      WHERE workflow_type = $1 AND close_time >= $2 AND close_time < $3 AND status <> 'continued_as_new'
      GROUP BY 1 ORDER BY 1`,
    [workflowType, range.from, range.to, range.groupBy, successStatuses],
  );
  return rows.map((r) => ({
    period: r.period.toISOString(),
    closed: Number(r.closed),
    succeeded: Number(r.succeeded),
    rate: rate(Number(r.succeeded), Number(r.closed)),
  }));
}

async function timeInStatus(pool: StorePool, range: Range, workflowType: string) {
  const { rows } = await pool.query<{ status: string; n: string; median: number | null; p90: number | null }>(
    `SELECT t.from_status AS status, count(*) AS n,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms_in_from) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY t.ms_in_from) AS p90
       FROM status_transitions t JOIN process_runs r USING (run_id)
      WHERE t.workflow_type = $1 AND r.close_time >= $2 AND r.close_time < $3 AND t.from_status IS NOT NULL
      GROUP BY 1 ORDER BY 1`,
    [workflowType, range.from, range.to],
  );
  return Object.fromEntries(rows.map((r) => [r.status, { transitions: Number(r.n), medianMs: num(r.median), p90Ms: num(r.p90) }]));
}

async function reachedCounts(pool: StorePool, range: Range, workflowType: string) {
  const { rows } = await pool.query<{ status: string; runs: string }>(
    `SELECT t.to_status AS status, count(DISTINCT t.run_id) AS runs
       FROM status_transitions t JOIN process_runs r USING (run_id)
      WHERE t.workflow_type = $1 AND r.close_time >= $2 AND r.close_time < $3
      GROUP BY 1`,
    [workflowType, range.from, range.to],
  );
  return new Map(rows.map((r) => [r.status, Number(r.runs)]));
}

export async function funnelReport(pool: StorePool, range: Range) {
  const reached = await reachedCounts(pool, range, FUNNEL.workflowType);
  const stages = [
    ...FUNNEL.stages,
    FUNNEL.lost,
    ...[...reached.keys()].filter((s) => !(FUNNEL.stages as readonly string[]).includes(s) && s !== FUNNEL.lost).sort(),
  ];
  const stageCounts = Object.fromEntries(stages.map((s) => [s, reached.get(s) ?? 0]));
  const conversion = FUNNEL.stages.slice(1).map((to, i) => {
    const from = FUNNEL.stages[i]!;
    return { from, to, rate: rate(reached.get(to) ?? 0, reached.get(from) ?? 0) };
  });
  const bySource = await pool.query<{ source: string | null; won: string; lost: string }>(
    `SELECT attributes->>$4 AS source,
            count(*) FILTER (WHERE final_status = $5) AS won,
            count(*) FILTER (WHERE final_status = $6) AS lost
       FROM process_runs
      WHERE workflow_type = $1 AND close_time >= $2 AND close_time < $3 AND status <> 'continued_as_new'
      GROUP BY 1 ORDER BY 1`,
    [FUNNEL.workflowType, range.from, range.to, FUNNEL.sourceAttribute, FUNNEL.won, FUNNEL.lost],
  );
  const closedSeries = await series(pool, range, FUNNEL.workflowType, [FUNNEL.won]);
  return {
    range: { from: range.from.toISOString(), to: range.to.toISOString(), groupBy: range.groupBy },
    closedLeads: closedSeries.reduce((n, p) => n + p.closed, 0),
    stageCounts,
    conversion,
    timeInStage: await timeInStatus(pool, range, FUNNEL.workflowType),
    winRateBySource: bySource.rows.map((r) => ({
      source: r.source ?? 'unknown',
      won: Number(r.won),
      lost: Number(r.lost),
      winRate: rate(Number(r.won), Number(r.won) + Number(r.lost)),
    })),
    series: closedSeries,
  };
}

export async function campaignsReport(pool: StorePool, range: Range) {
  const enrollments = await pool.query<{ enrolled: string; messaged: string; goal: string; optout: string }>(
    `SELECT count(*) AS enrolled,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM activity_counts a WHERE a.run_id = r.run_id AND a.activity_type = ANY($4) AND a.completed > 0)) AS messaged,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM status_transitions t WHERE t.run_id = r.run_id AND t.to_status = ANY($5))) AS goal,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM status_transitions t WHERE t.run_id = r.run_id AND t.to_status = ANY($6))) AS optout
       FROM process_runs r
      WHERE workflow_type = $1 AND close_time >= $2 AND close_time < $3 AND status <> 'continued_as_new'`,
    [CAMPAIGNS.enrollmentType, range.from, range.to, CAMPAIGNS.messageActivities, CAMPAIGNS.goalStatuses, CAMPAIGNS.optOutStatuses],
  );
  const e = enrollments.rows[0]!;
  const enrolled = Number(e.enrolled);
  const offers = await pool.query<{
    kind: string | null;
    total: string;
    accepted: string;
    declined: string;
    expired: string;
    ineligible: string;
  }>(
    `SELECT attributes->>$4 AS kind, count(*) AS total,
            count(*) FILTER (WHERE final_status = $5) AS accepted,
            count(*) FILTER (WHERE final_status = $6) AS declined,
            count(*) FILTER (WHERE final_status = $7) AS expired,
            count(*) FILTER (WHERE final_status = $8) AS ineligible
       FROM process_runs
      WHERE workflow_type = $1 AND close_time >= $2 AND close_time < $3 AND status <> 'continued_as_new'
      GROUP BY 1 ORDER BY 1`,
    [OFFERS.workflowType, range.from, range.to, OFFERS.kindAttribute, OFFERS.accepted, OFFERS.declined, OFFERS.expired, OFFERS.ineligible],
  );
  const byKind = Object.fromEntries(
    [...OFFERS.kinds, ...offers.rows.map((r) => r.kind ?? 'unknown').filter((k) => !(OFFERS.kinds as readonly string[]).includes(k))].map((kind) => {
      const r = offers.rows.find((x) => (x.kind ?? 'unknown') === kind);
      const made = r ? Number(r.total) - Number(r.ineligible) : 0;
      return [
        kind,
        {
          offers: r ? Number(r.total) : 0,
          accepted: r ? Number(r.accepted) : 0,
          declined: r ? Number(r.declined) : 0,
          expired: r ? Number(r.expired) : 0,
          ineligible: r ? Number(r.ineligible) : 0,
          acceptanceRate: rate(r ? Number(r.accepted) : 0, made),
        },
      ];
    }),
  );
  return {
    range: { from: range.from.toISOString(), to: range.to.toISOString(), groupBy: range.groupBy },
    enrolled,
    messaged: Number(e.messaged),
    goalReached: Number(e.goal),
    optedOut: Number(e.optout),
    goalRate: rate(Number(e.goal), enrolled),
    optOutRate: rate(Number(e.optout), enrolled),
    offersByKind: byKind,
    series: await series(pool, range, CAMPAIGNS.enrollmentType, CAMPAIGNS.goalStatuses),
  };
}

export async function changesReport(pool: StorePool, range: Range) {
  const args = [CHANGES.workflowType, range.from, range.to];
  const volume = await pool.query<{ type: string | null; outcome: string; n: string }>(
    `SELECT context->>$4 AS type, to_status AS outcome, count(*) AS n FROM status_transitions
      WHERE workflow_type = $1 AND at >= $2 AND at < $3 AND to_status = ANY($5)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [...args, CHANGES.typeAttribute, CHANGES.outcomes],
  );
  const verification = await pool.query<{ requested: string; verified: string; failed: string; median: number | null; p90: number | null }>(
    `SELECT count(*) FILTER (WHERE to_status = $4) AS requested,
            count(*) FILTER (WHERE from_status = $4 AND to_status = ANY($5)) AS verified,
            count(*) FILTER (WHERE from_status = $4 AND to_status = ANY($6)) AS failed,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_in_from) FILTER (WHERE from_status = $4 AND to_status = ANY($5)) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY ms_in_from) FILTER (WHERE from_status = $4 AND to_status = ANY($5)) AS p90
       FROM status_transitions WHERE workflow_type = $1 AND at >= $2 AND at < $3`,
    [...args, CHANGES.awaitingVerification, [CHANGES.awaitingApproval, CHANGES.applying], CHANGES.verificationFailed],
  );
  // Approval turnaround: from awaiting-approval to the decision, across an escalation.
  const approval = await pool.query<{
    requested: string;
    approved: string;
    rejected: string;
    escalated: string;
    median: number | null;
    p90: number | null;
  }>(
    `WITH steps AS (
       SELECT to_status, at, lead(to_status) OVER w AS next_status, lead(at) OVER w AS next_at
         FROM status_transitions
        WHERE workflow_type = $1 AND at >= $2 AND at < $3 AND to_status <> $5
       WINDOW w AS (PARTITION BY run_id ORDER BY seq))
     SELECT count(*) FILTER (WHERE to_status = $4) AS requested,
            count(*) FILTER (WHERE to_status = $4 AND next_status = $6) AS approved,
            count(*) FILTER (WHERE to_status = $4 AND next_status = $7) AS rejected,
            (SELECT count(*) FROM status_transitions WHERE workflow_type = $1 AND at >= $2 AND at < $3 AND to_status = $5) AS escalated,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM next_at - at) * 1000) FILTER (WHERE to_status = $4 AND next_status IN ($6, $7)) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM next_at - at) * 1000) FILTER (WHERE to_status = $4 AND next_status IN ($6, $7)) AS p90
       FROM steps`,
    [...args, CHANGES.awaitingApproval, CHANGES.escalated, CHANGES.applying, CHANGES.rejected],
  );
  const perPeriod = await pool.query<{ period: Date; closed: string; applied: string }>(
    `SELECT date_trunc($4, at) AS period, count(*) AS closed, count(*) FILTER (WHERE to_status = $6) AS applied
       FROM status_transitions WHERE workflow_type = $1 AND at >= $2 AND at < $3 AND to_status = ANY($5)
      GROUP BY 1 ORDER BY 1`,
    [...args, range.groupBy, CHANGES.outcomes, CHANGES.applied],
  );
  const v = verification.rows[0]!;
  const a = approval.rows[0]!;
  const volumeByType: Record<string, number> = {};
  const outcomes: Record<string, number> = Object.fromEntries(CHANGES.outcomes.map((o) => [o, 0]));
  for (const r of volume.rows) {
    volumeByType[r.type ?? 'unknown'] = (volumeByType[r.type ?? 'unknown'] ?? 0) + Number(r.n);
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + Number(r.n);
  }
  return {
    range: { from: range.from.toISOString(), to: range.to.toISOString(), groupBy: range.groupBy },
    volumeByType,
    outcomes,
    verification: {
      requested: Number(v.requested),
      verified: Number(v.verified),
      failed: Number(v.failed),
      successRate: rate(Number(v.verified), Number(v.verified) + Number(v.failed)),
      timeToVerify: { medianMs: num(v.median), p90Ms: num(v.p90) },
    },
    approval: {
      requested: Number(a.requested),
      approved: Number(a.approved),
      rejected: Number(a.rejected),
      escalated: Number(a.escalated),
      turnaround: { medianMs: num(a.median), p90Ms: num(a.p90) },
    },
    expired: outcomes[CHANGES.expired] ?? 0,
    applied: outcomes[CHANGES.applied] ?? 0,
    series: perPeriod.rows.map((r) => ({
      period: r.period.toISOString(),
      closed: Number(r.closed),
      succeeded: Number(r.applied),
      rate: rate(Number(r.applied), Number(r.closed)),
    })),
  };
}

export async function processesReport(pool: StorePool, range: Range) {
  const { rows } = await pool.query<{
    workflow_type: string;
    process: string | null;
    total: string;
    completed: string;
    failed: string;
    timed_out: string;
    terminated: string;
    canceled: string;
    median: number | null;
    p90: number | null;
  }>(
    `SELECT workflow_type,
            -- the process its newest run names: a type re-tagged (GDPR left master-data) shows its current process
            (array_agg(process ORDER BY close_time DESC) FILTER (WHERE process IS NOT NULL))[1] AS process,
            count(*) AS total,
            count(*) FILTER (WHERE status = 'completed') AS completed,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            count(*) FILTER (WHERE status = 'timed_out') AS timed_out,
            count(*) FILTER (WHERE status = 'terminated') AS terminated,
            count(*) FILTER (WHERE status = 'canceled') AS canceled,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms) AS p90
       FROM process_runs
      WHERE close_time >= $1 AND close_time < $2 AND status <> 'continued_as_new'
      GROUP BY workflow_type ORDER BY workflow_type`,
    [range.from, range.to],
  );
  const failures = await pool.query<{ workflow_type: string; failure_type: string; n: string }>(
    `SELECT workflow_type, failure_type, count(*) AS n FROM process_runs
      WHERE close_time >= $1 AND close_time < $2 AND failure_type IS NOT NULL
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [range.from, range.to],
  );
  const perPeriod = await pool.query<{ period: Date; workflow_type: string; closed: string; failed: string }>(
    `SELECT date_trunc($3, close_time) AS period, workflow_type, count(*) AS closed,
            count(*) FILTER (WHERE status IN ('failed', 'timed_out')) AS failed
       FROM process_runs WHERE close_time >= $1 AND close_time < $2 AND status <> 'continued_as_new'
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [range.from, range.to, range.groupBy],
  );
  // A delivery that gave up names its channel and template in CrmSource (`sms:verification-code`).
  const undeliverable = await pool.query<{ source: string | null; reason: string | null; n: string }>(
    `SELECT attributes->>$4 AS source,
            CASE activity_failure_type WHEN 'Timeout' THEN $5 ELSE activity_failure_type END AS reason, count(*) AS n
       FROM process_runs
      WHERE workflow_type = $3 AND close_time >= $1 AND close_time < $2 AND final_status = $6
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [range.from, range.to, MESSAGES.workflowType, MESSAGES.sourceAttribute, MESSAGES.retriesExhausted, MESSAGES.undeliverable],
  );
  return {
    range: { from: range.from.toISOString(), to: range.to.toISOString(), groupBy: range.groupBy },
    undeliverableMessages: undeliverable.rows.map((r) => {
      const [channel, ...template] = (r.source ?? 'unknown').split(':');
      return { channel: channel!, template: template.join(':') || 'unknown', reason: r.reason ?? 'unknown', count: Number(r.n) };
    }),
    byType: rows.map((r) => ({
      workflowType: r.workflow_type,
      process: r.process,
      total: Number(r.total),
      completed: Number(r.completed),
      failed: Number(r.failed),
      timedOut: Number(r.timed_out),
      terminated: Number(r.terminated),
      canceled: Number(r.canceled),
      durationMedianMs: num(r.median),
      durationP90Ms: num(r.p90),
      failuresByType: Object.fromEntries(failures.rows.filter((f) => f.workflow_type === r.workflow_type).map((f) => [f.failure_type, Number(f.n)])),
    })),
    series: perPeriod.rows.map((r) => ({
      period: r.period.toISOString(),
      workflowType: r.workflow_type,
      closed: Number(r.closed),
      failed: Number(r.failed),
    })),
  };
}

export async function ingestStatus(pool: StorePool) {
  const { rows } = await pool.query<{ watermark: Date; runs_ingested: string; last_run_at: Date | null; last_batch: number }>('SELECT * FROM ingest_state');
  const r = rows[0]!;
  return {
    watermark: r.watermark.toISOString(),
    runsIngested: Number(r.runs_ingested),
    lastRunAt: r.last_run_at?.toISOString() ?? null,
    lastBatch: r.last_batch,
  };
}
