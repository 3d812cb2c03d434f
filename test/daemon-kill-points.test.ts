import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { heldMarker, readCloud } from './daemon-file-cloud.ts';
import { fileCloudDaemon, TestRepo, until } from './daemon-support.ts';

/**
 * kill -9 of `keelson serve` at several points of an apply, then a restart on the same state and
 * the same file-backed cloud. The daemon is held at a named point (the fake cloud's `hold`: it
 * writes a marker and never goes on), so each kill lands at a known state, never after a guessed
 * duration. Why the expected result is right: the create journal is written before every create
 * and cleared after it, the state is saved after every change, and a restart observes before it
 * plans, so whatever the kill interrupted is found as it is at the vendor: nothing is created
 * twice, nothing is lost, a delete that was cut short is finished, and the recovery pass is clean
 * (no warning at all: no UNSTABLE_FIELD, no CONFLICT_UNOWNED, no CREATE_UNFINISHED).
 */
const service = (name: string, dependsOn?: string) =>
  `kind: file.Service\nname: ${name}\n${dependsOn ? `dependsOn: [file.Service/${dependsOn}]\n` : ''}spec:\n  image: keelson-test/busybox:1\n  replicas: 1\n---\n`;
/** Three waves: a, then b, then c. */
const THREE = service('a') + service('b', 'a') + service('c', 'b');
const TWO = service('a') + service('b', 'a');

interface Row {
  readonly point: string;
  /** What the kill interrupts. */
  readonly what: string;
  /** Converge THREE first, then push TWO (the kill lands in the delete of c). */
  readonly deleting?: boolean;
  /** The cloud when the daemon is killed. */
  readonly atKill: readonly string[];
}

const ROWS: readonly Row[] = [
  { point: 'before-create:a', what: 'before the create request (journal written)', atKill: [] },
  { point: 'after-create:a', what: 'after the create, before the journal is cleared', atKill: ['a'] },
  { point: 'before-create:b', what: 'between waves (a recorded, b not sent)', atKill: ['a'] },
  { point: 'after-create:c', what: 'after the last wave’s create', atKill: ['a', 'b', 'c'] },
  { point: 'before-delete:c', what: 'before a delete request', deleting: true, atKill: ['a', 'b', 'c'] },
  { point: 'after-delete:c', what: 'after a delete, before it is recorded', deleting: true, atKill: ['a', 'b'] },
];

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('kill -9 at several points of an apply', () => {
  for (const row of ROWS) {
    it(`${row.point} (${row.what}): restarts with zero duplicates, zero lost, zero warnings`, async () => {
      const repo = new TestRepo();
      const { cloud, statePath, start, converged, stop } = await fileCloudDaemon(repo, 'keelson-kill', children);

      let sha = repo.push({ 'desired-state/services.yaml': THREE });
      if (row.deleting) {
        const before = start();
        await converged(sha);
        await stop(before);
        sha = repo.push({ 'desired-state/services.yaml': TWO });
      }
      const held = start(row.point);
      await until(() => existsSync(heldMarker(cloud)), `the daemon to reach ${row.point}`, 90_000);
      expect(
        readCloud(cloud)
          .map((i) => i.name)
          .sort(),
      ).toEqual(row.atKill);
      held.kill('SIGKILL');
      await until(() => held.signalCode === 'SIGKILL', 'the daemon to die');

      const second = start();
      const final = await converged(sha);
      const names = readCloud(cloud)
        .map((i) => i.name)
        .sort();
      expect(names).toEqual(row.deleting ? ['a', 'b'] : ['a', 'b', 'c']);
      expect(final.lastErrors).toEqual([]);
      const state = JSON.parse(readFileSync(statePath, 'utf8'));
      expect(state.journal).toEqual({});
      expect(state.unstable ?? {}).toEqual({});
      expect(Object.keys(state.applied).sort()).toEqual(names.map((n) => `file.Service/${n}`));
      await stop(second);
      expect(second.exitCode).toBe(0);
    }, 240_000);
  }
});
