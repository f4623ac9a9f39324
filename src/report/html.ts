import type { Report } from './report.ts';
import { STATUSES } from './report.ts';
import { TIMELINE_SERIES, type Timeline, type TimelineSeries } from './timeline.ts';

/** Every value from a user or a provider goes through this (names, titles, codes, reasons, times). */
const esc = (s: string | number): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const int = (n: number): string => esc(Math.round(n).toLocaleString('en-US'));
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Colours of the chart. The test of the page finds the plot by its background and counts request bars. */
export const CHART_COLORS = {
  background: '#f1f3f9',
  requests: '#a5b4fc',
  sent: '#15aabf',
  delivered: '#2b8a3e',
  read: '#e8590c',
  failed: '#c2255c',
} as const satisfies Record<'background' | TimelineSeries, string>;

const STATUS_COLORS: Record<(typeof STATUSES)[number], string> = {
  queued: '#9aa5b1', sending: '#f0b429', accepted: '#7cc4fa', sent: '#15aabf', delivered: '#2b8a3e', read: '#0b7285', failed: '#e12d39',
};

const MINUTE = 60_000;
const CHART = { width: 1100, height: 300, left: 56, right: 12, top: 12, bottom: 28 };

/** A round axis maximum at or above `max` (1, 2 or 5 × a power of ten). */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

const hhmm = (d: Date, withDate: boolean): string =>
  (withDate ? `${d.toISOString().slice(5, 10)} ` : '') + d.toISOString().slice(11, 16);

/**
 * The per-minute chart as inline SVG: requests as bars, the four statuses as lines, UTC minutes along x.
 * No script and nothing fetched: it renders the same offline.
 */
export function renderTimelineSvg(t: Timeline): string {
  const { width: W, height: H, left: L, right: R, top: T, bottom: B } = CHART;
  const pw = W - L - R;
  const ph = H - T - B;
  const n = t.minutes;
  const max = niceMax(Math.max(0, ...TIMELINE_SERIES.flatMap((k) => t.series[k])));
  const y = (v: number) => T + ph - (v / max) * ph;
  const slot = n > 0 ? pw / n : pw;
  const parts: string[] = [];
  parts.push(`<rect class="plot" x="${L}" y="${T}" width="${pw}" height="${ph}" fill="${CHART_COLORS.background}"/>`);
  // Grid and y labels: 0, half, max.
  for (const v of [0, max / 2, max]) {
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${yy}" y2="${yy}" stroke="#d9dee8" stroke-width="1"/>`);
    parts.push(`<text x="${L - 6}" y="${yy}" dy="4" text-anchor="end">${Number.isInteger(v) ? int(v) : esc(v.toFixed(1))}</text>`);
  }
  if (n === 0 || !t.from) {
    parts.push(`<text x="${L + pw / 2}" y="${T + ph / 2}" text-anchor="middle" class="empty">no activity yet</text>`);
  } else {
    const from = Date.parse(t.from);
    // Requests: one bar per minute, all in one path (1,440 rects would be 60 kB of markup).
    const bw = slot >= 4 ? slot * 0.8 : slot;
    let d = '';
    t.series.requests.forEach((v, i) => {
      if (v <= 0) return;
      const x = L + i * slot + (slot - bw) / 2;
      d += `M${x.toFixed(2)} ${(T + ph).toFixed(1)}V${y(v).toFixed(1)}h${bw.toFixed(2)}V${(T + ph).toFixed(1)}Z`;
    });
    if (d) parts.push(`<path class="bars" d="${d}" fill="${CHART_COLORS.requests}"/>`);
    for (const k of ['sent', 'delivered', 'read', 'failed'] as const) {
      const values = t.series[k];
      if (!values.some((v) => v > 0)) continue;
      const pts = values.map((v, i) => `${(L + (i + 0.5) * slot).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      parts.push(`<polyline class="line-${k}" points="${pts}" fill="none" stroke="${CHART_COLORS[k]}" stroke-width="1.5" stroke-linejoin="round"/>`);
    }
    // x labels: at most 8 ticks, on round UTC times (every 1, 2, 5, 10, 15, 30 minutes or 1, 2, 3, 6 hours).
    const multiDay = new Date(from).getUTCDate() !== new Date(from + (n - 1) * MINUTE).getUTCDate();
    const step = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360].find((m) => n / m <= 8) ?? 360;
    const first = (Math.ceil(from / (step * MINUTE)) * step * MINUTE - from) / MINUTE;
    for (let i = first; i < n; i += step) {
      const x = L + (i + 0.5) * slot;
      parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${T + ph}" y2="${T + ph + 4}" stroke="#9aa5b1"/>`);
      parts.push(`<text x="${x.toFixed(1)}" y="${H - 8}" text-anchor="middle">${esc(hhmm(new Date(from + i * MINUTE), multiDay))}</text>`);
    }
  }
  parts.push(`<line x1="${L}" x2="${L + pw}" y1="${T + ph}" y2="${T + ph}" stroke="#9aa5b1"/>`);
  return `<svg id="timeline" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" style="max-width:100%;height:auto" role="img" aria-label="requests and statuses per minute">${parts.join('')}</svg>`;
}

