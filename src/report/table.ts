import type { Report } from './report.ts';
import { STATUSES } from './report.ts';

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - s.length));
const rpad = (s: string, n: number): string => ' '.repeat(Math.max(0, n - s.length)) + s;

/** The report for people: one screen, the numbers an operator asks for first. */
export function renderReportTable(r: Report): string {
  const out: string[] = [];
  out.push(`Campaign ${r.name}  (${r.id})`);
  out.push(`  state      ${r.state}${r.pause_reason ? `  — paused: ${r.pause_reason}` : ''}`);
  out.push(`  template   ${r.template.name} (${r.template.language})   channel ${r.channel}`);
  out.push(`  created    ${r.created_at}${r.started_at ? `   started ${r.started_at}` : ''}${r.completed_at ? `   completed ${r.completed_at}` : ''}`);
  out.push('');
  out.push('Ingest');
  const ir = r.ingest.invalid_reasons;
  out.push(`  rows ${r.ingest.rows}   accepted ${r.ingest.accepted}   invalid ${r.ingest.invalid}   duplicate ${r.ingest.duplicate}   suppressed ${r.ingest.suppressed}`);
  if (r.ingest.invalid > 0) {
    out.push(`  invalid: phone ${ir.invalid_phone}, missing param ${ir.missing_param}, invalid param ${ir.invalid_param}, malformed row ${ir.malformed_row}`);
  }
  out.push('');
  out.push('Status (each accepted recipient once, at its furthest state)');
  const total = r.ingest.accepted || 1;
  for (const s of STATUSES) {
    const n = r.status[s];
    const bar = '█'.repeat(Math.round((n / total) * 30));
    out.push(`  ${pad(s, 10)}${rpad(String(n), 8)}  ${bar}`);
  }
  out.push(`  rates: delivered ${pct(r.rates.delivered)}   read ${pct(r.rates.read)}   failed ${pct(r.rates.failed)}`);
  out.push(`  requests ${r.attempts.requests}   retries ${r.attempts.retries}   ambiguous ${r.ambiguous}`);
  if (r.tier && r.tier.limit !== null) {
    const wait = r.tier.frees_at ? `; used up, sending waits until ${r.tier.frees_at}` : '';
    out.push(`  messaging tier ${r.tier.limit}: ${r.tier.used} people in the last 24 h, ${r.tier.remaining} left${wait}`);
  }
  if (r.failures.length > 0) {
    out.push('');
    out.push('Top failure reasons');
    for (const f of r.failures.slice(0, 10)) out.push(`  ${rpad(String(f.count), 7)}  ${pad(f.code, 10)} ${f.title}`);
  }
  return out.join('\n') + '\n';
}
