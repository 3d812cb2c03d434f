import { describe, expect, it } from 'vitest';
import { renderStatusPage } from '../http/status-page.ts';
import { statusView } from '../http/status-view.ts';
import { DaemonStatus } from '../loop/daemon-status.ts';
import { loadConfig } from './load-config.ts';

const load = (links: string) =>
  loadConfig({ env: { KEELSON_SOURCE_URL: 'file:///srv/repo.git', KEELSON_STATUS_LINKS: links }, cwd: '/work' });

describe('http.links (KEELSON_STATUS_LINKS)', () => {
  it('reads Label=URL entries, comma-separated', () => {
    const r = load('Secrets UI=http://localhost:3000/, Runbook=https://wiki.example.com/keelson?a=b');
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.http.links).toEqual([
      { label: 'Secrets UI', url: 'http://localhost:3000/' },
      { label: 'Runbook', url: 'https://wiki.example.com/keelson?a=b' },
    ]);
  });

  it('refuses an entry without a label or with a URL that is not http(s), naming the entry', () => {
    for (const bad of ['http://localhost:3000/', '=http://x/', 'UI=javascript:alert(1)', 'UI=not a url']) {
      const r = load(bad);
      expect(r.ok, bad).toBe(false);
      if (r.ok) continue;
      expect(r.problems[0]).toMatchObject({ key: 'http.links' });
      expect(r.problems[0]?.message).toContain(JSON.stringify(bad));
    }
  });

  it('the status page shows them, escaped', () => {
    const status = new DaemonStatus('apply');
    status.update({ links: [{ label: 'Secrets <UI>', url: 'http://localhost:3000/?a=1&b=2' }] });
    expect(renderStatusPage(statusView(status.data))).toContain(
      '<a href="http://localhost:3000/?a=1&amp;b=2">Secrets &lt;UI&gt;</a>',
    );
  });
});
