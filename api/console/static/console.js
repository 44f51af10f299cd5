// The operators' console page: a plain ES module, no build step. It reads the console's JSON endpoints
// (same origin, session cookie) and draws with chart.js (window.Chart, its UMD build served by the API).
// A page of the calendar is one request whatever the number of practices: never one per practice.

const Chart = window.Chart;
const REFRESH_MS = 60_000;

const CLASS_LABELS = {
  'integrated-3d': 'integrated ≤ 3 days',
  'integrated-8d': 'integrated ≤ 8 days',
  'integrated-late': 'integrated late',
  'technical-failure': 'technical failure',
  'process-failure': 'process failure',
  'in-progress': 'in progress',
};
const CLASS_COLOURS = {
  'integrated-3d': '#2e7d32',
  'integrated-8d': '#81c784',
  'integrated-late': '#ef8f00',
  'technical-failure': '#c62828',
  'process-failure': '#6a1b9a',
  'in-progress': '#9aa3ad',
};
const STATE_SYMBOLS = { delivered: '✓', corrected: 'C', failed: '✗', pending: 'P', 'in-flight': '…', 'not-reported': '·' };

const $ = (id) => document.getElementById(id);
const state = { page: 1, prefix: '', side: 'both', practice: undefined, summary: undefined, practiceData: undefined, classes: Object.keys(CLASS_LABELS), buckets: [1, 24, 72, 192, 336, null] };
const charts = {};

/** GET a console endpoint; a lost session goes back to the login page. */
async function getJson(url) {
  const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) {
    window.location.assign('/console/login');
    throw new Error('not logged in');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) node.append(c);
  return node;
}

