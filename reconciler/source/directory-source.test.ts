import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectorySource } from './directory-source.ts';

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('DirectorySource', () => {
  it('revision follows the content: unchanged is a no-op, a change is new', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keelson-dir-'));
    writeFileSync(join(dir, 'a.yaml'), 'x: 1\n');
    const source = new DirectorySource(dir);
    const a = await source.sync();
    expect(a.changed).toBe(true);
    expect(await source.sync()).toMatchObject({ revision: a.revision, changed: false });
    writeFileSync(join(dir, 'a.yaml'), 'x: 2\n');
    expect((await source.sync()).revision).not.toBe(a.revision);
  });

  it('a burst of file changes becomes one debounced trigger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keelson-dir-'));
    const source = new DirectorySource(dir, 200);
    let triggers = 0;
    source.watch(() => triggers++);
    await source.ready();
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}.yaml`), `i: ${i}\n`);
    await until(() => triggers > 0, 'the trigger');
    // Quiet for longer than the debounce: no second trigger comes from the same burst.
    await new Promise((r) => setTimeout(r, 600));
    expect(triggers).toBe(1);
    await source.close();
  });
});
