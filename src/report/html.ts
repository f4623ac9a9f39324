import type { Report } from './report.ts';
import { STATUSES } from './report.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The report as a page a person reads: rendered on the server, no external assets (it must work offline),
 * refreshed every 5 s while the campaign runs. (The per-minute chart arrives with issue #6.)
 */
export function renderReportHtml(r: Report): string {
  const total = Math.max(1, r.ingest.accepted);
  const colors: Record<string, string> = {
    queued: '#9aa5b1', sending: '#f0b429', accepted: '#7cc4fa', sent: '#2186eb', delivered: '#3ebd93', read: '#147d64', failed: '#e12d39',
  };
  const bars = STATUSES.map((s) => {
    const n = r.status[s];
    const w = ((n / total) * 100).toFixed(2);
    return `<tr><th>${s}</th><td class="n">${n}</td><td><div class="bar" style="width:${w}%;background:${colors[s]}"></div></td></tr>`;
  }).join('');
  const failures = r.failures.map((f) => `<tr><td>${esc(f.code)}</td><td>${esc(f.title)}</td><td class="n">${f.count}</td></tr>`).join('');
  const live = r.state === 'running' || r.state === 'scheduled';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(r.name)} — campaign report</title>
${live ? '<meta http-equiv="refresh" content="5">' : ''}
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#1f2933}table{border-collapse:collapse;margin:1em 0}
th,td{padding:4px 10px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{height:14px;min-width:1px}.funnel td:last-child{width:400px}.muted{color:#7b8794}</style></head><body>
<h1>${esc(r.name)}</h1>
<p><b>${esc(r.state)}</b>${r.pause_reason ? ` — paused: ${esc(r.pause_reason)}` : ''} · template ${esc(r.template.name)} (${esc(r.template.language)}) · channel ${esc(r.channel)}</p>
<p class="muted">created ${esc(r.created_at)}${r.started_at ? ` · started ${esc(r.started_at)}` : ''}${r.completed_at ? ` · completed ${esc(r.completed_at)}` : ''}</p>
<h2>Status</h2><table class="funnel">${bars}</table>
<p>delivered ${(r.rates.delivered * 100).toFixed(1)}% · read ${(r.rates.read * 100).toFixed(1)}% · failed ${(r.rates.failed * 100).toFixed(1)}% · requests ${r.attempts.requests} · retries ${r.attempts.retries} · ambiguous ${r.ambiguous}</p>
<h2>Ingest</h2><table><tr><th>rows</th><th>accepted</th><th>invalid</th><th>duplicate</th><th>suppressed</th></tr>
<tr><td class="n">${r.ingest.rows}</td><td class="n">${r.ingest.accepted}</td><td class="n">${r.ingest.invalid}</td><td class="n">${r.ingest.duplicate}</td><td class="n">${r.ingest.suppressed}</td></tr></table>
${failures ? `<h2>Failure reasons</h2><table><tr><th>code</th><th>title</th><th>count</th></tr>${failures}</table>` : ''}
</body></html>`;
}
