import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HetznerSimulator, startHetznerSimulator } from '../providers/hetzner/simulator/index.ts';
import type { Exchange } from '../providers/hetzner/simulator/server.ts';
import { checkExchanges, hetznerSpecMissing } from '../providers/hetzner/simulator/spec-check.ts';
import { hcloudMissing, type Run, run, startSimulateChild } from './hetzner-cli-support.ts';

const missing = hcloudMissing();
if (missing) console.log(`hcloud CLI check of the Hetzner simulator NOT run: ${missing}`);

const token = 'cli-test-'.padEnd(64, 'x');
const publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHcloudCliHcloudCliHcloudCliHcloudCliHcloudCli0 cli@example';

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON is checked field by field.
type Json = Record<string, any>;

// Hetzner's own CLI (Debian's hcloud-cli, built on the official Go library) drives the simulator
// through a whole lifecycle; every answer it prints or returns as JSON is checked.
describe.runIf(!missing)('the hcloud CLI against the Hetzner simulator', { timeout: 240_000 }, () => {
  let sim: HetznerSimulator;
  let dir: string;
  const exchanges: Exchange[] = [];
  const env = () => ({
    PATH: process.env.PATH,
    HOME: dir,
    HCLOUD_ENDPOINT: sim.endpoint,
    HCLOUD_TOKEN: token,
    HCLOUD_CONFIG: join(dir, 'cli.toml'),
  });
  const hcloud = (...args: string[]): Promise<Run> => run('hcloud', ['--poll-interval', '20ms', ...args], env());
  const ok = async (...args: string[]): Promise<string> => {
    const r = await hcloud(...args);
    expect(r.status, `hcloud ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const refused = async (...args: string[]): Promise<string> => {
    const r = await hcloud(...args);
    expect(r.status, `hcloud ${args.join(' ')} should fail\n${r.stdout}`).not.toBe(0);
    return r.stderr;
  };
  const describeJson = async (kind: string, ref: string): Promise<Json> =>
    JSON.parse(await ok(kind, 'describe', ref, '-o', 'json')) as Json;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-hcloud-cli-'));
    sim = await startHetznerSimulator({ token, actionDurationMs: 60, onExchange: (e) => exchanges.push(e) });
  });
  afterAll(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong token with the vendor error', async () => {
    const r = await run('hcloud', ['server', 'list'], { ...env(), HCLOUD_TOKEN: 'y'.repeat(64) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unable to authenticate \(unauthorized\)/);
  });

  it('reads the catalog: locations, datacenters, server types and images by id and by name', async () => {
    const fsn = await describeJson('location', '1');
    expect(fsn).toMatchObject({ id: 1, name: 'fsn1', network_zone: 'eu-central' });
    expect(await describeJson('location', 'ash')).toMatchObject({ id: 4, network_zone: 'us-east' });
    const names = (JSON.parse(await ok('datacenter', 'list', '-o', 'json')) as Json[]).map((d) => d.name);
    expect(names.sort()).toEqual(['ash-dc1', 'fsn1-dc14', 'hel1-dc2', 'hil-dc1', 'nbg1-dc3', 'sin-dc1']);
    expect(await describeJson('datacenter', 'fsn1-dc14')).toMatchObject({ id: 4, location: { name: 'fsn1' } });
    expect(await describeJson('datacenter', '7')).toMatchObject({ name: 'sin-dc1' });
    expect(await describeJson('server-type', 'cax11')).toMatchObject({ architecture: 'arm', cores: 2 });
    expect(await describeJson('server-type', '104')).toMatchObject({ name: 'cx22', architecture: 'x86' });
    // This CLI's list output is re-encoded from its own structs (no architecture field); describe is the API's JSON.
    const images = JSON.parse(await ok('image', 'list', '--type', 'system', '-o', 'json')) as Json[];
    expect(images.filter((i) => i.name === 'debian-12')).toHaveLength(2);
    expect(await describeJson('image', '1')).toMatchObject({ name: 'debian-12', architecture: 'x86' });
    expect(await describeJson('image', '101')).toMatchObject({ name: 'debian-12', architecture: 'arm' });
  });

  it('builds, changes and removes a project: keys, networks, placement, servers and all their actions', async () => {
    expect(await ok('ssh-key', 'create', '--name', 'k1', '--public-key', publicKey)).toMatch(/SSH key \d+ created/);
    expect(await ok('network', 'create', '--name', 'net1', '--ip-range', '10.0.0.0/16')).toMatch(/Network \d+ created/);
    await ok(
      'network',
      'add-subnet',
      'net1',
      '--type',
      'cloud',
      '--network-zone',
      'eu-central',
      '--ip-range',
      '10.0.1.0/24',
    );
    await ok('network', 'add-route', 'net1', '--destination', '10.100.1.0/24', '--gateway', '10.0.1.10');
    // A second route to the same destination is refused (and not with `conflict`, which clients retry).
    expect(
      await refused('network', 'add-route', 'net1', '--destination', '10.100.1.0/24', '--gateway', '10.0.1.11'),
    ).toMatch(/invalid_input/);
    const net = await describeJson('network', 'net1');
    expect(net.subnets).toMatchObject([{ ip_range: '10.0.1.0/24', network_zone: 'eu-central' }]);
    expect(net.routes).toEqual([{ destination: '10.100.1.0/24', gateway: '10.0.1.10' }]);
    expect(await describeJson('network', String(net.id))).toMatchObject({ name: 'net1' });

    await ok('placement-group', 'create', '--name', 'pg1', '--type', 'spread');
    await ok('firewall', 'create', '--name', 'fw1');
    await ok(
      'firewall',
      'add-rule',
      'fw1',
      '--direction',
      'in',
      '--protocol',
      'tcp',
      '--port',
      '22',
      '--source-ips',
      '0.0.0.0/0',
    );

    // The CLI looks everything up by name first, then sends ids: server type, image, key, network,
    // firewall and placement group all arrive as integers.
    const created = await ok(
      'server',
      'create',
      '--name',
      's1',
      '--type',
      'cx22',
      '--image',
      'debian-12',
      '--location',
      'fsn1',
      '--ssh-key',
      'k1',
      '--network',
      'net1',
      '--firewall',
      'fw1',
      '--placement-group',
      'pg1',
    );
    expect(created).toMatch(/Server \d+ created/);
    expect(created).toMatch(/10\.0\.1\.2 \(net1\)/);
    const s1 = await describeJson('server', 's1');
    expect(s1).toMatchObject({
      status: 'running',
      server_type: { name: 'cx22' },
      image: { name: 'debian-12', architecture: 'x86' },
      datacenter: { name: 'fsn1-dc14' },
      placement_group: { name: 'pg1' },
      private_net: [{ network: net.id, ip: '10.0.1.2' }],
    });
    expect(s1.public_net.firewalls).toEqual([{ id: (await describeJson('firewall', 'fw1')).id, status: 'applied' }]);
    expect(await describeJson('server', String(s1.id))).toMatchObject({ name: 's1' });

    // An Arm server: the image named for it by id (this CLI predates looking images up per architecture).
    await ok('server', 'create', '--name', 'a1', '--type', 'cax11', '--image', '101', '--location', 'hel1');
    expect(await describeJson('server', 'a1')).toMatchObject({
      server_type: { architecture: 'arm' },
      datacenter: { name: 'hel1-dc2' },
    });
    // An x86 image on an Arm type is refused, as the API does.
    expect(
      await refused('server', 'create', '--name', 'a2', '--type', 'cax11', '--image', '1', '--location', 'hel1'),
    ).toMatch(/invalid input in field 'image'/);

    expect(await ok('server', 'reboot', 's1')).toMatch(/rebooted/);
    expect(await ok('server', 'reset', 's1')).toMatch(/reset/);
    await ok('server', 'enable-backup', 's1');
    expect((await describeJson('server', 's1')).backup_window).toBe('22-02');
    await ok('server', 'disable-backup', 's1');
    expect((await describeJson('server', 's1')).backup_window).toBeNull();
    expect(await ok('server', 'rebuild', 's1', '--image', 'ubuntu-24.04')).toMatch(/rebuilt with image ubuntu-24.04/);
    expect((await describeJson('server', 's1')).image.name).toBe('ubuntu-24.04');
    expect(await ok('server', 'enable-rescue', 's1', '--ssh-key', 'k1')).toMatch(/root password: \S+/);
    expect((await describeJson('server', 's1')).rescue_enabled).toBe(true);
    await ok('server', 'disable-rescue', 's1');
    expect((await describeJson('server', 's1')).rescue_enabled).toBe(false);

    await ok('server', 'change-alias-ips', 's1', '--network', 'net1', '--alias-ips', '10.0.1.50,10.0.1.51');
    expect((await describeJson('server', 's1')).private_net[0].alias_ips).toEqual(['10.0.1.50', '10.0.1.51']);
    await ok('server', 'detach-from-network', 's1', '--network', 'net1');
    expect((await describeJson('server', 's1')).private_net).toEqual([]);
    await ok('server', 'attach-to-network', 's1', '--network', 'net1', '--ip', '10.0.1.20', '--alias-ips', '10.0.1.60');
    expect((await describeJson('server', 's1')).private_net).toMatchObject([
      { network: net.id, ip: '10.0.1.20', alias_ips: ['10.0.1.60'] },
    ]);

    // Protection: delete and rebuild move together, and a protected server is neither deleted nor rebuilt.
    expect(await refused('server', 'enable-protection', 's1', 'delete')).toMatch(/invalid_input/);
    await ok('server', 'enable-protection', 's1', 'delete', 'rebuild');
    expect((await describeJson('server', 's1')).protection).toEqual({ delete: true, rebuild: true });
    expect(await refused('server', 'delete', 's1')).toMatch(/server deletion is protected \(protected\)/);
    expect(await refused('server', 'rebuild', 's1', '--image', 'debian-12')).toMatch(/server rebuild is protected/);
    await ok('server', 'disable-protection', 's1', 'delete', 'rebuild');

    // Placement groups take stopped servers only.
    expect(await refused('server', 'add-to-placement-group', 'a1', '--placement-group', 'pg1')).toMatch(
      /server_not_stopped/,
    );
    expect(await ok('server', 'poweroff', 'a1')).toMatch(/stopped/);
    expect((await describeJson('server', 'a1')).status).toBe('off');
    await ok('server', 'add-to-placement-group', 'a1', '--placement-group', 'pg1');
    // From the list: this CLI's `placement-group describe -o json` fails ("got invalid JSON response")
    // on the API's documented answer, so the check reads the list instead.
    const groups = JSON.parse(await ok('placement-group', 'list', '-o', 'json')) as Json[];
    expect(groups.map((g) => [g.name, [...g.servers].sort()])).toEqual([
      ['pg1', [s1.id, (await describeJson('server', 'a1')).id].sort()],
    ]);
    await ok('server', 'remove-from-placement-group', 's1');
    await ok('server', 'change-type', 'a1', 'cax21');
    expect((await describeJson('server', 'a1')).server_type.name).toBe('cax21');
    await ok('server', 'poweron', 'a1');
    expect((await describeJson('server', 'a1')).status).toBe('running');
    await ok('server', 'shutdown', 'a1');
    expect((await describeJson('server', 'a1')).status).toBe('off');

    // Volumes: created in a location by name, attached, detached; created on a server directly.
    await ok('volume', 'create', '--name', 'v1', '--size', '10', '--location', 'fsn1');
    await ok('volume', 'attach', 'v1', '--server', 's1');
    expect((await describeJson('volume', 'v1')).server).toBe(s1.id);
    expect((await describeJson('server', 's1')).volumes).toHaveLength(1);
    await ok('volume', 'detach', 'v1');
    expect((await describeJson('volume', 'v1')).server).toBeNull();
    await ok('volume', 'create', '--name', 'v2', '--size', '10', '--server', 's1');
    expect(await describeJson('volume', 'v2')).toMatchObject({ server: s1.id, location: { name: 'fsn1' } });
    expect(await refused('volume', 'delete', 'v2')).toMatch(/volume_attached/);
    await ok('volume', 'detach', 'v2');

    // Firewalls applied and removed.
    const a1 = await describeJson('server', 'a1');
    await ok('firewall', 'apply-to-resource', 'fw1', '--type', 'server', '--server', 'a1');
    expect((await describeJson('firewall', 'fw1')).applied_to.map((t: Json) => t.server.id).sort()).toEqual(
      [s1.id, a1.id].sort(),
    );
    await ok('firewall', 'remove-from-resource', 'fw1', '--type', 'server', '--server', 'a1');
    await ok('firewall', 'remove-from-resource', 'fw1', '--type', 'server', '--server', 's1');
    expect((await describeJson('firewall', 'fw1')).applied_to).toEqual([]);
    expect((await describeJson('server', 's1')).public_net.firewalls).toEqual([]);

    // Deletes, by name and by id.
    await ok('volume', 'delete', 'v1');
    await ok('volume', 'delete', 'v2');
    await ok('server', 'delete', 's1');
    await ok('server', 'delete', String(a1.id));
    await ok('firewall', 'delete', 'fw1');
    await ok('placement-group', 'delete', 'pg1');
    await ok('network', 'delete', 'net1');
    await ok('ssh-key', 'delete', 'k1');
    // This CLI does not wait for the delete_server action; the servers stay `deleting` until it ends.
    for (let i = 0; ; i++) {
      const left = (JSON.parse(await ok('server', 'list', '-o', 'json')) ?? []) as Json[];
      if (left.length === 0) break;
      expect(left.map((x) => x.status)).toEqual(left.map(() => 'deleting'));
      expect(i, 'servers still listed after 500 polls').toBeLessThan(500);
    }
    for (const kind of ['server', 'volume', 'firewall', 'network', 'ssh-key', 'placement-group']) {
      // This CLI prints null for an empty list.
      expect(JSON.parse(await ok(kind, 'list', '-o', 'json')) ?? [], kind).toEqual([]);
    }
    expect(await refused('server', 'describe', 's1')).toMatch(/server not found: s1/);
  });

  it('every answer the CLI got matches the vendor OpenAPI document', (ctx) => {
    const specMissing = hetznerSpecMissing();
    if (specMissing) {
      console.log(`OpenAPI check of the hcloud CLI exchanges NOT run: ${specMissing}`);
      ctx.skip();
    }
    const report = checkExchanges(exchanges);
    if (report.requestProblems.length > 0)
      console.log(`hcloud CLI requests the document does not describe:\n  ${report.requestProblems.join('\n  ')}`);
    expect(report.responseProblems).toEqual([]);
    expect(report.checked).toBeGreaterThan(100);
  });
});

// `keelson simulate hetzner` as a user runs it: a child process printing the client's environment,
// stopped with SIGTERM, its project kept in --state across a restart.
describe.runIf(!missing)('keelson simulate hetzner', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-simulate-hetzner-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints HCLOUD_ENDPOINT and HCLOUD_TOKEN, and keeps its objects across a restart with --state', async () => {
    const statePath = join(dir, 'hetzner.json');
    const first = await startSimulateChild('hetzner', ['--state', statePath], ['HCLOUD_ENDPOINT', 'HCLOUD_TOKEN']);
    expect(Object.keys(first.env).sort()).toEqual(['HCLOUD_ENDPOINT', 'HCLOUD_TOKEN']);
    expect(first.env.HCLOUD_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const env = { PATH: process.env.PATH, HOME: dir, HCLOUD_CONFIG: join(dir, 'cli.toml'), ...first.env };
    const created = await run(
      'hcloud',
      [
        '--poll-interval',
        '50ms',
        'server',
        'create',
        '--name',
        'kept',
        '--type',
        'cpx21',
        '--image',
        'debian-12',
        '--location',
        'sin',
      ],
      env,
    );
    expect(created.status, created.stderr).toBe(0);
    expect(await first.stop()).toBe(0);
    expect(first.stderr()).toMatch(/stopped \(SIGTERM\)/);
    expect(JSON.parse(readFileSync(statePath, 'utf8')).servers.map((s: Json) => s.name)).toEqual(['kept']);

    const second = await startSimulateChild('hetzner', ['--state', statePath], ['HCLOUD_ENDPOINT', 'HCLOUD_TOKEN']);
    try {
      const again = { ...env, ...second.env };
      const shown = await run('hcloud', ['server', 'describe', 'kept', '-o', 'json'], again);
      expect(shown.status, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({
        name: 'kept',
        status: 'running',
        datacenter: { name: 'sin-dc1' },
      });
      // New ids continue after the old ones.
      const key = await run('hcloud', ['ssh-key', 'create', '--name', 'after', '--public-key', publicKey], again);
      expect(key.status, key.stderr).toBe(0);
      const keyId = Number(/SSH key (\d+) created/.exec(key.stdout)?.[1]);
      expect(keyId).toBeGreaterThan(JSON.parse(shown.stdout).id);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