/** The Web UI page of a workflow, when the console knows where the Web UI is. */
function workflowUrl(ui, workflowId) {
  if (!ui) return undefined;
  return `${ui.baseUrl}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

const utc = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : '–');

function bucketLabels(hours) {
  const h = (n) => (n < 24 ? `${n} h` : `${n / 24} day${n === 24 ? '' : 's'}`);
  return hours.map((upper, i) => {
    const lower = i === 0 ? 0 : hours[i - 1];
    // Each bucket includes its upper bound (as the classes' "≤ 3 days", "≤ 8 days" do).
    if (upper === null) return `> ${h(lower)}`;
    return i === 0 ? `≤ ${h(upper)}` : `${h(lower)} – ${h(upper)}`;
  });
}

// ---- charts ----------------------------------------------------------------------------------------

function weeklyChart(canvasId) {
  return new Chart($(canvasId), {
    type: 'bar',
    data: { labels: [], datasets: state.classes.map((c) => ({ label: CLASS_LABELS[c], data: [], backgroundColor: CLASS_COLOURS[c], stack: 'classes' })) },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'transfers' } } },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
    },
  });
}

function integrationChart(canvasId) {
  return new Chart($(canvasId), {
    type: 'bar',
    data: { labels: bucketLabels(state.buckets), datasets: [{ label: 'integrated transfers', data: [], backgroundColor: '#1565c0' }] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'transfers' } }, x: { title: { display: true, text: 'request to integration' } } },
      plugins: { legend: { display: false } },
    },
  });
}

function setWeekly(chart, weeks) {
  chart.data.labels = weeks.map((w) => `w/c ${w.week}`);
  state.classes.forEach((c, i) => (chart.data.datasets[i].data = weeks.map((w) => w.counts[c] ?? 0)));
  chart.update();
}

function setIntegration(chart, counts) {
  chart.data.labels = bucketLabels(state.buckets);
  chart.data.datasets[0].data = state.buckets.map((_, i) => counts?.[i] ?? 0);
  chart.update();
}

// ---- the service at a glance -----------------------------------------------------------------------

function classTable(table, counts, testIdPrefix) {
  const head = table.tHead.rows[0];
  const body = table.tBodies[0].rows[0];
  head.replaceChildren(...state.classes.map((c) => el('th', { text: CLASS_LABELS[c], scope: 'col' })), el('th', { text: 'all', scope: 'col' }));
  let total = 0;
  const cells = state.classes.map((c) => {
    const n = counts?.[c] ?? 0;
    total += n;
    return el('td', { 'data-class': c, 'data-testid': `${testIdPrefix}-${c}`, text: String(n) });
  });
  body.replaceChildren(...cells, el('td', { 'data-testid': `${testIdPrefix}-total`, text: String(total) }));
  return total;
}

function setTile(testId, value) {
  const node = document.querySelector(`[data-testid="${testId}"]`);
  node.textContent = String(value);
  node.closest('.tile').classList.toggle('nonzero', Number(value) > 0);
}

async function loadSummary() {
  const s = await getJson('/console/api/summary');
  state.summary = s;
  if (Array.isArray(s.classes)) state.classes = s.classes;
  if (Array.isArray(s.integrationBucketsHours)) state.buckets = s.integrationBucketsHours;
  setTile('practices', s.practices);
  setTile('failing-submissions', s.failingSubmissions);
  setTile('overdue-transfers', s.overdueTransfers);
  $('api-tile').hidden = s.apiPostsFailed === undefined;
  if (s.apiPostsFailed !== undefined) setTile('api-posts-failed', s.apiPostsFailed);
  const total = classTable($('week-classes'), s.lastWeek.totals, 'week');
  document.querySelector('[data-testid="tile-week-total"]').textContent = String(total);
  $('week-since').textContent = `(requested from ${s.lastWeek.since}, both roles; as \`gp2gp-mi outcomes --since 7d\` counts them)`;
  const sweep = s.sweep;
  $('sweep-note').textContent =
    `Service-wide figures and plots come from a background sweep of every practice's reporting workflow: ` +
    (sweep.lastRoundEndedAt ? `last complete round ended ${utc(sweep.lastRoundEndedAt)}` : 'its first round is under way') +
    ` (${s.practicesSwept} of ${s.practices} practices held; now ${sweep.done} of ${sweep.total} asked${sweep.failing ? `; ${sweep.failing} could not be read` : ''}).`;
  drawServicePlots();
  $('freshness').textContent = `page refreshed ${utc(new Date().toISOString())}; refreshes every ${REFRESH_MS / 1000} s`;
}

function drawServicePlots() {
  if (!state.summary) return;
  charts.serviceWeekly ??= weeklyChart('service-weekly');
  charts.serviceIntegration ??= integrationChart('service-integration');
  setWeekly(charts.serviceWeekly, state.summary.weekly[state.side]);
  setIntegration(charts.serviceIntegration, state.summary.integrationTimes[state.side]);
}

// ---- the calendar ----------------------------------------------------------------------------------

function dayCell(ui, day, entry) {
  const td = el('td', { class: 'day', 'data-day': day, 'data-state': entry?.state ?? 'none' });
  if (!entry) return td;
  const title = `${day}: ${entry.state}${entry.submissionId ? ` — ${entry.submissionId}` : ''}`;
  const href = entry.submissionId ? workflowUrl(ui, entry.submissionId) : undefined;
  const symbol = STATE_SYMBOLS[entry.state] ?? '?';
  td.append(
    href
      ? el('a', { class: `cell ${entry.state}`, href, target: '_blank', rel: 'noopener noreferrer', title, 'aria-label': title, text: symbol })
      : el('span', { class: `cell ${entry.state}`, title, 'aria-label': title, text: symbol }),
  );
  return td;
}

function countsCell(ods, counts) {
  const td = el('td', { class: 'counts', 'data-testid': `counts-${ods}` });
  for (const c of state.classes) {
    const n = counts?.[c] ?? 0;
    if (!n) continue;
    const chip = el('span', { class: 'chip', 'data-class': c, title: `${CLASS_LABELS[c]}: ${n}`, text: String(n) });
    chip.style.background = CLASS_COLOURS[c];
    td.append(chip);
  }
  if (!td.childElementCount) td.textContent = '–';
  return td;
}

async function loadCalendar() {
  const params = new URLSearchParams({ page: String(state.page), prefix: state.prefix });
  const data = await getJson(`/console/api/calendar?${params}`);
  state.page = data.page;
  const table = $('calendar');
  const showApi = state.summary?.apiPostsFailed !== undefined;
  table.tHead.replaceChildren(
    el(
      'tr',
      {},
      el('th', { class: 'ods', text: 'practice', scope: 'col' }),
      el('th', { text: 'last 7 days', scope: 'col', title: 'transfers requested in the last 7 days, by class (both roles)' }),
      el('th', { text: 'failing subm.', scope: 'col' }),
      el('th', { text: 'overdue', scope: 'col' }),
      ...(showApi ? [el('th', { text: 'API failed', scope: 'col' })] : []),
      ...data.days.map((d) => el('th', { class: 'day', scope: 'col', text: d.slice(5) , title: d })),
    ),
  );
  table.tBodies[0].replaceChildren(
    ...data.practices.map((p) => {
      const select = el('button', { type: 'button', class: 'practice', text: p.practiceOds, title: `plots of ${p.practiceOds}${p.asOf ? ` (row read ${utc(p.asOf)})` : ''}` });
      select.addEventListener('click', () => choosePractice(p.practiceOds));
      const row = el('tr', { 'data-practice': p.practiceOds }, el('td', { class: 'ods' }, select));
      if (!p.ok) {
        row.append(el('td', { class: 'error', colspan: String(3 + (showApi ? 1 : 0) + data.days.length), text: p.error }));
        return row;
      }
      const byDay = new Map(p.calendar.map((c) => [c.day, c]));
      row.append(
        countsCell(p.practiceOds, p.lastWeek),
        el('td', { 'data-testid': `failing-${p.practiceOds}`, text: String(p.failingSubmissions) }),
        el('td', { 'data-testid': `overdue-${p.practiceOds}`, text: String(p.overdueTransfers) }),
        ...(showApi ? [el('td', { text: String(p.apiPostsFailed) })] : []),
        ...data.days.map((d) => dayCell(data.temporalUi, d, byDay.get(d))),
      );
      return row;
    }),
  );
  $('page-info').textContent = `page ${data.page} of ${data.pages} (${data.total} practice${data.total === 1 ? '' : 's'}${state.prefix ? ` starting ${state.prefix}` : ''})`;
  $('prev').disabled = data.page <= 1;
  $('next').disabled = data.page >= data.pages;
  if (!state.practice && data.practices[0]) void choosePractice(data.practices[0].practiceOds);
}

// ---- one practice ----------------------------------------------------------------------------------

async function choosePractice(ods) {
  state.practice = ods;
  $('practice-ods').value = ods;
  $('practice-status').textContent = `loading ${ods}…`;
  try {
    const p = await getJson(`/console/api/practices/${encodeURIComponent(ods)}`);
    state.practiceData = p;
    $('practice-status').textContent = `${p.practiceOds}, as of ${utc(p.asOf)}: ${p.failingSubmissions} failing submission(s), ${p.overdueTransfers} overdue transfer(s)`;
    $('practice-classes').hidden = false;
    classTable($('practice-classes'), p.lastWeek.outcomes, 'practice-week');
    $('practice-weekly-caption').textContent = `Outcome classes per week (by request week), ${p.practiceOds}`;
    $('practice-integration-caption').textContent = `Time from request to integration, ${p.practiceOds}`;
    drawPracticePlots();
  } catch (err) {
    $('practice-status').textContent = err.message;
  }
}

function drawPracticePlots() {
  if (!state.practiceData) return;
  charts.practiceWeekly ??= weeklyChart('practice-weekly');
  charts.practiceIntegration ??= integrationChart('practice-integration');
  setWeekly(charts.practiceWeekly, state.practiceData.weekly[state.side]);
  setIntegration(charts.practiceIntegration, state.practiceData.integrationTimes[state.side]);
}

// ---- search ----------------------------------------------------------------------------------------

async function search(id) {
  const message = $('search-message');
  const table = $('search-results');
  message.classList.remove('error');
  message.textContent = 'searching…';
  table.hidden = true;
  const res = await fetch(`/console/api/search?${new URLSearchParams({ id })}`, { credentials: 'same-origin' });
  if (res.status === 401) return window.location.assign('/console/login');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    message.classList.add('error');
    message.textContent = body?.error?.message ?? `search failed (${res.status})`;
    return;
  }
  message.textContent = body.transfers.length
    ? `${body.transfers.length} transfer record(s) for ${body.searchedAs} ID ${body.id}`
    : `no transfer records for ${body.id} (the search uses Temporal's visibility, which may lag a few seconds)`;
  table.tBodies[0].replaceChildren(
    ...body.transfers.map((t) => {
      const href = workflowUrl(body.temporalUi, t.workflowId);
      return el(
        'tr',
        { 'data-workflow-id': t.workflowId },
        el('td', { text: t.side === 'RR' ? 'RR (requesting)' : t.side === 'SR' ? 'SR (sending)' : t.side }),
        el('td', { text: t.practiceOds }),
        el('td', {}, href ? el('a', { href, target: '_blank', rel: 'noopener noreferrer', text: t.workflowId }) : t.workflowId),
        el('td', { text: t.stage ?? '' }),
        el('td', { text: t.outcome ?? '' }),
        el('td', { text: t.status }),
      );
    }),
  );
  table.hidden = body.transfers.length === 0;
}

// ---- wiring ----------------------------------------------------------------------------------------

async function refresh() {
  try {
    await loadSummary();
    await loadCalendar();
    if (state.practice) await choosePractice(state.practice);
  } catch (err) {
    $('freshness').textContent = `could not refresh: ${err.message}`;
  }
}

$('calendar-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  state.prefix = $('prefix').value.trim().toUpperCase();
  state.page = 1;
  void loadCalendar().catch((err) => ($('page-info').textContent = err.message));
});
$('prev').addEventListener('click', () => {
  state.page = Math.max(1, state.page - 1);
  void loadCalendar();
});
$('next').addEventListener('click', () => {
  state.page += 1;
  void loadCalendar();
});
$('side').addEventListener('change', () => {
  state.side = $('side').value;
  drawServicePlots();
  drawPracticePlots();
});
$('practice-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void choosePractice($('practice-ods').value.trim().toUpperCase());
});
$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void search($('search-id').value.trim());
});

await refresh();
document.body.dataset.ready = 'true';
setInterval(() => void refresh(), REFRESH_MS);
