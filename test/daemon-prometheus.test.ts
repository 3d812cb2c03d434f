import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../reconciler/app/daemon.ts';
import { startDriftedDaemon } from './daemon-observed.ts';
import { freePort, until } from './daemon-support.ts';

const PROMETHEUS = '/usr/bin/prometheus';
/** The alert rules shipped for users (monitoring/), loaded into the same Prometheus. */
const RULES = join(import.meta.dirname, '..', 'monitoring', 'keelson.rules.yml');
if (!existsSync(PROMETHEUS))
  console.log(`Prometheus test skipped: ${PROMETHEUS} is missing (apt-get install prometheus)`);

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!existsSync(PROMETHEUS))('real Prometheus scrapes /metrics', () => {
  let daemon: Daemon;
  let prometheus: ChildProcess;
  let api: string;

  beforeAll(async () => {
    const started = await startDriftedDaemon();
    daemon = started.daemon;
    const target = new URL(started.base).host;
    const dir = mkdtempSync(join(tmpdir(), 'keelson-prometheus-'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['${RULES}']\nscrape_configs:\n  - job_name: keelson\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api/v1`;
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
  }, 120_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await until(
        () => prometheus.exitCode !== null || prometheus.signalCode !== null,
        'prometheus to stop',
        30_000,
      ).catch(() => prometheus.kill('SIGKILL'));
    }
    await daemon?.stop();
  });

  const query = async (q: string): Promise<Series[]> => {
    try {
      const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { data?: { result?: Series[] } };
      return body.data?.result ?? [];
    } catch {
      return [];
    }
  };

  it('has every keelson series after a scrape, with the values the daemon reports', async () => {
    await until(async () => (await query('up{job="keelson"} == 1')).length === 1, 'a successful scrape', 90_000);
    const names = (await (await fetch(`${api}/label/__name__/values`)).json()) as { data: string[] };
    for (const name of [
      'keelson_reconcile_passes_total',
      'keelson_reconcile_duration_seconds_bucket',
      'keelson_last_successful_reconcile_timestamp_seconds',
      'keelson_revision_info',
      'keelson_stalled',
      'keelson_desired_resources',
      'keelson_drifted_resources',
      'keelson_drift_detected_total',
      'keelson_apply_actions_total',
      'keelson_provider_api_requests_total',
      'keelson_provider_request_duration_seconds_count',
      'keelson_alerts_sent_total',
      'keelson_desired_state_diagnostics',
      'keelson_source_fetches_total',
    ]) {
      expect(names.data, name).toContain(name);
    }
    const drifted = await query('keelson_drifted_resources{kind="file.Service"}');
    expect(drifted[0]?.value[1]).toBe('1');
    const desired = await query('keelson_desired_resources{kind="file.Service"}');
    expect(desired[0]?.value[1]).toBe('2');
    const created = await query('keelson_apply_actions_total{kind="file.Service",action="create",result="success"}');
    expect(created[0]?.value[1]).toBe('2');
    const revision = await query('keelson_revision_info');
    expect(revision[0]?.metric.applied).toBe(daemon.status.data.revision);
    expect(Number((await query('keelson_last_successful_reconcile_timestamp_seconds'))[0]?.value[1])).toBeGreaterThan(
      0,
    );
  }, 120_000);

  it("evaluates the shipped alert rules on keelson's real series: all healthy, the open drift pending", async () => {
    interface Rule {
      name: string;
      health: string;
      lastError?: string;
      alerts?: { labels: Record<string, string>; state: string }[];
    }
    const rules = async (): Promise<Rule[]> => {
      const res = await fetch(`${api}/rules`);
      const body = (await res.json()) as { data?: { groups?: { rules: Rule[] }[] } };
      return (body.data?.groups ?? []).flatMap((g) => g.rules);
    };
    // Drift under `observe` stays open: KeelsonDriftOpen matches it (pending: it fires after 30 minutes).
    const drift = await until(
      async () => {
        const now = await rules();
        const open = now.find((r) => r.name === 'KeelsonDriftOpen')?.alerts ?? [];
        // every rule evaluated at least once (health leaves "unknown")
        return open.length > 0 && now.every((r) => r.health !== 'unknown') ? open : undefined;
      },
      'KeelsonDriftOpen to be pending',
      90_000,
    );
    expect(drift.map((a) => [a.labels.kind, a.state])).toEqual([['file.Service', 'pending']]);
    const all = await rules();
    expect(all.length).toBeGreaterThanOrEqual(10);
    expect(all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    // A healthy daemon: not stalled, not down.
    for (const name of ['KeelsonStalled', 'KeelsonDown', 'KeelsonPassErrors'])
      expect(all.find((r) => r.name === name)?.alerts ?? [], name).toEqual([]);
  }, 120_000);
});
