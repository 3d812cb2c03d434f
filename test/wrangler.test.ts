import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareSimulator, startCloudflareSimulator } from '../providers/cloudflare/simulator/index.ts';
import { checkCloudflareExchanges, cloudflareSpecMissing } from '../providers/cloudflare/simulator/spec-check.ts';
import { type Run, run, startSimulateChild } from './hetzner-cli-support.ts';

const wranglerBin = resolve(import.meta.dirname, '../node_modules/wrangler/bin/wrangler.js');
const missing = existsSync(wranglerBin) ? undefined : 'wrangler is not installed (npm dev dependency wrangler@4)';
if (missing) console.log(`wrangler check of the Cloudflare simulator NOT run: ${missing}`);

/**
 * Loaded into every Node process wrangler starts (NODE_OPTIONS=--import): records and refuses any TCP
 * connection or DNS lookup that is not loopback, so the test proves nothing leaves the machine.
 */
const loopbackGuard = `
import net from 'node:net';
import dns from 'node:dns';
import { appendFileSync } from 'node:fs';
const log = process.env.KEELSON_LOOPBACK_GUARD_LOG;
const loopback = (h) => h === undefined || h === null || h === '' || h === 'localhost' || h === '::1' || /^(::ffff:)?127\\./.test(String(h));
const record = (what) => appendFileSync(log, what + '\\n');
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let o = Array.isArray(args[0]) ? args[0][0] : args[0];
  let host;
  if (o !== null && typeof o === 'object') {
    if (o.path) return connect.apply(this, args);
    host = o.host;
  } else if (typeof o === 'number' || /^\\d+$/.test(String(o))) host = typeof args[1] === 'string' ? args[1] : undefined;
  else return connect.apply(this, args);
  if (loopback(host)) return connect.apply(this, args);
  record('connect ' + host);
  process.nextTick(() => this.destroy(new Error('loopback guard: connection to ' + host + ' refused')));
  return this;
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) {
  if (!loopback(host)) record('lookup ' + host);
  return lookup.call(this, host, ...rest);
};
const lookupP = dns.promises.lookup;
dns.promises.lookup = function (host, ...rest) {
  if (!loopback(host)) record('lookup ' + host);
  return lookupP.call(this, host, ...rest);
};
`;

const workerSource = (version: string) => `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/put') await env.BUCKET.put('k', 'stored by ' + url.host);
    const object = await env.BUCKET.get('k');
    return Response.json({
      version: '${version}',
      greeting: env.GREETING,
      secret: env.API_SECRET ?? null,
      object: object ? await object.text() : null,
    });
  },
};
`;

const wranglerToml = `name = "wrangled"
main = "src/index.js"
compatibility_date = "2025-01-01"
workers_dev = false
routes = [ { pattern = "app.example.com/*", zone_name = "example.com" } ]

[vars]
GREETING = "hi"

[[r2_buckets]]
binding = "BUCKET"
bucket_name = "wrangled-bucket"
`;

