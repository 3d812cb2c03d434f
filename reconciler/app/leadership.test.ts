import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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
    // An unhealthy holder's lease is marked; a healthy claimant takes it before its expiry, an unhealthy one does not.
    const sick = nextLease(a1.lease, 'a', 5_000, TTL, false);
    expect(sick.lease).toEqual({ holder: 'a', generation: 1, expiresAt: 20_000, unhealthy: true });
    expect(nextLease(sick.lease, 'b', 6_000, TTL, false)).toMatchObject({ acquired: false, lease: sick.lease });
    expect(nextLease(sick.lease, 'b', 6_000, TTL).lease).toEqual({ holder: 'b', generation: 2, expiresAt: 21_000 });
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

describe('a replica whose own engine is gone', () => {
  /** A replica with a health check the test turns on and off (its own Docker Engine). */
  function checked(holder: string): { r: Leadership; engine: { down: string | undefined }; changes: boolean[] } {
    const engine: { down: string | undefined } = { down: undefined };
    const changes: boolean[] = [];
    const r = new Leadership({
      backend: new FileLease(join(dir, 'state.json')),
      holder,
      ttlMs: TTL,
      renewMs: RENEW,
      now: () => clock,
      log: silentLogger,
      health: async () => engine.down,
      onChange: (leader) => changes.push(leader),
    });
    return { r, engine, changes };
  }
  const lease = () => JSON.parse(readFileSync(join(dir, 'state.json.lease'), 'utf8'));
  /** One renewal period later, the given replicas claim in the given order. */
  const round = async (...rs: Leadership[]) => {
    clock += RENEW;
    for (const r of rs) await r.tick();
  };
  const GONE = 'swarm: cannot reach the Docker Engine: connect ECONNREFUSED';

  it('the leader rides out one failed check, yields at the second, and the standby takes over at its next claim', async () => {
    const a = checked('a');
    const b = checked('b');
    await a.r.tick();
    await b.r.tick();
    expect([a.r.isLeader, b.r.isLeader]).toEqual([true, false]);

    a.engine.down = GONE;
    await round(a.r, b.r); // first failed check: renewed as usual, b waits
    expect([a.r.isLeader, b.r.isLeader]).toEqual([true, false]);
    expect(lease()).toEqual({ holder: 'a', generation: 1, expiresAt: clock + TTL });
    expect(a.r.view.unhealthy).toBe(GONE);

    clock += RENEW; // second failed check, a renewal period later: a marks its lease
    await a.r.tick();
    expect(lease()).toEqual({ holder: 'a', generation: 1, expiresAt: clock + TTL, unhealthy: true });
    await b.r.tick(); // the standby's next claim, in the same period, takes it long before its expiry
    expect(b.r.view).toMatchObject({ role: 'leader', leader: 'b', generation: 2 });
    expect(lease()).toEqual({ holder: 'b', generation: 2, expiresAt: clock + TTL });
    // a's writes are fenced from now on; its next claim makes it a standby.
    await expect(a.r.check()).rejects.toBeInstanceOf(LeaseLostError);
    await a.r.tick();
    expect(a.r.view).toMatchObject({ role: 'standby', leader: 'b', unhealthy: GONE });
    expect(a.changes).toEqual([true, false]);

    // While its engine is gone a never takes the lease back, however long it waits.
    for (let i = 0; i < 10; i++) await round(b.r, a.r);
    expect([a.r.isLeader, b.r.isLeader]).toEqual([false, true]);
    // Its engine answers again: a healthy standby; the lease stays with b.
    a.engine.down = undefined;
    await round(b.r, a.r);
    expect(a.r.view).toMatchObject({ role: 'standby', leader: 'b', unhealthy: undefined });
    expect(lease()).toEqual({ holder: 'b', generation: 2, expiresAt: clock + TTL });
  });

  it('does not step down for failures that heal before the next check', async () => {
    const a = checked('a');
    const b = checked('b');
    await a.r.tick();
    for (let i = 0; i < 6; i++) {
      a.engine.down = i % 2 === 0 ? 'swarm: no answer within 3000 ms' : undefined;
      await round(a.r, b.r);
      expect([a.r.isLeader, b.r.isLeader]).toEqual([true, false]);
    }
    expect(lease()).toEqual({ holder: 'a', generation: 1, expiresAt: clock + TTL });
  });

  it('an unhealthy standby never takes the lease from a healthy leader, even one marked by a blip', async () => {
    const a = checked('a');
    const b = checked('b');
    const c = checked('c');
    await a.r.tick();
    b.engine.down = 'swarm: no answer within 5000 ms';
    for (let i = 0; i < 5; i++) await round(a.r, b.r);
    expect([a.r.isLeader, b.r.isLeader]).toEqual([true, false]);
    // a dies: its lease expires. Unhealthy b may take a free lease, marked ...
    clock += TTL;
    await b.r.tick();
    expect(lease()).toMatchObject({ holder: 'b', generation: 2, unhealthy: true });
    // ... and healthy c takes it from b at its next claim.
    await c.r.tick();
    expect(c.r.view).toMatchObject({ role: 'leader', generation: 3 });
    await b.r.tick();
    expect(b.r.isLeader).toBe(false);
  });

  it('alone and unhealthy, it keeps leading (its other providers carry on) and clears the mark when healthy again', async () => {
    const a = checked('a');
    await a.r.tick();
    a.engine.down = GONE;
    for (let i = 0; i < 10; i++) await round(a.r);
    expect(a.r.isLeader).toBe(true);
    expect(a.changes).toEqual([true]);
    expect(lease()).toEqual({ holder: 'a', generation: 1, expiresAt: clock + TTL, unhealthy: true });
    a.engine.down = undefined;
    await round(a.r);
    expect(lease()).toEqual({ holder: 'a', generation: 1, expiresAt: clock + TTL });
    expect(a.r.view.unhealthy).toBeUndefined();
  });

  it('two replicas with their engines gone at once (a cluster-wide blip): the leader keeps the lease', async () => {
    const a = checked('a');
    const b = checked('b');
    await a.r.tick();
    a.engine.down = GONE;
    b.engine.down = GONE;
    for (let i = 0; i < 5; i++) await round(a.r, b.r);
    expect([a.r.isLeader, b.r.isLeader]).toEqual([true, false]);
    b.engine.down = undefined; // b recovers first: it takes over from a, which is still unhealthy
    await round(a.r, b.r);
    expect([b.r.isLeader, lease().generation]).toEqual([true, 2]);
  });

  it('counts a health check that never answers as failed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const changes: boolean[] = [];
      let hang = false;
      const a = new Leadership({
        backend: new FileLease(join(dir, 'state.json')),
        holder: 'a',
        ttlMs: TTL,
        renewMs: RENEW,
        now: () => clock,
        log: silentLogger,
        health: () => (hang ? new Promise<undefined>(() => undefined) : Promise.resolve(undefined)),
        onChange: (leader) => changes.push(leader),
      });
      await a.tick();
      hang = true;
      for (let i = 0; i < 2; i++) {
        clock += RENEW;
        const tick = a.tick();
        await vi.advanceTimersByTimeAsync(RENEW);
        await tick;
      }
      // Still the leader (alone), but its lease is marked for any healthy replica to take.
      expect(a.view).toMatchObject({
        role: 'leader',
        unhealthy: `the health check gave no answer within ${RENEW} ms`,
      });
      expect(JSON.parse(readFileSync(join(dir, 'state.json.lease'), 'utf8')).unhealthy).toBe(true);
      expect(changes).toEqual([true]);
    } finally {
      vi.useRealTimers();
    }
  });
});
