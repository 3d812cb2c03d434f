import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CloudflareTestRig, startCloudflareRig } from '../providers/cloudflare/testing.ts';
import { FileStateStore } from '../reconciler/state/file-store.ts';
import { KEYED_PREFIX } from '../reconciler/state/keyed-digests.ts';
import type { StateStore } from '../reconciler/state/types.ts';
import { EngineRig } from './support/engine-rig.ts';

/**
 * Keyed digests in the state. Why the expected result is right: a bare sha256 of a secret (or of a
 * spec that holds one) lets whoever reads the state file test guesses of a short secret offline;
 * an HMAC with the per-installation key, kept outside the state, does not. An older state with
 * bare digests must not look like a change: the upgrade re-records the digests and touches nothing
 * at the vendor (no drift, no re-uploaded secret).
 */
const SECRETS = { 'aircall-webhook-token': 'tok', 'gcp-workers-service-account': '{"k":"short"}' };
const TREE = `kind: cloudflare.WorkerScript
name: aircall-webhook
spec:
  source: workers/aircall-webhook
  compatibilityDate: '2024-09-23'
  vars:
    GCP_PROJECT: company-prod
  secrets:
    AIRCALL_WEBHOOK_TOKEN: { secretRef: aircall-webhook-token }
    GCP_SERVICE_ACCOUNT_KEY: { secretRef: gcp-workers-service-account }
---
kind: cloudflare.DnsRecord
name: api
spec:
  zone: example.com
  name: api
  type: A
  content: 203.0.113.10
`;

/** Every bare sha256 of a secret value (and its 16-character prefix) found in the state file. */
function bareDigestsIn(text: string): string[] {
  return Object.values(SECRETS).flatMap((v) => {
    const hex = createHash('sha256').update(v).digest('hex');
    return [hex, hex.slice(0, 16)].filter((h) => text.includes(h));
  });
}

let cf: CloudflareTestRig;
let rig: EngineRig;
beforeEach(async () => {
  cf = await startCloudflareRig();
  rig = new EngineRig({ providers: [cf.provider] }).write('cloudflare.yaml', TREE);
  rig.secrets = { ...SECRETS };
});
afterEach(async () => {
  await cf.close();
  rig.close();
});

describe('digests in the state are keyed', { timeout: 120_000 }, () => {
  it('a state file holds no bare sha256 of any secret value used in a pass', async () => {
    const first = await rig.pass();
    expect(first.errors).toEqual([]);
    const text = readFileSync(join(rig.dir, 'state.json'), 'utf8');
    expect(bareDigestsIn(text)).toEqual([]);
    const state = JSON.parse(text);
    const applied = Object.values(state.applied) as { digest: string }[];
    expect(applied.length).toBe(2);
    expect(applied.every((a) => a.digest.startsWith(KEYED_PREFIX))).toBe(true);
    const script = state.inventory['cloudflare.WorkerScript/aircall-webhook'];
    expect(Object.values(script.data.secrets as Record<string, string>).every((d) => d.startsWith(KEYED_PREFIX))).toBe(
      true,
    );
    // The key is outside the state, beside it.
    expect(readFileSync(join(rig.dir, 'installation.key')).length).toBe(32);
    // Keyed digests compare as before: the next pass writes nothing.
    const writes = cf.sim.writes();
    expect((await rig.pass()).outcome).toBe('no-op');
    expect(cf.sim.writes()).toBe(writes);
    // A changed secret is still seen (the keyed digest of the old value matches nothing).
    rig.secrets['aircall-webhook-token'] = 'tok-2';
    const rotated = await rig.pass();
    expect(rotated.plan.changes.find((c) => c.key === 'cloudflare.WorkerScript/aircall-webhook')?.action).toBe(
      'update',
    );
  });

  it('an older state with bare digests migrates without drift or re-applying anything', async () => {
    // The state as keelson wrote it before keyed digests: a store with no key gives bare sha256.
    const file = new FileStateStore(join(rig.dir, 'state.json'));
    const legacy: StateStore = { load: () => file.load(), save: (d) => file.save(d) };
    rig.store = legacy;
    expect((await rig.pass()).errors).toEqual([]);
    const before = readFileSync(join(rig.dir, 'state.json'), 'utf8');
    expect(bareDigestsIn(before).length).toBeGreaterThan(0);

    rig.store = new FileStateStore(join(rig.dir, 'state.json'));
    const writes = cf.sim.writes();
    const upgraded = await rig.pass();
    expect(upgraded.errors).toEqual([]);
    expect(upgraded.outcome).toBe('no-op');
    expect(upgraded.plan.drift).toEqual([]);
    expect(cf.sim.writes()).toBe(writes);
    const after = readFileSync(join(rig.dir, 'state.json'), 'utf8');
    expect(bareDigestsIn(after)).toEqual([]);
    const applied = Object.values(JSON.parse(after).applied) as { digest: string }[];
    expect(applied.every((a) => a.digest.startsWith(KEYED_PREFIX))).toBe(true);
    expect((await rig.pass()).outcome).toBe('no-op');
    expect(cf.sim.writes()).toBe(writes);
  });
});
