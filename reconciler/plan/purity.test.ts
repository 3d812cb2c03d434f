import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerScriptHandler } from '../../providers/cloudflare/kinds/worker-script.ts';

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
});
