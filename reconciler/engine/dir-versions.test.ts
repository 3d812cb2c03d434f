import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../secrets-ui/secret-store.ts';
import { envSecretSource } from './secrets.ts';

// The directory source reports the versions the Secrets UI's directory store writes, so the demo's
// UI sees its consumers turn current after a rotation (as with Secret Manager).
describe('the directory secret source and the Secrets UI directory store', () => {
  it('reports the version of each file the last completed pass used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keelson-dir-versions-'));
    const store = new DirectoryStore(dir);
    writeFileSync(join(dir, 'placeholder'), 'demo-placeholder\n');
    const source = envSecretSource({}, dir);

    await store.addVersion('api-token', 'first');
    expect(source.get('api-token')?.reveal()).toBe('first');
    expect(source.get('placeholder')?.reveal()).toBe('demo-placeholder');
    // Nothing reported before the pass completes.
    expect(source.versions?.()).toEqual({});
    source.completed?.();
    // A file without a version file has none.
    expect(source.versions?.()).toEqual({ 'api-token': '1' });

    await store.addVersion('api-token', 'second');
    expect(source.versions?.()).toEqual({ 'api-token': '1' });
    expect(source.get('api-token')?.reveal()).toBe('second');
    source.completed?.();
    expect(source.versions?.()).toEqual({ 'api-token': '2' });
    expect((await store.latest('api-token'))?.version).toBe('2');
  });

  it('an environment variable wins and has no version; a broken version file gives none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keelson-dir-versions-'));
    writeFileSync(join(dir, 'a'), 'file');
    writeFileSync(join(dir, 'b'), 'file');
    mkdirSync(join(dir, '.versions'));
    writeFileSync(join(dir, '.versions', 'a.json'), '{"version":"7"}');
    writeFileSync(join(dir, '.versions', 'b.json'), '{"version": {"x": 1}}');
    const source = envSecretSource({ KEELSON_SECRET_A: 'env' }, dir);
    expect(source.get('a')?.reveal()).toBe('env');
    expect(source.get('b')?.reveal()).toBe('file');
    source.completed?.();
    expect(source.versions?.()).toEqual({});
  });
});