function legend(): string {
  const item = (k: TimelineSeries, label: string, bar: boolean) =>
    `<span class="key"><i style="background:${CHART_COLORS[k]};${bar ? '' : 'height:3px;vertical-align:middle'}"></i>${label}</span>`;
  return `<p class="legend">${item('requests', 'requests sent (bars)', true)}${item('sent', 'sent', false)}${item('delivered', 'delivered', false)}${item('read', 'read', false)}${item('failed', 'failed', false)}<span class="muted">per minute, UTC</span></p>`;
}

/**
 * The report as a page a person reads: rendered on the server, no external assets and no script (it works
 * offline), reloaded every 5 s while the campaign runs or waits for its start, not once it has ended.
 */
export function renderReportHtml(r: Report, timeline: Timeline): string {
  const s = r.status;
  // While the file is still being validated the counts can run ahead of `accepted`: never above 100 %.
  const total = Math.max(1, r.ingest.accepted, STATUSES.reduce((sum, k) => sum + s[k], 0));
  // The funnel: each stage counts the recipients that reached it (a read message was also delivered and sent).
  const funnel: Array<[string, number, string]> = [
    ['recipients', r.ingest.accepted, '#52606d'],
    ['accepted by WhatsApp', s.accepted + s.sent + s.delivered + s.read, STATUS_COLORS.accepted],
    ['sent', s.sent + s.delivered + s.read, STATUS_COLORS.sent],
    ['delivered', s.delivered + s.read, STATUS_COLORS.delivered],
    ['read', s.read, STATUS_COLORS.read],
    ['failed', s.failed, STATUS_COLORS.failed],
  ];
  const bar = (label: string, n: number, color: string, cls: string) =>
    `<tr class="${cls}"><th>${esc(label)}</th><td class="n">${int(n)}</td><td class="n muted">${pct(n / total)}</td>` +
    `<td class="track"><div class="bar" style="width:${((n / total) * 100).toFixed(2)}%;background:${color}"></div></td></tr>`;
  const funnelRows = funnel.map(([label, n, color], i) => bar(label, n, color, `stage-${i}`)).join('');
  const statusRows = STATUSES.map((k) => bar(k, s[k], STATUS_COLORS[k], `status-${k}`)).join('');
  const failures = r.failures
    .map((f) => `<tr><td>${esc(f.code)}</td><td>${esc(f.title)}</td><td class="n">${int(f.count)}</td></tr>`)
    .join('');
  const ir = r.ingest.invalid_reasons;
  const live = r.state === 'running' || r.state === 'scheduled';
  const tier = r.tier && r.tier.limit !== null
    ? `<p>messaging tier ${int(r.tier.limit)}: ${int(r.tier.used)} people in the last 24 h, ${int(r.tier.remaining ?? 0)} left${r.tier.frees_at ? ` — used up, sending waits until ${esc(r.tier.frees_at)}` : ''}</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${esc(r.name)} — campaign report</title>
${live ? '<meta http-equiv="refresh" content="5">\n' : ''}<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px 32px;color:#1f2933;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px}
table{border-collapse:collapse;margin:4px 0}th,td{padding:3px 10px;text-align:left;vertical-align:middle}
th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#7b8794}
.track{width:200px}.bar{height:14px;min-width:1px;border-radius:2px}
.state{display:inline-block;padding:1px 8px;border-radius:10px;background:#e4e7eb;font-weight:600}
.state.running,.state.scheduled{background:#d3f9d8}.state.paused{background:#fff3bf}.state.cancelled{background:#ffe3e3}
.pause{background:#fff3bf;border-left:4px solid #f0b429;padding:6px 10px;margin:8px 0}
.legend .key{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;border-radius:2px}
svg text{font-size:11px;fill:#52606d}svg text.empty{font-size:15px;fill:#7b8794}
.cols{display:flex;flex-wrap:wrap;gap:8px 48px}.data th{background:#f5f7fa}
</style></head><body>
<h1>${esc(r.name)}</h1>
<p><span class="state ${esc(r.state)}">${esc(r.state)}</span> · template ${esc(r.template.name)} (${esc(r.template.language)}) · channel ${esc(r.channel)}${live ? ' · <span class="muted">refreshing every 5 s</span>' : ''}</p>
${r.pause_reason ? `<p class="pause">paused: ${esc(r.pause_reason)}</p>\n` : ''}<p class="muted">created ${esc(r.created_at)}${r.started_at ? ` · started ${esc(r.started_at)}` : ''}${r.completed_at ? ` · completed ${esc(r.completed_at)}` : ''} · id ${esc(r.id)}</p>
<h2>Requests and statuses per minute</h2>
${legend()}
${renderTimelineSvg(timeline)}
<div class="cols">
<div><h2>Funnel</h2><table class="funnel">${funnelRows}</table>
<p>delivered ${pct(r.rates.delivered)} · read ${pct(r.rates.read)} · failed ${pct(r.rates.failed)}</p>
<p>requests ${int(r.attempts.requests)} · retries ${int(r.attempts.retries)} · ambiguous <span class="ambiguous">${int(r.ambiguous)}</span></p>
${tier}</div>
<div><h2>Status now</h2><table class="status">${statusRows}</table></div>
</div>
<div class="cols">
<div><h2>Ingest</h2><table class="data ingest"><tr><th>rows</th><th>accepted</th><th>invalid</th><th>duplicate</th><th>suppressed</th></tr>
<tr><td class="n">${int(r.ingest.rows)}</td><td class="n">${int(r.ingest.accepted)}</td><td class="n">${int(r.ingest.invalid)}</td><td class="n">${int(r.ingest.duplicate)}</td><td class="n">${int(r.ingest.suppressed)}</td></tr></table>
<table class="data reasons"><tr><th>invalid phone</th><th>missing param</th><th>invalid param</th><th>malformed row</th></tr>
<tr><td class="n">${int(ir.invalid_phone)}</td><td class="n">${int(ir.missing_param)}</td><td class="n">${int(ir.invalid_param)}</td><td class="n">${int(ir.malformed_row)}</td></tr></table></div>
<div><h2>Failure reasons</h2>${failures
    ? `<table class="data failures"><tr><th>code</th><th>title</th><th>count</th></tr>${failures}</table>`
    : '<p class="muted">no failures</p>'}</div>
</div>
<p class="muted">The same report as JSON: <a href="/api/campaigns/${esc(r.id)}/report">/api/campaigns/${esc(r.id)}/report</a></p>
</body></html>
`;
}
