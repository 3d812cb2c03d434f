import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GcpProvider } from '../providers/gcp/index.ts';
import { FakeClock, type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import { EngineRig } from './support/engine-rig.ts';

// The company's daily backup wiring, as keelson deploys it from desired-state/gcp: the Scheduler job
// fires at 03:00 Berlin time with an OIDC token of scheduler-invoker for the backup function's URL;
// Cloud Run's front door lets it through (gcp.IamBinding backup-invokers: allUsers may invoke, the
// backup server has no Google identity), and the function (functions/backup) checks the token itself,
// accepts it and records the day's run in Firestore. (The run
// itself fails further on: there is no Hetzner API here; that flow is tested with its own rigs.)
// Time is the simulator's fake clock, moved in explicit steps.
let sim: GcpSimulator;
let rig: EngineRig;
const PROJECT = 'company-prod';

beforeAll(async () => {
  // 01:50 UTC on a January Monday is 02:50 in Berlin.
  sim = await startGcpSimulator({
    projectId: PROJECT,
    clock: new FakeClock(Date.UTC(2026, 0, 5, 1, 50, 0)),
    firestoreDefaultDatabase: false,
  });
  rig = new EngineRig({ env: sim.env }).copyDesired('gcp').fillSecrets();
});
afterAll(async () => {
  await rig?.registry.provider('gcp')?.close?.();
  await sim?.close();
});

describe('the daily backup job, deployed by keelson', { timeout: 120_000 }, () => {
  it('fires at 03:00 Berlin and reaches the backup function as scheduler-invoker', async () => {
    for (let i = 0; i < 6; i++) {
      const result = await rig.pass();
      if (result.outcome === 'no-op') break;
      await sim.settleOperations();
    }
    const gcp = rig.registry.provider('gcp') as GcpProvider;
    // The function checks its token's audience against its own URL: Google's deterministic URL in
    // desired-state/gcp, the simulator's here.
    const [fn] = (await gcp.api.clients.functions().getFunction({
      name: `projects/${PROJECT}/locations/europe-west3/functions/backup`,
    })) as [{ url: string }];
    rig.write(
      'gcp/functions.yaml',
      rig
        .read('gcp/functions.yaml')
        .replace(/BACKUP_OIDC_AUDIENCE: .*/, `BACKUP_OIDC_AUDIENCE: ${fn.url}`)
        .replace(/BACKUP_REPORT_URL: .*/, `BACKUP_REPORT_URL: ${fn.url}/report`),
    );
    expect((await rig.pass()).errors).toEqual([]);
    await sim.settleOperations();
    const scheduler = gcp.api.clients.scheduler();
    const name = `projects/${PROJECT}/locations/europe-west3/jobs/daily-backup`;
    const [before] = (await scheduler.getJob({ name })) as [{ lastAttemptTime?: unknown }];
    expect(before.lastAttemptTime ?? null).toBeNull();
    await sim.advance(15 * 60_000);
    const [job] = (await scheduler.getJob({ name })) as [
      { lastAttemptTime?: unknown; status?: { code?: number; message?: string } },
    ];
    expect(job.lastAttemptTime).toBeTruthy();
    // Neither the front door nor the function refused the caller.
    expect(['HTTP 401', 'HTTP 403']).not.toContain(job.status?.message);
    // The function recorded the run (its id is the function's own date: it does not read the fake clock).
    const runs = await fetch(`${sim.url}/v1/projects/${PROJECT}/databases/(default)/documents/backup-runs`, {
      headers: { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}` },
    });
    const { documents } = (await runs.json()) as { documents?: { name: string }[] };
    expect(documents?.length).toBe(1);
    expect(sim.functionLogs('backup').join('\n')).toMatch(/backup \d{4}-\d{2}-\d{2} \(\w+\) started/);
  });
});