// Cloudflare's own CLI deploys a Worker to the simulator; the simulator runs it in workerd.
describe.runIf(!missing)('wrangler 4 against the Cloudflare simulator', { timeout: 300_000 }, () => {
  let sim: CloudflareSimulator;
  let dir: string;
  let project: string;
  let guardLog: string;
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: join(dir, 'home'),
    XDG_CONFIG_HOME: join(dir, 'home', '.config'),
    ...sim.env(),
    // No telemetry, no update check, no prompts; logs stay in the test's folder.
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    // The banner is where wrangler asks registry.npmjs.org for a newer version.
    WRANGLER_HIDE_BANNER: 'true',
    NO_UPDATE_NOTIFIER: '1',
    CI: 'true',
    WRANGLER_LOG_PATH: join(dir, 'logs'),
    NODE_OPTIONS: `--import ${join(dir, 'guard.mjs')}`,
    KEELSON_LOOPBACK_GUARD_LOG: guardLog,
    ...extra,
  });
  const wrangler = (args: string[], extra?: Record<string, string>): Promise<Run> =>
    run(process.execPath, [wranglerBin, ...args], env(extra), project);
  const ok = async (args: string[], extra?: Record<string, string>): Promise<string> => {
    const r = await wrangler(args, extra);
    expect(r.status, `wrangler ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const guarded = () => (existsSync(guardLog) ? readFileSync(guardLog, 'utf8').trim() : '');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-wrangler-'));
    project = join(dir, 'project');
    mkdirSync(join(project, 'src'), { recursive: true });
    mkdirSync(join(dir, 'home'), { recursive: true });
    writeFileSync(join(project, 'wrangler.toml'), wranglerToml);
    writeFileSync(join(project, 'src', 'index.js'), workerSource('v1'));
    writeFileSync(join(dir, 'guard.mjs'), loopbackGuard);
    guardLog = join(dir, 'guard.log');
    sim = await startCloudflareSimulator({ recordBodies: true });
  });
  afterAll(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the loopback guard catches a connection to another host (so its silence below means something)', async () => {
    const probe = await run(
      process.execPath,
      ['-e', "fetch('http://192.0.2.1/').catch(() => {}); require('node:dns').lookup('example.org', () => {});"],
      env(),
    );
    expect(probe.status, probe.stderr).toBe(0);
    expect(guarded()).toMatch(/connect 192\.0\.2\.1/);
    expect(guarded()).toMatch(/lookup example\.org/);
    rmSync(guardLog);
  });

  it('whoami with an API token, with the Global API Key, and a wrong key refused', async () => {
    const me = await ok(['whoami']);
    expect(me).toContain(sim.accountId);
    expect(me).toContain('sim@example.com');
    const byKey = await ok(['whoami'], {
      CLOUDFLARE_API_TOKEN: '',
      CLOUDFLARE_API_KEY: sim.globalKey,
      CLOUDFLARE_EMAIL: sim.email,
    });
    expect(byKey).toContain(sim.accountId);
    const wrong = await wrangler(['whoami'], {
      CLOUDFLARE_API_TOKEN: '',
      CLOUDFLARE_API_KEY: 'not-the-key',
      CLOUDFLARE_EMAIL: sim.email,
    });
    expect(wrong.status).not.toBe(0);
    expect(`${wrong.stdout}${wrong.stderr}`).toMatch(/9103/);
  });

  it('creates an R2 bucket, deploys a Worker with a route, sets a secret, and the Worker answers in workerd', async () => {
    await ok(['r2', 'bucket', 'create', 'wrangled-bucket']);
    expect([...sim.state.buckets.keys()]).toEqual(['wrangled-bucket']);

    const deployed = await ok(['deploy']);
    expect(deployed).toMatch(/app\.example\.com\/\* \(zone name: example\.com\)/);
    expect([...sim.state.routes.values()].map((r) => [r.pattern, r.script])).toEqual([
      ['app.example.com/*', 'wrangled'],
    ]);

    // The secret's text goes on stdin, as a user pipes it.
    const viaStdin = await runWithStdin(['secret', 'put', 'API_SECRET'], 's3cr3t-value');
    expect(viaStdin.status, viaStdin.stderr).toBe(0);
    expect(JSON.parse(await ok(['secret', 'list', '--format', 'json']))).toEqual([
      { name: 'API_SECRET', type: 'secret_text' },
    ]);

    const first = await sim.fetchRoute('https://app.example.com/put');
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({
      version: 'v1',
      greeting: 'hi',
      secret: 's3cr3t-value',
      object: 'stored by app.example.com',
    });
    expect((await sim.fetchRoute('https://other.example.com/')).status).toBe(404);

    // A second deploy goes through versions + deployments; the secret and the bucket's object stay.
    writeFileSync(join(project, 'src', 'index.js'), workerSource('v2'));
    expect(await ok(['deploy'])).toMatch(/Current Version ID: [0-9a-f-]{36}/);
    expect(await (await sim.fetchRoute('https://app.example.com/')).json()).toEqual({
      version: 'v2',
      greeting: 'hi',
      secret: 's3cr3t-value',
      object: 'stored by app.example.com',
    });

    const versions = await ok(['versions', 'list', '--json']);
    expect((JSON.parse(versions) as unknown[]).length).toBe(3);
    const deployments = await ok(['deployments', 'list', '--json']);
    expect((JSON.parse(deployments) as unknown[]).length).toBe(3);
    expect(await ok(['triggers', 'deploy'])).toMatch(/app\.example\.com\/\*/);

    // workers_dev = true: wrangler enables the script's workers.dev name, which then reaches it too.
    const devUrl = 'https://wrangled.keelson-sim.workers.dev/';
    expect((await sim.fetchRoute(devUrl)).status).toBe(404);
    writeFileSync(join(project, 'wrangler.toml'), wranglerToml.replace('workers_dev = false', 'workers_dev = true'));
    expect(await ok(['triggers', 'deploy'])).toContain('wrangled.keelson-sim.workers.dev');
    expect(await (await sim.fetchRoute(devUrl)).json()).toMatchObject({ version: 'v2', secret: 's3cr3t-value' });

    // Removing: the secret, then the Worker with its routes.
    await ok(['secret', 'delete', 'API_SECRET']);
    expect(JSON.parse(await ok(['secret', 'list', '--format', 'json']))).toEqual([]);
    expect(await (await sim.fetchRoute('https://app.example.com/')).json()).toMatchObject({ secret: null });
    await ok(['delete', '--force']);
    expect([...sim.state.scripts.keys()]).toEqual([]);
    expect([...sim.state.routes.values()]).toEqual([]);
    expect((await sim.fetchRoute('https://app.example.com/')).status).toBe(404);
  });

  it("every exchange with wrangler that Cloudflare's OpenAPI document covers matches it", (ctx) => {
    const specMissing = cloudflareSpecMissing();
    if (specMissing) {
      console.log(`OpenAPI check of the wrangler exchanges NOT run: ${specMissing}`);
      ctx.skip();
    }
    const report = checkCloudflareExchanges(sim.requests);
    console.log(`checked ${report.checked} wrangler exchanges against the document`);
    expect(report.problems).toEqual([]);
    expect(report.checked).toBeGreaterThan(10);
  });

  it('no wrangler run above tried to reach a host that is not loopback', () => {
    expect(guarded(), 'wrangler tried to reach a host that is not loopback').toBe('');
  });

  async function runWithStdin(args: string[], input: string): Promise<Run> {
    const { spawn } = await import('node:child_process');
    return new Promise((done) => {
      const child = spawn(process.execPath, [wranglerBin, ...args], { env: env(), cwd: project });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('exit', (code) => done({ status: code ?? 1, stdout, stderr }));
      child.stdin.end(input);
    });
  }
});

// `keelson simulate cloudflare` as a user runs it, with wrangler pointed at it.
describe.runIf(!missing)('keelson simulate cloudflare', { timeout: 180_000 }, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-simulate-cloudflare-'));
    mkdirSync(join(dir, 'home'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the three CLOUDFLARE_ variables, and keeps a bucket across a restart with --state', async () => {
    const keys = ['CLOUDFLARE_API_BASE_URL', 'CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID'];
    const statePath = join(dir, 'cloudflare.json');
    const first = await startSimulateChild('cloudflare', ['--state', statePath], keys);
    expect(Object.keys(first.env).sort()).toEqual([...keys].sort());
    expect(first.env.CLOUDFLARE_API_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/);
    const env = (e: Record<string, string>) => ({
      PATH: process.env.PATH,
      HOME: join(dir, 'home'),
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CI: 'true',
      WRANGLER_LOG_PATH: join(dir, 'logs'),
      ...e,
    });
    const created = await run(
      process.execPath,
      [wranglerBin, 'r2', 'bucket', 'create', 'kept-bucket'],
      env(first.env),
      dir,
    );
    expect(created.status, created.stderr).toBe(0);
    expect(await first.stop()).toBe(0);

    const second = await startSimulateChild('cloudflare', ['--state', statePath], keys);
    try {
      const listed = await run(process.execPath, [wranglerBin, 'r2', 'bucket', 'list'], env(second.env), dir);
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/name:\s+kept-bucket/);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
