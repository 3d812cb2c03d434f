import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { BuildError, KeelsonError } from '../../sdk/index.ts';
import { buildFunctionArchive, functionArchiveBuilder, functionSourceDir } from './function-archive.ts';

function checkout(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'keelson-gcf-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('a function source archive', () => {
  it('is byte-identical for the same files, whatever their times and the order they were written in', () => {
    const a = checkout({
      'functions/f/index.js': 'export {}',
      'functions/f/lib/a.js': '1',
      'functions/f/package.json': '{}',
    });
    const b = checkout({
      'functions/f/package.json': '{}',
      'functions/f/lib/a.js': '1',
      'functions/f/index.js': 'export {}',
    });
    utimesSync(join(b, 'functions/f/index.js'), new Date('2001-01-01'), new Date('2001-01-01'));
    const za = buildFunctionArchive(a, 'functions/f', 'gcp.Function/f');
    const zb = buildFunctionArchive(b, 'functions/f', 'gcp.Function/f');
    expect(Buffer.from(za.zip).equals(Buffer.from(zb.zip))).toBe(true);
    expect(za.hash).toBe(zb.hash);
    expect(za.hash).toMatch(/^[0-9a-f]{40}$/);
    // sorted entries, node_modules never uploaded
    expect(Object.keys(unzipSync(za.zip))).toEqual(['index.js', 'lib/a.js', 'package.json']);
  });

  it('changes its hash when one file changes, and skips node_modules', () => {
    const root = checkout({ 'functions/f/index.js': 'v1', 'functions/f/node_modules/x/index.js': 'dep' });
    const first = buildFunctionArchive(root, 'functions/f', 'gcp.Function/f');
    expect(Object.keys(unzipSync(first.zip))).toEqual(['index.js']);
    writeFileSync(join(root, 'functions/f/index.js'), 'v2, longer');
    expect(buildFunctionArchive(root, 'functions/f', 'gcp.Function/f').hash).not.toBe(first.hash);
  });

  it('refuses a source outside functions/ of the checkout with a clear diagnostic', () => {
    const root = checkout({ 'functions/f/index.js': '1', 'secrets/key': 'x' });
    const reject = (source: string, why: RegExp) => {
      let error: unknown;
      try {
        functionSourceDir(root, source, 'gcp.Function/f');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(KeelsonError);
      expect((error as KeelsonError).code).toBe('INVALID_SPEC');
      expect((error as Error).message).toMatch(why);
      expect((error as Error).message).toContain('gcp.Function/f');
    };
    reject('/etc', /absolute/);
    reject('functions/../secrets', /"\.\."/);
    reject('../functions/f', /"\.\."/);
    reject('secrets', /not under functions\//);
    reject('functions', /not under functions\//);
    reject('functions/missing', /does not exist/);
    expect(functionSourceDir(root, 'functions/f/', 'gcp.Function/f')).toBe(join(root, 'functions/f'));
  });

  it('is built at load time: the builder gives sourceHash, or a BuildError naming the resource', () => {
    const root = checkout({ 'functions/f/index.js': 'export {}' });
    const built = functionArchiveBuilder.build({ source: 'functions/f' }, { root, resource: 'gcp.Function/f' });
    expect(built.fields).toEqual({ sourceHash: buildFunctionArchive(root, 'functions/f', 'x').hash });
    expect(() => functionArchiveBuilder.build({ source: '../f' }, { root, resource: 'gcp.Function/f' })).toThrow(
      BuildError,
    );
    expect(() => functionArchiveBuilder.build({ source: '../f' }, { root, resource: 'gcp.Function/f' })).toThrow(
      /gcp\.Function\/f: spec\.source "\.\.\/f" leaves the checkout/,
    );
  });
});
