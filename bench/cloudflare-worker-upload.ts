/**
 * A Worker through runPass: bundle (esbuild) and upload time when its code changed, against a pass
 * where nothing changed (bundle reused from cache, no upload).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { EngineRig, REPO_ROOT } from '../test/support/engine-rig.ts';

export async function run(): Promise<void> {
  const sim = await startCloudflareSimulator({ zones: ['example.com'], rateLimit: 1_000_000 });
  try {
    // A private copy of the Aircall Worker, so its code can be changed between passes.
    const src = mkdtempSync(join(tmpdir(), 'keelson-worker-'));
    cpSync(join(REPO_ROOT, 'workers'), src, { recursive: true });
    const entry = join(src, 'aircall-webhook', 'src', 'index.ts');
    const rig = new EngineRig({ env: sim.env() }).write(
      'worker.yaml',
      `kind: cloudflare.WorkerScript\nname: bench-worker\nspec:\n  source: ${join(src, 'aircall-webhook')}\n  compatibilityDate: '2024-09-23'\n  secrets:\n    AIRCALL_WEBHOOK_TOKEN: { secretRef: bench-token }\n`,
    );
    rig.secrets = { 'bench-token': 'x' };
    await rig.pass();
    const uploads = () => sim.requests.filter((r) => r.method === 'PUT' && r.path.includes('/workers/scripts/')).length;
    for (let round = 1; round <= 3; round++) {
      let u = uploads();
      let r = sim.requests.length;
      let t0 = performance.now();
      await rig.pass();
      const same = performance.now() - t0;
      console.log(
        `round ${round}: no change: ${same.toFixed(0)} ms, ${sim.requests.length - r} requests, ${uploads() - u} uploads`,
      );
      writeFileSync(entry, `${readFileSync(entry, 'utf8')}\n// change ${round}\n`);
      u = uploads();
      r = sim.requests.length;
      t0 = performance.now();
      await rig.pass();
      const changed = performance.now() - t0;
      console.log(
        `round ${round}: code changed: ${changed.toFixed(0)} ms, ${sim.requests.length - r} requests, ${uploads() - u} uploads`,
      );
    }
  } finally {
    await sim.close();
  }
}

if (import.meta.main) await run();
