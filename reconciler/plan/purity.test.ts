import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerScriptHandler } from '../../providers/cloudflare/kinds/worker-script.ts';
import type { DesiredResource } from '../../providers/sdk/index.ts';
import { desiredSpec, specDigest } from './plan.ts';

describe('the planner is pure', () => {
  it('imports nothing from the state store, the file system or a provider', () => {
    const dir = join(import.meta.dirname);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const imports = [...readFileSync(join(dir, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      for (const spec of imports) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(
          /\/state\/|node:fs|node:child_process|providers\/(?!sdk\/)/,
        );
      }
    }
  });

  it("the Worker's normaliser reads no file: a source folder that does not exist is not an error there", () => {
    const handler = new WorkerScriptHandler({ root: '/nowhere' } as never);
    const spec = { source: 'does/not/exist', compatibilityDate: '2024-09-23', bundleHash: 'abc' };
    expect(handler.normalize(spec)).toEqual({ ...spec, main: 'src/index.ts' });
  });

  it('prepares a spec without references once per revision; one with a reference follows live outputs', () => {
    const base = { provider: 'mem', policy: 'enforce', protect: false, allowReplace: false, adopt: false } as const;
    const plain: DesiredResource = {
      ...base,
      key: 'mem.Thing/a',
      kind: 'mem.Thing',
      name: 'a',
      spec: { size: 1 },
      dependsOn: [],
    };
    const linked: DesiredResource = {
      ...base,
      key: 'mem.Link/l',
      kind: 'mem.Link',
      name: 'l',
      spec: { target: { ref: 'mem.Thing/a', output: 'address' } },
      dependsOn: ['mem.Thing/a'],
    };
    const input = {
      secrets: new Map(),
      schema: () => undefined,
      normalize: (_k: string, s: Record<string, unknown>) => s,
    };
    const live = (address: string) =>
      new Map([
        [
          'mem.Thing/a',
          {
            key: 'mem.Thing/a',
            kind: 'mem.Thing',
            name: 'a',
            id: '1',
            owned: true,
            spec: {},
            outputs: { address },
            ready: true,
          },
        ],
      ]);
    const first = desiredSpec({ ...input, observed: live('10.0.0.1') }, plain);
    expect(desiredSpec({ ...input, observed: live('10.0.0.2') }, plain)).toBe(first);
    expect(specDigest(first.spec)).toBe(specDigest({ size: 1 }));
    expect(desiredSpec({ ...input, observed: live('10.0.0.1') }, linked).spec.target).toBe('10.0.0.1');
    expect(desiredSpec({ ...input, observed: live('10.0.0.2') }, linked).spec.target).toBe('10.0.0.2');
    const other = { ...input, normalize: (_k: string, s: Record<string, unknown>) => ({ ...s, size: 2 }) };
    expect(desiredSpec({ ...other, observed: new Map() }, plain).spec).toEqual({ size: 2 });
  });
});
