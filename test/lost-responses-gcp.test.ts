import { describe, expect, it } from 'vitest';
import { type GcpSimulator, startGcpSimulator } from '../providers/gcp/simulator/index.ts';
import type { PassResult } from '../reconciler/engine/pass.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * Lost responses, one row per Google Cloud create of a small tree (the simulator's `drop-response`:
 * the request is carried out, then the connection is cut before the answer). Why the expected
 * result is right: as for Hetzner and Cloudflare, keelson must find what it made by name, labels
 * or (Scheduler jobs, which carry no labels) its create journal, never create it twice nor refuse
 * it as CONFLICT_UNOWNED, and finish a create that has a second step (a secret's first version).
 */
const TREE = `kind: gcp.PubSubTopic
name: lost-events
spec:
  messageRetentionDuration: 604800s
---
kind: gcp.PubSubSubscription
name: lost-events-copy
spec:
  topic: { ref: gcp.PubSubTopic/lost-events, output: name }
  ackDeadlineSeconds: 60
---
kind: gcp.SecretManagerSecret
name: lost-key
spec:
  value: { secretRef: lost-key }
---
kind: gcp.ServiceAccount
name: lost-invoker
spec:
  displayName: Lost invoker
---
kind: gcp.SchedulerJob
name: lost-job
spec:
  schedule: '0 3 * * *'
  httpTarget:
    uri: https://hooks.example.com/backup
    oidcToken:
      serviceAccountEmail: { ref: gcp.ServiceAccount/lost-invoker, output: email }
`;

const ROWS: readonly { readonly kind: string; readonly method: string; readonly path: RegExp }[] = [
  { kind: 'gcp.PubSubTopic', method: 'PUT', path: /\/topics\/lost-events$/ },
  { kind: 'gcp.PubSubSubscription', method: 'PUT', path: /\/subscriptions\/lost-events-copy$/ },
  { kind: 'gcp.SecretManagerSecret', method: 'POST', path: /\/secrets$/ },
  { kind: 'gcp.SecretManagerSecret (addVersion)', method: 'POST', path: /:addVersion$/ },
  { kind: 'gcp.ServiceAccount', method: 'POST', path: /\/serviceAccounts$/ },
  { kind: 'gcp.SchedulerJob', method: 'POST', path: /\/jobs$/ },
];

async function converge(rig: EngineRig, sim: GcpSimulator): Promise<{ passes: PassResult[]; last: PassResult }> {
  const passes: PassResult[] = [];
  for (let i = 0; i < 6; i++) {
    const result = await rig.pass();
    passes.push(result);
    if (result.outcome === 'no-op') return { passes, last: result };
    await sim.settleOperations();
  }
  throw new Error(
    `no no-op pass after 6 passes: ${passes.map((p) => p.errors.map((e) => `${e.code} ${e.message}`).join(', ')).join(' | ')}`,
  );
}

const names = (records: Record<string, unknown>) => Object.keys(records).map((k) => k.split('/').at(-1));

describe('a lost create answer at Google Cloud, for every kind of a small tree', { timeout: 120_000 }, () => {
  for (const row of ROWS) {
    it(`${row.kind}: recovered with no duplicate, nothing lost, no spurious warning`, async () => {
      const sim = await startGcpSimulator({ projectId: 'lost-prod', runFunctions: false });
      const rig = new EngineRig({ env: sim.env, retry: { attempts: 4, baseDelayMs: 20, maxDelayMs: 200 } }).write(
        'gcp.yaml',
        TREE,
      );
      rig.secrets = { 'lost-key': 'short' };
      try {
        sim.faults.inject({ type: 'drop-response', match: { method: row.method, path: row.path } });
        const { passes, last } = await converge(rig, sim);
        expect(sim.faults.remaining()).toBe(0);
        const codes = passes.flatMap((p) => p.errors.map((e) => e.code));
        expect(codes).not.toContain('CONFLICT_UNOWNED');
        expect(codes).not.toContain('UNSTABLE_FIELD');
        expect(last.errors).toEqual([]);
        const d = sim.state.data;
        expect(names(d.topics)).toEqual(['lost-events']);
        expect(names(d.subscriptions)).toEqual(['lost-events-copy']);
        expect(names(d.secrets)).toEqual(['lost-key']);
        // One enabled version holding the value: a lost answer never adds a second.
        expect(Object.keys(d.secretVersions)).toHaveLength(1);
        expect(Object.keys(d.serviceAccounts)).toHaveLength(1);
        expect(names(d.jobs)).toEqual(['lost-job']);
        const data = await rig.store.load();
        expect(data.journal).toEqual({});
        expect(data.unstable ?? {}).toEqual({});
        expect(Object.keys(data.inventory)).toContain('gcp.SchedulerJob/lost-job');
      } finally {
        await rig.registry.provider('gcp')?.close?.();
        await sim.close();
        rig.close();
      }
    });
  }
});
