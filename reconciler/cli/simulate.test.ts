import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, startSimulateChild } from '../../test/hetzner-cli-support.ts';

const keelson = resolve(import.meta.dirname, '../../bin/keelson.js');
const simulate = (...args: string[]) => run(process.execPath, [keelson, 'simulate', ...args], { ...process.env });

// The command's own errors; each provider's simulator is driven by its vendor's tools in
// test/hetzner-cli.test.ts and test/wrangler.test.ts.
describe('keelson simulate', { timeout: 60_000 }, () => {
  it('names what is wrong with its arguments, on one line, and exits 1', async () => {
    const none = await simulate();
    expect([none.status, none.stderr.trim()]).toEqual([
      1,
      'keelson: missing the simulator to run: keelson simulate hetzner|cloudflare|gcp',
    ]);
    const unknown = await simulate('aws');
    expect(unknown.stderr.trim()).toBe('keelson: unknown simulator "aws"; choose one of hetzner, cloudflare, gcp');
    const port = await simulate('hetzner', '--port', 'http');
    expect(port.stderr.trim()).toBe('keelson: --port http is not a port number (0-65535)');
    expect(port.stdout).toBe('');
  });

  it('refuses a port in use, naming it', async () => {
    const first = await startSimulateChild('cloudflare', [], ['CLOUDFLARE_API_BASE_URL']);
    try {
      const port = new URL(first.env.CLOUDFLARE_API_BASE_URL!).port;
      const second = await simulate('hetzner', '--port', port);
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`keelson: port ${port} on 127.0.0.1 is in use; pick another --port`);
    } finally {
      await first.stop();
    }
  });

  it('refuses a state file that is not its own or not JSON, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keelson-simulate-state-'));
    try {
      const file = join(dir, 'hetzner.json');
      const hetzner = await startSimulateChild('hetzner', ['--state', file], ['HCLOUD_ENDPOINT']);
      expect(await hetzner.stop()).toBe(0);
      const wrong = await simulate('cloudflare', '--state', file);
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toContain(
        `keelson: ${file}: this is not a Cloudflare simulator state (provider: hetzner); move it away or pick another --state`,
      );
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, '{"half');
      const bad = await simulate('hetzner', '--state', broken);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(new RegExp(`keelson: ${broken} is not a simulator state file \\(.*\\); move it away`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const gcp = existsSync(resolve(import.meta.dirname, '../../providers/gcp/simulator/index.ts'));
  console.log(
    gcp
      ? 'providers/gcp/simulator is in this build: the "not in this build" message is not checked'
      : 'providers/gcp/simulator is not in this build: only its "not in this build" message is checked',
  );
  it.runIf(!gcp)('says so when the gcp simulator is not in this build', async () => {
    const r = await simulate('gcp');
    expect([r.status, r.stderr.trim(), r.stdout]).toEqual([1, 'keelson: the gcp simulator is not in this build', '']);
  });
  it.runIf(gcp)('starts the gcp simulator when this build has it, printing only KEY=VALUE lines', async () => {
    const child = await startSimulateChild('gcp', [], []);
    try {
      expect(Object.keys(child.env).length).toBeGreaterThan(0);
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});
