import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { providersUsedBy } from '../providers/catalogue.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const HEAVY = ['cloudflare', 'miniflare', 'dockerode', '@google-cloud/firestore', 'esbuild', 'googleapis'];

/** Runs the CLI with a module hook that lists every npm package it loads. */
function packagesLoadedBy(args: readonly string[]): { status: number | null; packages: string[]; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-startup-test-'));
  const hook = join(dir, 'hook.mjs');
  const out = join(dir, 'packages.json');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({ resolve(spec, ctx, next) {
  const r = next(spec, ctx);
  const m = r.url.match(/node_modules\\/((?:@[^/]+\\/)?[^/]+)/);
  if (m) seen.add(m[1]);
  return r;
} });
process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify([...seen])));
`,
  );
  const r = spawnSync(process.execPath, ['--import', hook, 'bin/keelson.js', ...args], { cwd: ROOT, encoding: 'utf8' });
  const packages = JSON.parse(readFileSync(out, 'utf8')) as string[];
  return { status: r.status, packages, stdout: r.stdout };
}

describe('start-up', () => {
  it('keelson validate of a Swarm-only tree loads no vendor client, no bundler, no Google client', () => {
    const r = packagesLoadedBy(['validate', 'desired-state/swarm']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/resources in 2 files are valid/); // stacks.yaml, nodes.yaml
    expect(r.packages).toContain('yaml');
    for (const heavy of HEAVY) expect(r.packages, `${heavy} was loaded`).not.toContain(heavy);
  });

  it('the company tree (all three providers) is validated without the Cloudflare SDK or dockerode', () => {
    const r = packagesLoadedBy(['validate', 'desired-state']);
    expect(r.status).toBe(0);
    expect(r.packages).not.toContain('cloudflare');
    expect(r.packages).not.toContain('dockerode');
  });

  it('finds the providers a tree uses from its kind lines; an unknown one means every provider', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keelson-kinds-'));
    writeFileSync(join(dir, 'a.yaml'), 'kind: swarm.Stack\nname: a\nspec: {}\n---\nkind: "hetzner.Server"\nname: b\n');
    writeFileSync(join(dir, 'b.yaml'), 'kind: foo.Bar\nname: c\n');
    expect(providersUsedBy([join(dir, 'a.yaml')])).toEqual(new Set(['swarm', 'hetzner']));
    expect(providersUsedBy([join(dir, 'a.yaml'), join(dir, 'b.yaml')])).toBeUndefined();
  });
});
