/**
 * API requests and wall time of a no-op pass (observe + plan + apply through runPass) against the
 * Google Cloud simulator: the company tree (desired-state/gcp), and 1,000 topics + 1,000
 * subscriptions already in place and owned. Budget: requests grow with pages, not resources.
 * Prints figures; never fails on timing.
 */
import { startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import type { PassResult } from '../reconciler/engine/pass.ts';
import { EngineRig } from '../test/support/engine-rig.ts';

async function converge(rig: EngineRig, settle: () => Promise<void>): Promise<PassResult> {
  for (let i = 0; i < 8; i++) {
    const result = await rig.pass();
    if (result.outcome === 'no-op') return result;
    await settle();
  }
  throw new Error('the tree did not converge in 8 passes');
}

async function measure(
  label: string,
  rig: EngineRig,
  sim: { requests: { method: string; path: string }[] },
): Promise<void> {
  const before = sim.requests.length;
  const t0 = performance.now();
  const result = await rig.pass('apply');
  const ms = performance.now() - t0;
  const calls = sim.requests.slice(before);
  // Resource Manager reads a project's IAM policy with `POST …:getIamPolicy`: a read, not a write.
  const writes = calls.filter((c) => c.method !== 'GET' && !c.path.includes(':getIamPolicy')).length;
  const noop = result.plan.changes.filter((c) => c.action === 'no-op').length;
  console.log(
    `no-op pass, ${label}: ${calls.length} API requests (${writes} writes), ${ms.toFixed(0)} ms, ${noop}/${result.plan.changes.length} no-op, outcome ${result.outcome}`,
  );
}

export async function run(): Promise<void> {
  {
    // The tree creates the (default) database (the simulator's own would be in another location).
    const sim = await startGcpSimulator({
      projectId: 'company-prod',
      runFunctions: false,
      firestoreDefaultDatabase: false,
      requestsPerMinute: 1_000_000,
    });
    try {
      const rig = new EngineRig({ env: sim.env }).copyDesired('gcp').fillSecrets();
      await converge(rig, () => sim.settleOperations());
      await measure('company tree (desired-state/gcp)', rig, sim);
      await rig.registry.provider('gcp')?.close?.();
    } finally {
      await sim.close();
    }
  }
  for (const n of [100, 1000]) {
    const sim = await startGcpSimulator({ projectId: 'bench', runFunctions: false, requestsPerMinute: 1_000_000 });
    try {
      const docs: string[] = [];
      for (let i = 0; i < n; i++) {
        docs.push(`kind: gcp.PubSubTopic\nname: topic-${i}\nspec: {}\n`);
        docs.push(
          `kind: gcp.PubSubSubscription\nname: sub-${i}\nspec:\n  topic: { ref: gcp.PubSubTopic/topic-${i}, output: name }\n`,
        );
      }
      const rig = new EngineRig({ env: sim.env }).write('pubsub.yaml', docs.join('---\n'));
      const t0 = performance.now();
      await converge(rig, () => sim.settleOperations());
      console.log(`created ${n} topics + ${n} subscriptions in ${(performance.now() - t0).toFixed(0)} ms`);
      await measure(`${n} topics + ${n} subscriptions`, rig, sim);
      await rig.registry.provider('gcp')?.close?.();
    } finally {
      await sim.close();
    }
  }
}

if (import.meta.main) await run();
