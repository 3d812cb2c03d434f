import { formatDiagnostic } from '../desired/diagnostic.ts';
import type { StatusView } from './status-view.ts';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => escapes[c] ?? c);
}

/**
 * The read-only HTML status page at `/`: revision, conditions, drifted resources, last plan,
 * errors and diagnostics. Self-contained (inline CSS, no scripts, no external assets).
 */
export function renderStatusPage(view: StatusView): string {
  const conditionRows = view.conditions
    .map(
      (c) =>
        `<tr class="${c.status === 'True' ? (c.type === 'Stalled' ? 'bad' : 'ok') : c.type === 'Stalled' ? 'ok' : 'bad'}"><td>${esc(c.type)}</td><td>${esc(c.status)}</td><td>${esc(c.reason)}</td><td>${esc(c.message)}</td><td>${esc(c.lastTransitionTime)}</td></tr>`,
    )
    .join('');
  const driftRows = view.drifted
    .map(
      (d) =>
        `<tr><td><code>${esc(d.key)}</code></td><td>${esc(d.policy)}</td><td>${d.fields
          .map(
            (f) =>
              `<code>${esc(f.path)}</code>${f.before || f.after ? `: ${esc(f.before)} &rarr; ${esc(f.after)}` : ''}`,
          )
          .join(
            '<br>',
          )}</td><td>${esc(d.observations)}</td><td>${d.alerted ? 'yes' : 'not yet'}</td><td>${esc(d.firstSeen)}</td></tr>`,
    )
    .join('');
  const plan = view.lastPlan;
  const planRows = (plan?.changes ?? [])
    .map(
      (c) =>
        `<tr><td><code>${esc(c.key)}</code></td><td>${esc(c.action)}</td><td>${esc(c.cause)}</td><td>${esc(c.reason ?? '')} ${esc(c.detail ?? '')}</td><td>${c.fields
          .map((f) => `<code>${esc(f.path)}</code>: ${esc(f.before)} &rarr; ${esc(f.after)}`)
          .join('<br>')}</td></tr>`,
    )
    .join('');
  const errors = view.lastErrors
    .map((e) => `<li><code>${esc(e.code)}</code> ${esc(e.resource ?? '')} ${esc(e.message)}</li>`)
    .join('');
  const refused = view.refusedRevisions
    .map(
      (r) =>
        `<li><code>${esc(r.revision)}</code> ${esc(r.reason)}: ${esc(r.message)} <span class="muted">${esc(r.at)}</span></li>`,
    )
    .join('');
  const diagnostics = view.diagnostics.map((d) => `<li><code>${esc(formatDiagnostic(d))}</code></li>`).join('');
  const unavailable = Object.entries(view.unavailableProviders)
    .map(([p, why]) => `<li><b>${esc(p)}</b>: ${esc(why)}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10"><title>keelson status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}.ok td:nth-child(2){color:#176c2c;font-weight:bold}.bad td:nth-child(2){color:#a61b1b;font-weight:bold}
code{font-family:ui-monospace,monospace;font-size:.92em}.muted{color:#666}
</style></head><body>
<h1>keelson</h1>
<p>Revision in effect: <code id="revision">${esc(view.revision ?? '(none yet)')}</code>${
    view.fetchedRevision && view.fetchedRevision !== view.revision
      ? ` &middot; newest fetched: <code>${esc(view.fetchedRevision)}</code> (not usable, see diagnostics)`
      : ''
  }<br><span class="muted">mode ${esc(view.mode)} &middot; passes ${esc(view.passes)} &middot; last success ${esc(view.lastSuccessAt ?? 'never')} &middot; <a href="/status">JSON</a> &middot; <a href="/metrics">metrics</a></span></p>
<h2>Conditions</h2>
<table><tr><th>type</th><th>status</th><th>reason</th><th>message</th><th>since</th></tr>${conditionRows}</table>
<h2>Drifted resources (${view.drifted.length})</h2>
${view.drifted.length ? `<table><tr><th>resource</th><th>policy</th><th>fields (live &rarr; Git)</th><th>passes seen</th><th>alerted</th><th>first seen</th></tr>${driftRows}</table>` : '<p class="muted">none</p>'}
<h2>Last plan${plan ? ` (revision <code>${esc(plan.revision.slice(0, 12))}</code>)` : ''}</h2>
${
  plan
    ? `<p>${esc(
        Object.entries(plan.summary)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      )}${plan.refused ? ` &middot; <b>refused</b>: ${esc(plan.refused.message)}` : ''}</p>`
    : ''
}
${planRows ? `<table><tr><th>resource</th><th>action</th><th>cause</th><th>reason</th><th>fields</th></tr>${planRows}</table>` : '<p class="muted">no changes</p>'}
${refused ? `<h2>Refused revisions (not used; the revision in effect stays)</h2><ul>${refused}</ul>` : ''}
${diagnostics ? `<h2>Diagnostics of the newest revision</h2><ul>${diagnostics}</ul>` : ''}
${errors ? `<h2>Errors of the last pass</h2><ul>${errors}</ul>` : ''}
${unavailable ? `<h2>Unavailable providers</h2><ul>${unavailable}</ul>` : ''}
</body></html>
`;
}
