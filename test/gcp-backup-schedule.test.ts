import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GcpProvider } from '../providers/gcp/index.ts';
import { FakeClock, type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import { EngineRig } from './support/engine-rig.ts';

// The company's daily backup wiring, as keelson deploys it from desired-state/gcp: the Scheduler job
// fires at 03:00 Berlin time with an OIDC token of scheduler-invoker for the backup function's URL,
// and Cloud Run's front door lets it through because of the gcp.IamBinding backup-invokers. The
// function is still the placeholder (it answers 501), so the job's last attempt records HTTP 501:
// the request reached the code. Time is the simulator's fake clock, moved in explicit steps.
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
    const scheduler = (rig.registry.provider('gcp') as GcpProvider).api.clients.scheduler();
    const name = `projects/${PROJECT}/locations/europe-west3/jobs/daily-backup`;
    const [before] = (await scheduler.getJob({ name })) as [{ lastAttemptTime?: unknown }];
    expect(before.lastAttemptTime ?? null).toBeNull();
    await sim.advance(15 * 60_000);
    const [job] = (await scheduler.getJob({ name })) as [
      { lastAttemptTime?: unknown; status?: { code?: number; message?: string } },
    ];
    expect(job.lastAttemptTime).toBeTruthy();
    // Not 401/403 from the front door: the placeholder's own 501.
    expect(job.status?.message).toBe('HTTP 501');
  });
});
