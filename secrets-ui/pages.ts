import type { AuditEntry } from './audit.ts';
import { ALPHABETS, MAX_LENGTH, MIN_LENGTH } from './generate.ts';
import type { Consumer } from './inventory.ts';
import type { VersionInfo } from './secret-store.ts';

/** Where one consumer stands with the secret's current version. */
export type ConsumerState =
  | { readonly state: 'current' }
  | { readonly state: 'pending' }
  | { readonly state: 'failed'; readonly error: string }
  | { readonly state: 'unknown'; readonly why: string };

export interface SecretRow {
  readonly name: string;
  readonly consumers: readonly (Consumer & { readonly status: ConsumerState })[];
  readonly current: VersionInfo | undefined;
  /** Version keelson used in its last completed pass. */
  readonly keelsonVersion: string | undefined;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** The page frame: no inline script or style (the CSP forbids both), a skip link, one main landmark. */
export function layout(o: {
  title: string;
  user?: string;
  csrf?: string;
  body: string;
  /** Reload after this many seconds (live propagation without script), or go to `refreshTo`. */
  refresh?: number;
  refreshTo?: string;
}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${o.refresh !== undefined ? `<meta http-equiv="refresh" content="${o.refresh}${o.refreshTo ? `;url=${esc(o.refreshTo)}` : ''}">` : ''}
<title>${esc(o.title)} · keelson secrets</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<nav aria-label="Main"><a href="/">Secrets</a> <a href="/audit">Audit trail</a></nav>
${
  o.user && o.csrf
    ? `<form method="post" action="/auth/logout" class="logout"><span>Signed in as ${esc(o.user)}</span>
<input type="hidden" name="csrf" value="${esc(o.csrf)}"><button type="submit">Sign out</button></form>`
    : ''
}
</header>
<main id="main">
<h1>${esc(o.title)}</h1>
${o.body}
</main>
</body>
</html>`;
}

function stateBadge(s: ConsumerState): string {
  switch (s.state) {
    case 'current':
      return '<span class="badge ok">has the current version</span>';
    case 'pending':
      return '<span class="badge pending">waiting for keelson</span>';
    case 'failed':
      return `<span class="badge failed">failed</span> <span class="error">${esc(s.error)}</span>`;
    case 'unknown':
      return `<span class="badge unknown">${esc(s.why)}</span>`;
  }
}

const version = (v: VersionInfo | undefined) =>
  v
    ? `version ${esc(v.version)}, rotated <time datetime="${esc(v.createdAt)}">${esc(v.createdAt.replace('T', ' ').slice(0, 19))} UTC</time>`
    : 'no version yet';

export function listPage(rows: readonly SecretRow[], problems: readonly string[]): string {
  const items = rows
    .map((r) => {
      const done = r.consumers.filter((c) => c.status.state === 'current').length;
      return `<li class="secret">
<h2><a href="/secrets/${encodeURIComponent(r.name)}">${esc(r.name)}</a></h2>
<p>${version(r.current)} · <span data-testid="summary">${done} of ${r.consumers.length} consumers current</span></p>
<ul class="consumers">${r.consumers
        .map(
          (c) =>
            `<li data-consumer="${esc(c.key)}" data-state="${c.status.state}">${esc(c.label)} ${stateBadge(c.status)}</li>`,
        )
        .join('')}</ul>
</li>`;
    })
    .join('\n');
  const warn = problems.length
    ? `<div role="alert" class="problems"><p>The desired state has problems; the list may be incomplete:</p><ul>${problems
        .map((p) => `<li>${esc(p)}</li>`)
        .join('')}</ul></div>`
    : '';
  return `${warn}<ul class="secrets">${items || '<li>The desired state references no secret.</li>'}</ul>`;
}

export function secretPage(o: {
  row: SecretRow;
  audit: readonly AuditEntry[];
  csrf: string;
  formId: string;
  notice?: string;
}): string {
  const { row } = o;
  const alphabets = Object.keys(ALPHABETS)
    .map((a) => `<option value="${a}"${a === 'alphanumeric' ? ' selected' : ''}>${a}</option>`)
    .join('');
  return `${o.notice ? `<p role="status" class="notice">${esc(o.notice)}</p>` : ''}
<p>${version(row.current)}. keelson's last pass used ${row.keelsonVersion ? `version ${esc(row.keelsonVersion)}` : 'a version it does not report'}.</p>
<section aria-labelledby="consumers-h" aria-live="polite">
<h2 id="consumers-h">Consumers</h2>
<ul class="consumers">${row.consumers
    .map(
      (c) =>
        `<li data-consumer="${esc(c.key)}" data-state="${c.status.state}">${esc(c.label)} ${stateBadge(c.status)}</li>`,
    )
    .join('')}</ul>
</section>
<section aria-labelledby="rotate-h">
<h2 id="rotate-h">Set a new value</h2>
<p>The value is written to the secret store as a new version and never shown again.</p>
<form method="post" action="/secrets/${encodeURIComponent(row.name)}/rotate" autocomplete="off">
<input type="hidden" name="csrf" value="${esc(o.csrf)}">
<input type="hidden" name="form" value="${esc(o.formId)}">
<fieldset>
<legend>How</legend>
<div><input type="radio" id="mode-generated" name="mode" value="generated" checked><label for="mode-generated">Generate a random value</label></div>
<div><input type="radio" id="mode-typed" name="mode" value="typed"><label for="mode-typed">Type a value</label></div>
</fieldset>
<div class="field"><label for="length">Length (${MIN_LENGTH}–${MAX_LENGTH})</label>
<input id="length" name="length" type="number" inputmode="numeric" min="${MIN_LENGTH}" max="${MAX_LENGTH}" value="40"></div>
<div class="field"><label for="alphabet">Alphabet</label><select id="alphabet" name="alphabet">${alphabets}</select></div>
<div class="field"><label for="value">Value (when typing)</label>
<input id="value" name="value" type="password" autocomplete="new-password" spellcheck="false"></div>
<button type="submit">Write new version and reconcile</button>
</form>
</section>
<section aria-labelledby="audit-h">
<h2 id="audit-h">Changes</h2>
${auditTable(o.audit)}
</section>`;
}

export function auditTable(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return '<p>No change recorded yet.</p>';
  return `<div class="table"><table>
<caption>Who changed which secret, newest first (values are never recorded)</caption>
<thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">Secret</th><th scope="col">Version</th><th scope="col">How</th><th scope="col">keelson</th></tr></thead>
<tbody>${entries
    .map(
      (e) =>
        `<tr data-audit-secret="${esc(e.secret)}"><td>${esc(e.at.replace('T', ' ').slice(0, 19))}</td><td>${esc(e.actor)}</td><td>${esc(e.secret)}</td><td>${esc(e.version)}</td><td>${esc(e.how)}</td><td>${esc(e.keelson)}</td></tr>`,
    )
    .join('')}</tbody></table></div>`;
}

export function messagePage(title: string, message: string, link?: { href: string; text: string }): string {
  return layout({
    title,
    body: `<p role="alert">${esc(message)}</p>${link ? `<p><a href="${esc(link.href)}">${esc(link.text)}</a></p>` : ''}`,
  });
}

export const STYLESHEET = `*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;justify-content:space-between;align-items:center;padding:.75rem 1rem;border-bottom:1px solid #ccc}
nav a{margin-right:1rem}
main{max-width:60rem;margin:0 auto;padding:1rem}
a{color:#0645ad}
a:focus,button:focus,input:focus,select:focus{outline:3px solid #1a73e8;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
.secrets,.consumers{list-style:none;padding:0}
.secret{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin-bottom:1rem}
.consumers li{padding:.25rem 0;overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-size:.875rem;border:1px solid}
.ok{background:#e6f4ea;color:#0d652d}.pending{background:#fef7e0;color:#7a4d00}.failed{background:#fce8e6;color:#a50e0e}.unknown{background:#f1f3f4;color:#3c4043}
.error{color:#a50e0e;overflow-wrap:anywhere}
fieldset{border:1px solid #ccc;margin:0 0 1rem}
.field{margin-bottom:1rem}.field label{display:block;font-weight:600}
input,select,button{font:inherit;min-height:44px;max-width:100%}
input[type=radio]{min-height:auto;margin-right:.5rem}
button{padding:.5rem 1rem;border:1px solid #0b57d0;background:#0b57d0;color:#fff;border-radius:4px;cursor:pointer}
.logout button{background:#fff;color:#0b57d0;margin-left:.5rem}
.table{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd}
caption{text-align:left;font-weight:600;padding-bottom:.5rem}
.notice{background:#e8f0fe;padding:.5rem 1rem;border-radius:4px}
.problems{background:#fce8e6;padding:.5rem 1rem}
`;
