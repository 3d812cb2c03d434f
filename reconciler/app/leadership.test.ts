import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../providers/sdk/testing.ts';
import { FileLease } from '../state/file-lease.ts';
import { FileStateStore } from '../state/file-store.ts';
import { nextLease } from '../state/lease.ts';
import { emptyState } from '../state/types.ts';
import { fencedStore, Leadership, LeaseLostError } from './leadership.ts';

const TTL = 15_000;
const RENEW = 5_000;
let dir = '';
let clock = 0;

function replica(holder: string, statePath = join(dir, 'state.json')): Leadership {
  return new Leadership({
    backend: new FileLease(statePath),
    holder,
    ttlMs: TTL,
    renewMs: RENEW,
    now: () => clock,
    log: silentLogger,
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keelson-lease-'));
  clock = 1_000_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the claim rule', () => {
  it('keeps the generation on renewal and raises it on every change of hands or expiry', () => {
    const a1 = nextLease(undefined, 'a', 0, TTL);
    expect(a1).toMatchObject({ acquired: true, lease: { holder: 'a', generation: 1, expiresAt: TTL } });
    expect(nextLease(a1.lease, 'a', 5_000, TTL).lease).toEqual({ holder: 'a', generation: 1, expiresAt: 20_000 });
    expect(nextLease(a1.lease, 'b', 5_000, TTL)).toMatchObject({ acquired: false, changed: false, lease: a1.lease });
    expect(nextLease(a1.lease, 'b', TTL, TTL).lease).toEqual({ holder: 'b', generation: 2, expiresAt: 2 * TTL });
    // The holder itself coming back after its lease lapsed gets a new generation: its old pass is fenced off.
    expect(nextLease(a1.lease, 'a', TTL + 1, TTL).lease?.generation).toBe(2);
  });
});

describe('leadership on the file store', () => {
  it('elects one leader; the standby takes over only after the dead leader’s lease expired', async () => {
    const a = replica('a');
    const b = replica('b');
    await a.tick();
    await b.tick();
    expect([a.view.role, b.view.role]).toEqual(['leader', 'standby']);
    expect(b.view).toMatchObject({ leader: 'a', generation: 1, expiresAt: clock + TTL });

    // a renews on time: b stays standby however long it waits.
    for (let i = 0; i < 5; i++) {
      clock += RENEW;
      await a.tick();
      await b.tick();
      expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    }
    // a dies (no more renewals): just before expiry b still waits, at expiry it takes over.
    clock += TTL - 1;
    await b.tick();
    expect(b.isLeader).toBe(false);
    clock += 1;
    await b.tick();
    expect(b.view).toMatchObject({ role: 'leader', leader: 'b', generation: 2 });
    expect(a.isLeader).toBe(false);
  });

  it('fences a leader that lost the lease: its state write is refused and nothing is written', async () => {
    const statePath = join(dir, 'state.json');
    const a = replica('a');
    const b = replica('b');
    await a.tick();
    const store = fencedStore(new FileStateStore(statePath), a);
    await store.save(emptyState());
    expect(existsSync(statePath)).toBe(true);
    const before = readFileSync(statePath, 'utf8');

    // a stalls past its expiry (a long GC pause, a frozen VM); b takes over meanwhile.
    clock += TTL;
    await b.tick();
    expect(b.isLeader).toBe(true);
    const changed = {
      ...emptyState(),
      runs: [{ revision: 'x', startedAt: '', durationMs: 0, result: 'success' as const, summary: '' }],
    };
    await expect(store.save(changed)).rejects.toBeInstanceOf(LeaseLostError);
    expect(readFileSync(statePath, 'utf8')).toBe(before);
    expect(a.isLeader).toBe(false);
  });

  it('refuses a write when too little of the lease is left to finish it before a standby may take over', async () => {
    const a = replica('a');
    await a.tick();
    clock += TTL - RENEW; // exactly renewMs left: not enough
    await expect(a.check()).rejects.toThrow(/lost the lease/);
  });

  it('gives the lease up on stop, so the standby takes over at once', async () => {
    const a = replica('a');
    const b = replica('b');
    await a.tick();
    await b.tick();
    await a.stop();
    await b.tick();
    expect(b.view).toMatchObject({ role: 'leader', generation: 2 });
  });

  it('lets exactly one of many replicas claiming at the same moment win', async () => {
    const replicas = ['a', 'b', 'c', 'd', 'e'].map((h) => replica(h));
    await Promise.all(replicas.map((r) => r.tick()));
    expect(replicas.filter((r) => r.isLeader)).toHaveLength(1);
    const lease = JSON.parse(readFileSync(join(dir, 'state.json.lease'), 'utf8'));
    expect(lease.generation).toBe(1);
    expect(existsSync(join(dir, 'state.json.lease.lock'))).toBe(false);
  });

  it('names a damaged lease file and what to do', async () => {
    const a = replica('a');
    await a.tick();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'state.json.lease'), '{"holder": 3}');
    await expect(new FileLease(join(dir, 'state.json')).read()).rejects.toThrow(
      /state\.json\.lease is damaged.*remove it/,
    );
  });
});
