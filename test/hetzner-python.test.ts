import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import type { Exchange } from '../providers/hetzner/simulator/server.ts';
import { checkExchanges, hetznerSpecMissing } from '../providers/hetzner/simulator/spec-check.ts';
import { run } from './hetzner-cli-support.ts';

const python = '/usr/bin/python3';
const script = resolve(import.meta.dirname, 'fixtures/hetzner-python/lifecycle.py');
const probe = spawnSync(python, ['-c', 'import hcloud'], { encoding: 'utf8' });
const missing =
  probe.error || probe.status !== 0 ? 'python3-hcloud is not installed (Debian package python3-hcloud)' : undefined;
if (missing) console.log(`Python hcloud check of the Hetzner simulator NOT run: ${missing}`);

// Hetzner's official Python library drives the simulator through a whole lifecycle
// (test/fixtures/hetzner-python/lifecycle.py checks every answer and names the first that is wrong).
describe.runIf(!missing)('the hcloud Python library against the Hetzner simulator', { timeout: 180_000 }, () => {
  let sim: HetznerSimulator;
  const exchanges: Exchange[] = [];
  const token = 'python-test-'.padEnd(64, 'p');
  beforeAll(async () => {
    sim = await startHetznerSimulator({ token, actionDurationMs: 40, onExchange: (e) => exchanges.push(e) });
  });
  afterAll(() => sim?.close());

  it('runs the lifecycle script; every check in it passes', async () => {
    const r = await run(python, [script], {
      PATH: process.env.PATH,
      HCLOUD_ENDPOINT: sim.endpoint,
      HCLOUD_TOKEN: token,
    });
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const report = JSON.parse(last) as { passed: string[]; failed?: string };
    expect(report.failed).toBeUndefined();
    expect(report.passed).toContain('everything gone');
    expect(report.passed.length).toBeGreaterThan(50);
    // The library sent ids for what it had fetched: the create carried integers.
    const creates = exchanges.filter((e) => e.method === 'POST' && e.path === '/v1/servers');
    expect(creates.map((e) => e.status)).toEqual([201, 201]);
    expect(creates[0]!.requestBody).toMatchObject({ server_type: 104, image: 1, location: 1 });
    expect(creates[1]!.requestBody).toMatchObject({ server_type: 'cpx21', image: 'ubuntu-24.04', location: 'nbg1' });
    const changeType = exchanges.find((e) => e.path.endsWith('/actions/change_type'));
    expect(changeType?.requestBody).toMatchObject({ server_type: 24 });
    expect(sim.state.servers.size).toBe(0);
  });

  it('every answer the library got matches the vendor OpenAPI document', (ctx) => {
    const specMissing = hetznerSpecMissing();
    if (specMissing) {
      console.log(`OpenAPI check of the Python exchanges NOT run: ${specMissing}`);
      ctx.skip();
    }
    const report = checkExchanges(exchanges);
    // Requests are the library's business; where it strays from the document, say so.
    if (report.requestProblems.length > 0)
      console.log(`python3-hcloud requests the document does not describe:\n  ${report.requestProblems.join('\n  ')}`);
    expect(report.responseProblems).toEqual([]);
    expect(report.checked).toBeGreaterThan(100);
  });
});
