/**
 * The analytics dashboard: one page, Chart.js served from the installed package (no CDN).
 * The analyst key is read from the URL fragment (`/#key=…`, never sent to the server) or asked
 * for once, and kept in the browser's localStorage.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>CRM analytics</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
    header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
    header h1 { font-size: 18px; margin: 0 16px 0 0; }
    header label { font-size: 13px; }
    main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 24px; }
    section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); overflow-x: auto; }
    section h2 { font-size: 15px; margin: 0 0 8px; }
    .kpis { display: flex; gap: 16px; flex-wrap: wrap; font-size: 13px; margin-bottom: 8px; }
    .kpis b { display: block; font-size: 20px; }
    table { border-collapse: collapse; width: 100%; font-size: 13px; }
    td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; }
    #status { font-size: 12px; opacity: .8; }
    #error { color: #b00020; padding: 8px 24px; }
  </style>
</head>
<body>
  <header>
    <h1>CRM analytics</h1>
    <label>From <input type="date" id="from"></label>
    <label>To <input type="date" id="to"></label>
    <label>Group by <select id="groupBy"><option value="day">day</option><option value="week">week</option></select></label>
    <button id="refresh">Refresh</button>
    <span id="status"></span>
  </header>
  <div id="error" hidden></div>
  <main>
    <section><h2>Lead funnel</h2><div class="kpis" id="funnel-kpis"></div><canvas id="funnel-chart" height="220"></canvas></section>
    <section><h2>Conversion over time (won / closed leads)</h2><canvas id="conversion-chart" height="220"></canvas></section>
    <section><h2>Campaign outcomes</h2><div class="kpis" id="campaign-kpis"></div><canvas id="campaign-chart" height="220"></canvas></section>
    <section><h2>Master-data change turnaround (hours)</h2><div class="kpis" id="change-kpis"></div><canvas id="change-chart" height="220"></canvas></section>
    <section><h2>Open pipeline (now)</h2><div class="kpis" id="pipeline-kpis"></div><table id="pipeline"><thead><tr><th>Stage</th><th>Deals</th><th>Currency</th><th>Amount</th><th>Weighted</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Forecast (open amount × stage probability)</h2><table id="forecast"><thead><tr><th>Currency</th><th>Expected close</th><th>Deals</th><th>Open amount</th><th>Forecast</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Win rate and sales cycle by owner</h2><table id="sales"><thead><tr><th>Owner</th><th>Won</th><th>Lost</th><th>Win rate</th><th>Median days</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Task SLA adherence by kind</h2><table id="tasks"><thead><tr><th>Kind</th><th>Done</th><th>On time</th><th>Adherence</th><th>Open</th><th>Overdue</th></tr></thead><tbody></tbody></table></section>
    <section><h2>Processes</h2><table id="processes"><thead><tr><th>Workflow</th><th>Closed</th><th>Completed</th><th>Failed</th><th>Timed out</th><th>Median</th></tr></thead><tbody></tbody></table></section>
  </main>
  <script src="/assets/chart.umd.min.js"></script>
  <script src="/assets/dashboard.js"></script>
</body>
</html>`;

export const DASHBOARD_JS = `(() => {
  const fragmentKey = new URLSearchParams(location.hash.slice(1)).get('key');
  if (fragmentKey) { localStorage.setItem('crmAnalyticsKey', fragmentKey); history.replaceState(null, '', location.pathname); }
  let key = localStorage.getItem('crmAnalyticsKey');
  if (!key) { key = prompt('Analyst API key'); if (key) localStorage.setItem('crmAnalyticsKey', key); }
  const $ = (id) => document.getElementById(id);
  const day = 86400000;
  $('to').value = new Date(Date.now() + day).toISOString().slice(0, 10);
  $('from').value = new Date(Date.now() - 30 * day).toISOString().slice(0, 10);
  const charts = {};
  const draw = (id, config) => { charts[id]?.destroy(); charts[id] = new Chart($(id), { ...config, options: { animation: false, responsive: true, ...(config.options || {}) } }); };
  // Data reaches the page as text only (textContent), never as markup.
  const kpis = (id, pairs) => {
    $(id).replaceChildren(...pairs.map(([k, v]) => { const div = document.createElement('div'); const b = document.createElement('b'); b.textContent = String(v ?? '–'); div.append(b, k); return div; }));
  };
  const fill = (id, rows) => {
    $(id).querySelector('tbody').replaceChildren(...rows.map((cells) => { const tr = document.createElement('tr'); for (const c of cells) { const td = document.createElement('td'); td.textContent = String(c ?? '–'); tr.append(td); } return tr; }));
  };
  const money = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
  const pct = (r) => (r === null || r === undefined ? '–' : Math.round(r * 1000) / 10 + '%');
  const hours = (ms) => (ms === null || ms === undefined ? null : Math.round(ms / 36000) / 100);
  // The open pipeline and the forecast are as of now; the other reports take the range.
  const NOW = ['pipeline', 'forecast', 'ingest'];
  async function get(name) {
    const q = NOW.includes(name) ? '' : '?' + new URLSearchParams({ from: $('from').value, to: $('to').value, groupBy: $('groupBy').value });
    const res = await fetch('/v1/analytics/' + name + q, { headers: { Authorization: 'Bearer ' + key } });
    if (res.status === 401) { localStorage.removeItem('crmAnalyticsKey'); throw new Error('The analyst key was refused; reload to enter another.'); }
    if (!res.ok) throw new Error((await res.json()).detail || res.statusText);
    return res.json();
  }
  async function refresh() {
    $('error').hidden = true;
    $('status').textContent = 'loading…';
    try {
      const [funnel, campaigns, changes, processes, ingest, pipeline, forecast, sales, tasks] = await Promise.all(
        ['funnel', 'campaigns', 'changes', 'processes', 'ingest', 'pipeline', 'forecast', 'sales', 'tasks'].map(get));
      const stages = Object.keys(funnel.stageCounts);
      kpis('funnel-kpis', [['closed leads', funnel.closedLeads], ['won', funnel.stageCounts.won], ['lost', funnel.stageCounts.lost]]);
      draw('funnel-chart', { type: 'bar', data: { labels: stages, datasets: [{ label: 'leads that reached the stage', data: stages.map((s) => funnel.stageCounts[s]), backgroundColor: '#3b6fd8' }] } });
      draw('conversion-chart', { type: 'line', data: { labels: funnel.series.map((p) => p.period.slice(0, 10)), datasets: [
        { label: 'win rate', data: funnel.series.map((p) => p.rate), borderColor: '#2e9e5b', yAxisID: 'y' },
        { label: 'closed leads', data: funnel.series.map((p) => p.closed), borderColor: '#999', yAxisID: 'y1' } ] },
        options: { scales: { y: { min: 0, max: 1 }, y1: { position: 'right', beginAtZero: true } } } });
      kpis('campaign-kpis', [['enrolled', campaigns.enrolled], ['goal rate', pct(campaigns.goalRate)], ['opt-out rate', pct(campaigns.optOutRate)]]);
      const kinds = Object.keys(campaigns.offersByKind);
      draw('campaign-chart', { type: 'bar', data: { labels: ['enrolled', 'messaged', 'goal reached', 'opted out', ...kinds.map((k) => k + ' accepted')], datasets: [{ label: 'count', backgroundColor: '#8a5cd0',
        data: [campaigns.enrolled, campaigns.messaged, campaigns.goalReached, campaigns.optedOut, ...kinds.map((k) => campaigns.offersByKind[k].accepted)] }] } });
      kpis('change-kpis', [['changes', Object.values(changes.volumeByType).reduce((a, b) => a + b, 0)], ['verification success', pct(changes.verification.successRate)], ['approved', changes.approval.approved], ['rejected', changes.approval.rejected]]);
      draw('change-chart', { type: 'bar', data: { labels: ['time to verify', 'approval turnaround'], datasets: [
        { label: 'median', backgroundColor: '#d88a3b', data: [hours(changes.verification.timeToVerify.medianMs), hours(changes.approval.turnaround.medianMs)] },
        { label: 'p90', backgroundColor: '#b5651d', data: [hours(changes.verification.timeToVerify.p90Ms), hours(changes.approval.turnaround.p90Ms)] } ] } });
      fill('processes', processes.byType.map((p) => [p.workflowType, p.total, p.completed, p.failed, p.timedOut, p.durationMedianMs === null ? '–' : Math.round(p.durationMedianMs) + ' ms']));
      kpis('pipeline-kpis', [['open deals', pipeline.open], ...pipeline.totals.map((t) => ['weighted ' + t.currency, money(t.weightedAmount)])]);
      fill('pipeline', pipeline.byStage.flatMap((s) => (s.amounts.length ? s.amounts : [{ currency: '–', deals: s.count, amount: null, weightedAmount: null }])
        .map((a, i) => [i === 0 ? s.stage : '', i === 0 ? s.count : '', a.currency, money(a.amount), money(a.weightedAmount)])));
      fill('forecast', forecast.byCurrency.flatMap((c) => [...c.byExpectedClose.map((m) => [c.currency, m.month || 'not set', m.deals, money(m.openAmount), money(m.forecast)]),
        [c.currency, 'total', c.deals, money(c.openAmount), money(c.forecast)]]));
      fill('sales', sales.byOwner.map((o) => [o.owner || 'unassigned', o.won, o.lost, pct(o.winRate), o.salesCycleDays.median]));
      fill('tasks', tasks.byKind.map((k) => [k.kind || 'unknown', k.done, k.onTime, pct(k.adherence), k.openNow, k.overdueNow]));
      $('status').textContent = 'ingested ' + ingest.runsIngested + ' runs; last ingest ' + (ingest.lastRunAt || 'never');
      document.body.dataset.loaded = 'true';
    } catch (err) {
      $('error').textContent = err.message; $('error').hidden = false; $('status').textContent = '';
    }
  }
  $('refresh').addEventListener('click', refresh);
  refresh();
})();`;
