import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStateStore, KEPT_STATES } from './file-store.ts';
import { emptyState } from './types.ts';

const path = () => join(mkdtempSync(join(tmpdir(), 'keelson-state-')), 'sub', 'state.json');

describe('FileStateStore', () => {
  it('starts empty when there is no file, and reads back what it saved', async () => {
    const store = new FileStateStore(path());
    expect(await store.load()).toEqual(emptyState());
    const data = {
      ...emptyState(),
      runs: [{ revision: 'r', startedAt: 's', durationMs: 1, result: 'success' as const, summary: 'x' }],
    };
    await store.save(data);
    expect(await new FileStateStore(store.path).load()).toEqual(data);
  });

  it('a write interrupted before its rename (a torn temporary file) leaves the last saved state intact', async () => {
    const store = new FileStateStore(path());
    await store.save({ ...emptyState(), journal: {} });
    // What a crash in the middle of writing leaves behind: half a JSON document in the temporary file.
    writeFileSync(`${store.path}.${process.pid}.tmp`, '{"version":1,"journ');
    expect(await store.load()).toEqual(emptyState());
    await store.save(emptyState());
    expect(existsSync(`${store.path}.${process.pid}.tmp`)).toBe(false);
    expect(JSON.parse(readFileSync(store.path, 'utf8')).version).toBe(1);
  });

  it('refuses a corrupt state file with a message that says what to do', async () => {
    const store = new FileStateStore(path());
    await store.save(emptyState());
    writeFileSync(store.path, '{not json');
    await expect(store.load()).rejects.toThrow(/not valid JSON.*move it aside/);
  });

  const valid = () => ({
    ...emptyState(),
    inventory: { 'cloudflare.R2Bucket/b': { key: 'cloudflare.R2Bucket/b', kind: 'cloudflare.R2Bucket', id: 'b' } },
  });
  it.each([
    [
      'a state without an inventory (keelson would forget what it owns)',
      { ...valid(), inventory: undefined },
      /inventory: expected an object of records, found nothing/,
    ],
    [
      'null sections',
      { ...valid(), applied: null, journal: null },
      /applied: expected an object of records, found null.*journal/,
    ],
    [
      'an inventory entry that is not a record',
      { ...valid(), inventory: { x: 5 } },
      /inventory\["x"\]: expected an object, found 5/,
    ],
    [
      'an inventory entry without its id',
      { ...valid(), inventory: { x: { key: 'x', kind: 'k' } } },
      /inventory\["x"\]\.id: expected a string/,
    ],
    ['runs that are not a list', { ...valid(), runs: {} }, /runs: expected a list, found an object/],
    ['an unknown version', { ...valid(), version: 2 }, /version: expected 1, found 2/],
  ])('refuses %s, naming the file and the field, and never writes over it', async (_why, data, message) => {
    const store = new FileStateStore(path());
    mkdirSync(dirname(store.path), { recursive: true });
    const text = JSON.stringify(data);
    writeFileSync(store.path, text);
    await expect(store.load()).rejects.toThrow(message);
    await expect(store.load()).rejects.toThrow(store.path);
    // Whoever uses the store loads before saving: nothing replaced the damaged file.
    expect(readFileSync(store.path, 'utf8')).toBe(text);
  });

  it('accepts every section keelson writes, the optional ones included', async () => {
    const store = new FileStateStore(path());
    const full = {
      ...valid(),
      unstable: { k: { digest: 'd', fields: ['a'], at: 't' } },
      lastGood: { revision: 'abc', at: 't' },
      healed: { k: { fingerprint: 'f', at: 't' } },
      outbox: { webhook: [{ id: 'i', alert: {}, queuedAt: 't' }] },
    };
    await store.save(full as never);
    expect(await store.load()).toEqual(full);
  });

  it('keeps the last few states beside the file', async () => {
    const store = new FileStateStore(path());
    for (let i = 0; i < KEPT_STATES + 2; i++) {
      await store.save({
        ...emptyState(),
        runs: [{ revision: `r${i}`, startedAt: 's', durationMs: 1, result: 'success', summary: '' }],
      });
    }
    const revision = (file: string) => JSON.parse(readFileSync(file, 'utf8')).runs[0].revision;
    expect(revision(store.path)).toBe(`r${KEPT_STATES + 1}`);
    for (let i = 1; i <= KEPT_STATES; i++) expect(revision(`${store.path}.${i}`)).toBe(`r${KEPT_STATES + 1 - i}`);
    expect(existsSync(`${store.path}.${KEPT_STATES + 1}`)).toBe(false);
  });

  it("a read-only state file is an error, not replaced behind its owner's back", async () => {
    const store = new FileStateStore(path());
    await store.save(valid());
    chmodSync(store.path, 0o444);
    const before = readFileSync(store.path, 'utf8');
    await expect(store.save(emptyState())).rejects.toThrow(/read-only; keelson does not replace it/);
    expect(readFileSync(store.path, 'utf8')).toBe(before);
  });
});
