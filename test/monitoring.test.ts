import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { KeelsonMetrics } from '../reconciler/observability/metrics.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { listenerMetrics } from '../services/mongo-listener/src/metrics.ts';
import { syncMetrics } from '../services/sync-app/src/metrics.ts';

// monitoring/: the alert rules (checked and unit-tested with Debian's promtool), the Grafana
// dashboard, and the Netdata chart's scrape jobs, against the metrics keelson and the services export.
const root = join(import.meta.dirname, '..');
const dir = join(root, 'monitoring');
const PROMTOOL = '/usr/bin/promtool';
if (!existsSync(PROMTOOL)) console.log(`promtool checks skipped: ${PROMTOOL} is missing (apt-get install prometheus)`);

async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const registry of [new KeelsonMetrics().registry, listenerMetrics().registry, syncMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
  }
  return names.add('up');
}

/** Metric names in a PromQL expression (identifiers followed by `{`, `[`, `)` or an operator, not functions or labels). */
function metricsIn(expr: string): string[] {
  const noStrings = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}');
  const words = [...noStrings.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((m) => m[1] as string);
  const keywords = new Set(['by', 'without', 'and', 'or', 'unless', 'on', 'ignoring', 'bool', 'le', 'offset']);
  return words.filter((w) => (!keywords.has(w) && /_/.test(w)) || w === 'up');
}

const rules = parse(readFileSync(join(dir, 'keelson.rules.yml'), 'utf8')) as {
  groups: { name: string; rules: { alert: string; expr: string }[] }[];
};
const dashboard = JSON.parse(readFileSync(join(dir, 'grafana-keelson.json'), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};
const dashboardExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));

describe('monitoring/: alert rules and dashboard', () => {
  it('ships the alerts a user wants', () => {
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    for (const name of [
      'KeelsonDown',
      'KeelsonStalled',
      'KeelsonDriftOpen',
      'KeelsonPassErrors',
      'KeelsonRateBudgetLow',
      'KeelsonLeaseLost',
      'KeelsonReplicaUnhealthy',
    ])
      expect(alerts).toContain(name);
  });

  it('uses only metrics keelson, the listener and the Sync App export', async () => {
    const names = await exported();
    const used = new Set([
      ...rules.groups.flatMap((g) => g.rules.flatMap((r) => metricsIn(r.expr))),
      ...dashboardExprs.flatMap((e) => metricsIn(e.expr)),
    ]);
    expect(used.size).toBeGreaterThan(12);
    const unknown = [...used].filter((n) => !names.has(n));
    expect(unknown).toEqual([]);
  });

  it.skipIf(!existsSync(PROMTOOL))(
    'the rules pass promtool check rules and their unit tests (promtool test rules)',
    () => {
      expect(execFileSync(PROMTOOL, ['check', 'rules', 'keelson.rules.yml'], { cwd: dir, encoding: 'utf8' })).toMatch(
        /SUCCESS: \d+ rules found/,
      );
      expect(
        execFileSync(PROMTOOL, ['test', 'rules', 'keelson.rules.test.yml'], { cwd: dir, encoding: 'utf8' }),
      ).toMatch(/SUCCESS/);
    },
  );

  it.skipIf(!existsSync(PROMTOOL))(
    "the dashboard's queries are valid PromQL (promtool parses them as recording rules)",
    () => {
      const tmp = mkdtempSync(join(tmpdir(), 'keelson-dashboard-'));
      const file = join(tmp, 'dashboard.rules.yml');
      const recording = dashboardExprs.map((e, i) => ({ record: `dashboard:panel_${i}`, expr: e.expr }));
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: recording }] }));
      expect(execFileSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' })).toContain(
        `SUCCESS: ${recording.length} rules found`,
      );
    },
  );

  it('a broken rule is caught (the checks above can fail)', () => {
    if (!existsSync(PROMTOOL)) return void console.log('skipped: no promtool');
    const tmp = mkdtempSync(join(tmpdir(), 'keelson-rules-'));
    writeFileSync(
      join(tmp, 'bad.yml'),
      'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(keelson_stalled\n',
    );
    expect(() => execFileSync(PROMTOOL, ['check', 'rules', join(tmp, 'bad.yml')], { stdio: 'pipe' })).toThrow();
  });
});

describe("the Netdata chart's scrape jobs, as the company's tree renders them", () => {
  const registry = new ProviderRegistry(builtinModules);
  const loaded = loadDesiredState(join(root, 'desired-state'), registry, { root });
  const config = loaded.resources.find((r) => r.key === 'swarm.Config/netdata_prometheus_jobs');
  const services = loaded.resources.filter((r) => r.kind === 'swarm.Service');

  it("scrape keelson, the listener and the Sync App at the port each one's /metrics listens on", () => {
    const data = config?.spec.data;
    expect(typeof data).toBe('string');
    const jobs = (parse(String(data)) as { jobs: { name: string; url: string }[] }).jobs;
    expect(jobs.map((j) => j.name)).toEqual(['keelson', 'mongo-listener', 'sync-app']);
    for (const job of jobs) {
      const url = new URL(job.url);
      expect(url.pathname).toBe('/metrics');
      // The host is a service of the tree, on the monitoring network Netdata is on, with its HTTP port there.
      const service = services.find((s) => s.name === url.hostname);
      expect(service, `${job.name}: no service ${url.hostname}`).toBeDefined();
      const text = JSON.stringify(service?.spec);
      expect(text, `${job.name}: not on netdata_monitoring`).toContain('netdata_monitoring');
      expect(text, `${job.name}: port ${url.port}`).toMatch(new RegExp(`"(KEELSON_)?HTTP_PORT":"${url.port}"`));
    }
  });
});
