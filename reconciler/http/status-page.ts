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
  const lastChange = view.lastChange;
  const changeRows = (lastChange?.changes ?? [])
    .map(
      (c) =>
        `<tr class="s-${c.state}"><td><code>${esc(c.key)}</code></td><td>${esc(c.state)}${c.healedDrift && c.state !== 'healed' ? ', drift healed' : ''}</td><td>${
          // a new resource's every field is new: the count says enough
          c.action === 'create' || c.action === 'replace'
            ? `<span class="muted">${c.action === 'create' ? 'new' : 'replaced'}, ${c.fields.length} field(s)</span>`
            : c.fields.map((f) => `<code>${esc(f.path)}</code>: ${esc(f.before)} &rarr; ${esc(f.after)}`).join('<br>')
        }</td></tr>`,
    )
    .join('');
  const resourceRows = view.resources
    .map(
      (r) =>
        `<tr class="s-${r.state.replace(' ', '-')}"><td><code>${esc(r.key)}</code></td><td>${esc(r.state)}</td><td>${esc(r.error ?? r.detail ?? '')}</td></tr>`,
    )
    .join('');
  const counts = new Map<string, number>();
  for (const r of view.resources) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
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
.s-in-sync td:nth-child(2){color:#176c2c}.s-created td:nth-child(2),.s-updated td:nth-child(2),.s-replaced td:nth-child(2),.s-deleted td:nth-child(2){color:#1a4f9c;font-weight:bold}
.s-healed td:nth-child(2){color:#7a3ea8;font-weight:bold}.s-drifted td:nth-child(2),.s-skipped td:nth-child(2){color:#9a6700;font-weight:bold}.s-failed td:nth-child(2){color:#a61b1b;font-weight:bold}
.applying{color:#9a6700;font-weight:bold}.applied{color:#176c2c}
code{font-family:ui-monospace,monospace;font-size:.92em}.muted{color:#666}
</style></head><body>
<h1>keelson</h1>
<p>Revision: <code id="revision">${esc(view.revision ?? '(none yet)')}</code> <span id="revision-state" class="${esc(view.revisionState)}">${
    view.revisionState === 'applying'
      ? `applying&hellip;${view.appliedRevision ? ` (in effect until then: <code>${esc(view.appliedRevision)}</code>)` : ''}`
      : view.revisionState === 'applied'
        ? 'applied'
        : ''
  }</span>${
    view.fetchedRevision && view.fetchedRevision !== view.revision
      ? ` &middot; newest fetched: <code>${esc(view.fetchedRevision)}</code> (not usable, see diagnostics)`
      : ''
  }<br><span class="muted">mode ${esc(view.mode)} &middot; passes ${esc(view.passes)} &middot; last success ${esc(view.lastSuccessAt ?? 'never')} &middot; <a href="/status">JSON</a> &middot; <a href="/metrics">metrics</a>${view.links
    .map((l) => ` &middot; <a href="${esc(l.url)}">${esc(l.label)}</a>`)
    .join('')}</span></p>
<h2>Last change</h2>
${
  lastChange
    ? `<p>revision <code>${esc(lastChange.revision.slice(0, 12))}</code> at ${esc(lastChange.at)}: ${esc(
        Object.entries(lastChange.summary)
          .filter(([k, v]) => v && k !== 'noop')
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      )}</p><table><tr><th>resource</th><th>what</th><th>fields</th></tr>${changeRows}</table>`
    : '<p class="muted">nothing changed yet</p>'
}
<h2>Managed resources (${view.resources.length})</h2>
${
  view.resources.length
    ? `<p class="muted">${esc(
        [...counts.entries()].map(([state, n]) => `${n} ${state}`).join(', '),
      )} (as of the last pass)</p><table><tr><th>resource</th><th>status</th><th></th></tr>${resourceRows}</table>`
    : '<p class="muted">none yet</p>'
}
<h2>Conditions</h2>
<table><tr><th>type</th><th>status</th><th>reason</th><th>message</th><th>since</th></tr>${conditionRows}</table>
<h2>Drifted resources (${view.drifted.length})</h2>
${view.drifted.length ? `<table><tr><th>resource</th><th>policy</th><th>fields (live &rarr; Git)</th><th>passes seen</th><th>alerted</th><th>first seen</th></tr>${driftRows}</table>` : '<p class="muted">none</p>'}
<h2>Last pass${plan ? ` (revision <code>${esc(plan.revision.slice(0, 12))}</code>)` : ''}</h2>
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
