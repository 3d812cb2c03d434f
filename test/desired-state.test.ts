import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { desiredStateJsonSchema } from '../reconciler/desired/json-schema.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';

const root = join(import.meta.dirname, '..');
const registry = new ProviderRegistry(builtinModules);

describe("the company's desired state (desired-state/)", () => {
  const loaded = loadDesiredState(join(root, 'desired-state'), registry, { root });

  it('is valid: no diagnostics at all', () => {
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.resources.length).toBeGreaterThan(20);
  });

  it('covers every provider', () => {
    expect(new Set(loaded.resources.map((r) => r.provider))).toEqual(
      new Set(['hetzner', 'cloudflare', 'swarm', 'gcp']),
    );
  });

  it('has the committed JSON Schema up to date (run "npm run schema" after changing a kind)', () => {
    const committed = JSON.parse(readFileSync(join(root, 'desired-state', 'keelson.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(desiredStateJsonSchema(registry.schemas()))));
  });

  it('passes the JSON Schema editors use, document by document (so the schema accepts what keelson accepts)', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(desiredStateJsonSchema(registry.schemas()));
    const files = [...new Set(loaded.resources.map((r) => r.source?.file))];
    let checked = 0;
    for (const file of files) {
      for (const doc of parseAllDocuments(readFileSync(join(root, 'desired-state', file as string), 'utf8'))) {
        const value = doc.toJS();
        if (value === null) continue;
        checked++;
        expect(validate(value), `${file} ${value.kind}/${value.name}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('the JSON Schema rejects an unknown field and an inline secret, as keelson does', () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(desiredStateJsonSchema(registry.schemas()));
    expect(validate({ kind: 'swarm.Stack', name: 'x', spec: { chart: 'traefik', colour: 1 } })).toBe(false);
    expect(validate({ kind: 'swarm.Secret', name: 'x', spec: { data: 'inline-value' } })).toBe(false);
  });

  describe("the Swarm nodes' cloud-init user data", () => {
    const node = (n: number) => loaded.resources.find((r) => r.key === `hetzner.Server/swarm-${n}`);
    const userData = (n: number) => String(node(n)?.spec.userData ?? '');
    const files = (n: number) =>
      (parse(userData(n)) as { write_files: { path: string; content: string }[] }).write_files;

    it('is a cloud-config document per node that runs the join script', () => {
      for (const n of [1, 2, 3]) {
        expect(userData(n).startsWith('#cloud-config\n')).toBe(true);
        const doc = parse(userData(n)) as { runcmd: string[][] };
        expect(doc.runcmd).toEqual([['/usr/local/sbin/keelson-swarm']]);
        expect(files(n).find((f) => f.path === '/etc/keelson-swarm.env')?.content).toBe(
          `NODE_IP=10.0.1.1${n}\nFIRST_IP=10.0.1.11\nPEER_IPS=${[1, 2, 3]
            .filter((m) => m !== n)
            .map((m) => `10.0.1.1${m}`)
            .join(',')}\nTOKEN_PORT=2380\n`,
        );
      }
      // Hetzner accepts at most 32 KiB of user data.
      for (const n of [1, 2, 3]) expect(Buffer.byteLength(userData(n))).toBeLessThan(32 * 1024);
    });

    it('the three nodes run the same script; only the first serves the join token', () => {
      const script = (n: number) => files(n).find((f) => f.path === '/usr/local/sbin/keelson-swarm')?.content;
      expect(script(1)).toBeTruthy();
      expect(script(2)).toBe(script(1));
      expect(script(3)).toBe(script(1));
      expect(files(1).map((f) => f.path)).toContain('/usr/local/sbin/keelson-join-token');
      expect(files(2).map((f) => f.path)).not.toContain('/usr/local/sbin/keelson-join-token');
    });

    it('its scripts parse (bash -n, python3 py_compile) and never print the token', () => {
      const dir = mkdtempSync(join(tmpdir(), 'keelson-cloud-init-'));
      const script = files(1).find((f) => f.path === '/usr/local/sbin/keelson-swarm')?.content as string;
      const server = files(1).find((f) => f.path === '/usr/local/sbin/keelson-join-token')?.content as string;
      writeFileSync(join(dir, 'keelson-swarm'), script);
      writeFileSync(join(dir, 'keelson-join-token.py'), server);
      execFileSync('bash', ['-n', join(dir, 'keelson-swarm')]);
      execFileSync('python3', ['-m', 'py_compile', join(dir, 'keelson-join-token.py')]);
      // The token is only ever in a shell variable and an HTTP body: no echo/log of it.
      expect(script).not.toMatch(/(echo|log)[^\n]*\$token/);
      expect(server).not.toMatch(/print\(/);
      // The Swarm listens and advertises on the private address only.
      expect(script).toContain('--advertise-addr "$NODE_IP" --listen-addr "$NODE_IP:2377" --data-path-addr "$NODE_IP"');
    });
  });

  describe('the whole seed (../shared/seed/architecture-diagrams.md)', () => {
    // The documents as written (a swarm.Stack is expanded by the loader into its services, secrets, ...).
    const written = readdirSync(join(root, 'desired-state'), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => parseAllDocuments(readFileSync(join(root, 'desired-state', f), 'utf8')).map((d) => d.toJS()))
      .filter((d): d is { kind: string; name: string; spec: Record<string, unknown> } => d !== null);
    const specs = (kind: string) => written.filter((r) => r.kind === kind);
    const names = (kind: string) => specs(kind).map((r) => r.name);

    it('deploys every chart as a stack, the Sync App, the MongoDB listener and keelson included', () => {
      const charts = readdirSync(join(root, 'charts'), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
      expect(new Set(specs('swarm.Stack').map((r) => r.spec.chart))).toEqual(new Set(charts));
      expect(names('swarm.Stack')).toEqual(expect.arrayContaining(['sync-app', 'mongo-listener', 'keelson']));
    });

    it('labels the nodes for every placement constraint the charts use', () => {
      const labels = specs('swarm.Node').map((n) => (n.spec.labels ?? {}) as Record<string, string>);
      expect(names('swarm.Node').sort()).toEqual(names('hetzner.Server').sort());
      // node.labels.X == V in a chart's compose file or values: some node must carry X=V.
      const wanted = new Set<string>();
      for (const chart of readdirSync(join(root, 'charts'), { withFileTypes: true }).filter((d) => d.isDirectory()))
        for (const file of ['docker-compose.yml', 'values.yaml']) {
          const text = readFileSync(join(root, 'charts', chart.name, file), 'utf8');
          for (const m of text.matchAll(/node\.labels\.([\w.-]+)\s*==\s*([\w.-]+)/g)) wanted.add(`${m[1]}=${m[2]}`);
        }
      expect(wanted.size).toBeGreaterThanOrEqual(5);
      for (const want of wanted) {
        const [key, value] = want.split('=') as [string, string];
        expect(
          labels.some((l) => l[key] === value),
          `no swarm.Node carries ${want}`,
        ).toBe(true);
      }
      // one MongoDB member per node
      expect(labels.map((l) => l.mongo).sort()).toEqual(['1', '2', '3']);
    });

    it('has a DNS record for every public name the stacks and the Secrets UI answer on', () => {
      const records = new Set(specs('cloudflare.DnsRecord').map((r) => `${r.spec.name}.${r.spec.zone}`));
      const hosts = new Set<string>();
      for (const stack of specs('swarm.Stack')) {
        const values = (stack.spec.values ?? {}) as Record<string, unknown>;
        for (const key of ['HOST', 'DASHBOARD_HOST']) if (typeof values[key] === 'string') hosts.add(values[key]);
      }
      const vercel = JSON.parse(readFileSync(join(root, 'desired-state/vercel/secrets-ui.project.json'), 'utf8'));
      for (const d of vercel.project.domains) hosts.add(d);
      for (const r of specs('cloudflare.WorkerRoute')) hosts.add(String(r.spec.pattern).split('/')[0] as string);
      expect([...hosts].sort()).toEqual([
        'auth.example.com',
        'chat.example.com',
        'hooks.example.com',
        'keelson.example.com',
        'netdata.example.com',
        'secrets.example.com',
        'traefik.example.com',
      ]);
      for (const host of hosts) expect(records.has(host), `no cloudflare.DnsRecord for ${host}`).toBe(true);
    });

    it("the Secrets UI's Vercel settings name only documented variables and every one the app requires", () => {
      const vercel = JSON.parse(readFileSync(join(root, 'desired-state/vercel/secrets-ui.project.json'), 'utf8'));
      const readme = readFileSync(join(root, 'secrets-ui/README.md'), 'utf8');
      const server = readFileSync(join(root, 'secrets-ui/server.ts'), 'utf8');
      const set = [...Object.keys(vercel.env.plain), ...Object.keys(vercel.env.sensitive)];
      for (const name of set) expect(readme, `${name} is not in secrets-ui/README.md`).toContain(`\`${name}\``);
      // what server.ts calls need(...) for, except the directory store's folder (the demo's store)
      const required = [...server.matchAll(/need\('(\w+)'\)/g)]
        .map((m) => m[1])
        .filter((n) => n !== 'SECRETS_UI_SECRETS_DIR');
      for (const name of required) expect(set, `${name} is required by secrets-ui/server.ts`).toContain(name);
      expect(vercel.project.rootDirectory).toBe('secrets-ui');
      // secrets are names of secret-source entries, never values
      for (const ref of Object.values(vercel.env.sensitive)) expect(ref).toMatch(/^[a-z0-9-]+$/);
    });
  });

  it('desired-state/README.md maps the architecture to resources that exist', () => {
    const readme = readFileSync(join(root, 'desired-state/README.md'), 'utf8');
    const keys = [...readme.matchAll(/`((?:hetzner|swarm|cloudflare|gcp)\.[A-Za-z]+\/[\w.-]+)`/g)].map((m) => m[1]);
    expect(keys.length).toBeGreaterThan(30);
    const present = new Set([
      ...loaded.resources.map((r) => r.key),
      // a swarm.Stack is expanded by the loader: its key is each object's parent
      ...loaded.resources.map((r) => r.parent).filter((p): p is string => typeof p === 'string'),
    ]);
    expect(keys.filter((k) => !present.has(k as string))).toEqual([]);
  });
});
