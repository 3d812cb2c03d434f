import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStateStore } from './file-store.ts';
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
});
