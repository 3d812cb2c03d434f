/**
 * A chart's Compose file to keelson resources, as `docker stack deploy` would deploy it: every
 * name prefixed `<stack>_`, a `<stack>_default` network for services that name none, the
 * `com.docker.stack.namespace` label so `docker stack ps` still works. Values are interpolated
 * per scalar (Compose's rules, see interpolate.ts) before anything is read, and every problem is
 * reported with the chart file, line and column.
 */
import { posix } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { ExpandedDocument, ExpandIO } from '../../sdk/index.ts';
import { CONFIG_KIND } from '../kinds/config.ts';
import { NETWORK_KIND } from '../kinds/network.ts';
import { SECRET_KIND } from '../kinds/secret.ts';
import { SERVICE_KIND } from '../kinds/service-schema.ts';
import { InterpolationError, interpolate, interpolateText, type Values } from './interpolate.ts';

export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';

export interface ChartProblem {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** Everything wrong with a chart, each with its file:line:column. The message lists them all. */
export class ChartError extends Error {
  readonly problems: readonly ChartProblem[];
  constructor(problems: readonly ChartProblem[]) {
    const unique = [...new Map(problems.map((p) => [formatProblem(p), p])).values()];
    const sorted = unique.sort(
      (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
    );
    super(sorted.map(formatProblem).join('\n'));
    this.name = 'ChartError';
    this.problems = sorted;
  }
}

export function formatProblem(p: ChartProblem): string {
  return `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}: ${p.message}`;
}

type Json = Record<string, unknown>;
type Path = readonly (string | number)[];

/** A parsed, interpolated YAML file that can say where each value came from. */
class SourceFile {
  readonly file: string;
  readonly value: unknown;
  readonly #where = new Map<string, { line: number; column: number }>();
  readonly problems: ChartProblem[] = [];
  readonly syntaxError: boolean;

  constructor(file: string, text: string, values: Values | undefined) {
    this.file = file;
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, keepSourceTokens: true });
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      this.problems.push({ file, line: pos?.line, column: pos?.col, message: e.message.split('\n')[0] as string });
    }
    const at = (node: Node | null | undefined) => {
      const offset = node?.range?.[0];
      return offset === undefined
        ? { line: 0, column: 0 }
        : { line: lines.linePos(offset).line, column: lines.linePos(offset).col };
    };
    // An entry of a mapping is located at its key (where a reader looks for it), anything else at itself.
    const walk = (node: unknown, path: Path, keyNode?: unknown): unknown => {
      this.#where.set(key(path), at((keyNode ?? node) as Node));
      // An alias (*name) stands for its anchor; problems inside it point at the anchor.
      if (isAlias(node)) return walk(node.resolve(doc), path, keyNode ?? node);
      if (isMap(node)) {
        const out: Json = {};
        const merged: Json = {};
        for (const pair of node.items) {
          const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          if (k === '<<') {
            // A merge key (<<: *base, or a list of them): its entries fill what the map does not set.
            const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
            for (const src of sources) {
              const value = walk(src, path, pair.key);
              if (isObj(value)) for (const [mk, mv] of Object.entries(value)) if (!(mk in merged)) merged[mk] = mv;
            }
            continue;
          }
          out[k] = walk(pair.value, [...path, k], pair.key);
        }
        return { ...merged, ...out };
      }
      if (isSeq(node)) return node.items.map((item, i) => walk(item, [...path, i]));
      if (isScalar(node)) {
        // Compose reads 0440 as octal (YAML 1.1), as file modes are written.
        const source = (node.srcToken as { source?: string } | undefined)?.source;
        if (typeof node.value === 'number' && source && /^0[0-7]+$/.test(source)) return Number.parseInt(source, 8);
        if (typeof node.value !== 'string' || values === undefined) return node.value;
        try {
          return interpolate(node.value, values);
        } catch (error) {
          if (!(error instanceof InterpolationError)) throw error;
          // Point at the expression itself: the scalar's start plus the offset (plain scalars).
          const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
          const start = (node.range?.[0] ?? 0) + quoted + error.offset;
          const pos = lines.linePos(start);
          this.problems.push({ file, line: pos.line, column: pos.col, message: error.message });
          return '';
        }
      }
      return node === null || node === undefined ? null : ((node as { toJSON?: () => unknown }).toJSON?.() ?? null);
    };
    this.syntaxError = doc.errors.length > 0;
    this.value = this.syntaxError ? {} : walk(doc.contents, []);
  }

  problem(path: Path, message: string): void {
    const where = this.#where.get(key(path)) ?? this.#nearest(path);
    this.problems.push({
      file: this.file,
      line: where?.line || undefined,
      column: where?.column || undefined,
      message,
    });
  }

  #nearest(path: Path): { line: number; column: number } | undefined {
    for (let n = path.length - 1; n >= 0; n--) {
      const w = this.#where.get(key(path.slice(0, n)));
      if (w) return w;
    }
    return undefined;
  }
}

function key(path: Path): string {
  return JSON.stringify(path);
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Compose service keys keelson maps, and those `docker stack deploy` ignores too. */
const SERVICE_KEYS = new Set([
  'image',
  'command',
  'entrypoint',
  'environment',
  'labels',
  'deploy',
  'ports',
  'networks',
  'secrets',
  'configs',
  'volumes',
  'healthcheck',
  'hostname',
  'user',
  'working_dir',
  'init',
  'stop_grace_period',
  'tmpfs',
]);
const IGNORED_SERVICE_KEYS = new Set(['depends_on', 'restart', 'container_name', 'links', 'build']);
const DEPLOY_KEYS = new Set([
  'mode',
  'replicas',
  'placement',
  'resources',
  'restart_policy',
  'update_config',
  'rollback_config',
  'labels',
  'endpoint_mode',
]);

export interface StackInput {
  readonly stack: string;
  readonly chart: string;
  readonly values: Values;
}

/** Where a chart lives: `traefik` is `charts/traefik`; a path with a slash is taken from the repository root. */
export function chartDir(chart: string): string {
  return chart.includes('/') ? posix.normalize(chart.replace(/^\.\//, '')) : `charts/${chart}`;
}

/** Expands a chart into documents; throws `ChartError` listing every problem. */
export function expandChart(input: StackInput, io: ExpandIO): ExpandedDocument[] {
  const dir = chartDir(input.chart);
  const composePath = `${dir}/docker-compose.yml`;
  const valuesPath = `${dir}/values.yaml`;
  const read = (path: string): string | undefined => {
    try {
      return io.readFile(path);
    } catch {
      return undefined;
    }
  };
  const composeText = read(composePath);
  if (composeText === undefined) {
    throw new ChartError([
      { file: composePath, message: `chart "${input.chart}" not found (no ${composePath} under ${io.root})` },
    ]);
  }
  const valuesText = read(valuesPath);
  const defaults = valuesText === undefined ? undefined : new SourceFile(valuesPath, valuesText, undefined);
  if (defaults?.syntaxError) throw new ChartError(defaults.problems);
  if (defaults && defaults.value !== null && !isObj(defaults.value)) {
    throw new ChartError([{ file: valuesPath, line: 1, message: 'values.yaml must be a mapping of names to values' }]);
  }
  const values = deepMerge((defaults?.value as Json | null) ?? {}, input.values as Json);
  const compose = new SourceFile(composePath, composeText, values);
  // A file that does not parse has nothing to map; interpolation problems are reported with the rest.
  if (compose.syntaxError) throw new ChartError(compose.problems);
  const docs = new ComposeMapper(input.stack, dir, compose, values, io).map();
  if (compose.problems.length) throw new ChartError(compose.problems);
  return docs;
}

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over ?? {}))
    out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Json, v) : v;
  return out;
}

class ComposeMapper {
  readonly #stack: string;
  readonly #dir: string;
  readonly #src: SourceFile;
  readonly #values: Values;
  readonly #io: ExpandIO;
  readonly #docs: ExpandedDocument[] = [];
  /** Compose name -> what services write (a keelson name, or an external name). */
  readonly #networks = new Map<string, { name: string; key?: string }>();
  readonly #secrets = new Map<string, { external?: string; key?: string }>();
  readonly #configs = new Map<string, { external?: string; key?: string }>();
  readonly #volumes = new Map<string, string>();

  constructor(stack: string, dir: string, src: SourceFile, values: Values, io: ExpandIO) {
    this.#stack = stack;
    this.#dir = dir;
    this.#src = src;
    this.#values = values;
    this.#io = io;
  }

  #name(n: string): string {
    return `${this.#stack}_${n}`;
  }

  map(): ExpandedDocument[] {
    const top = this.#src.value;
    if (!isObj(top)) {
      this.#src.problem([], 'a Compose file must be a mapping with a services: section');
      return [];
    }
    for (const k of Object.keys(top)) {
      if (
        !['version', 'name', 'services', 'networks', 'secrets', 'configs', 'volumes'].includes(k) &&
        !k.startsWith('x-')
      ) {
        this.#src.problem([k], `unsupported top-level key "${k}"`);
      }
    }
    this.#mapNetworks(top.networks);
    this.#mapObjects('secrets', top.secrets);
    this.#mapObjects('configs', top.configs);
    this.#mapVolumes(top.volumes);
    if (!isObj(top.services) || Object.keys(top.services).length === 0) {
      this.#src.problem(['services'], 'the chart defines no services');
      return this.#docs;
    }
    for (const [name, svc] of Object.entries(top.services)) this.#mapService(name, svc);
    return this.#docs;
  }

  #mapNetworks(networks: unknown): void {
    if (networks === undefined || networks === null) return;
    if (!isObj(networks)) {
      this.#src.problem(['networks'], 'networks: must be a mapping');
      return;
    }
    for (const [name, raw] of Object.entries(networks)) {
      const n = isObj(raw) ? raw : {};
      const path = ['networks', name];
      if (n.external === true) {
        this.#networks.set(name, { name: typeof n.name === 'string' ? n.name : name });
        continue;
      }
      const full = typeof n.name === 'string' ? n.name : this.#name(name);
      const spec: Json = {
        driver: typeof n.driver === 'string' ? n.driver : 'overlay',
        labels: { ...this.#labels([...path, 'labels'], n.labels), [STACK_NAMESPACE_LABEL]: this.#stack },
      };
      if (n.attachable !== undefined) spec.attachable = this.#bool([...path, 'attachable'], n.attachable);
      if (n.internal !== undefined) spec.internal = this.#bool([...path, 'internal'], n.internal);
      if (n.driver_opts !== undefined) spec.options = this.#labels([...path, 'driver_opts'], n.driver_opts);
      this.#networks.set(name, { name: full, key: `${NETWORK_KIND}/${full}` });
      this.#docs.push({ kind: NETWORK_KIND, name: full, spec });
    }
  }

  #mapObjects(section: 'secrets' | 'configs', objects: unknown): void {
    if (objects === undefined || objects === null) return;
    if (!isObj(objects)) {
      this.#src.problem([section], `${section}: must be a mapping`);
      return;
    }
    const table = section === 'secrets' ? this.#secrets : this.#configs;
    for (const [name, raw] of Object.entries(objects)) {
      const o = isObj(raw) ? raw : {};
      const path = [section, name];
      if (o.external === true) {
        table.set(name, { external: typeof o.name === 'string' ? o.name : name });
        continue;
      }
      const full = this.#name(name);
      const kind = section === 'secrets' ? SECRET_KIND : CONFIG_KIND;
      const labels = { ...this.#labels([...path, 'labels'], o.labels), [STACK_NAMESPACE_LABEL]: this.#stack };
      let data: unknown;
      if (section === 'secrets') {
        const ref = o['x-keelson-secret-ref'] ?? o.environment;
        if (typeof ref !== 'string' || ref === '') {
          this.#src.problem(
            path,
            `secret "${name}" needs a value from the secret source: write "x-keelson-secret-ref: NAME" (or "environment: NAME"), or mark it external: true; a file: would put the secret in Git`,
          );
          continue;
        }
        data = { secretRef: ref };
      } else if (typeof o.content === 'string') {
        data = o.content;
      } else if (typeof o.file === 'string') {
        const file = posix.join(this.#dir, o.file);
        let text: string;
        try {
          text = this.#io.readFile(file);
        } catch {
          this.#src.problem([...path, 'file'], `config "${name}": cannot read ${file}`);
          continue;
        }
        if (o['x-keelson-interpolate'] === true) {
          try {
            text = interpolateText(text, this.#values);
          } catch (error) {
            if (!(error instanceof InterpolationError)) throw error;
            const before = text.slice(0, error.offset).split('\n');
            this.#src.problems.push({
              file,
              line: before.length,
              column: (before.at(-1)?.length ?? 0) + 1,
              message: error.message,
            });
            continue;
          }
        }
        data = text;
      } else {
        this.#src.problem(
          path,
          `config "${name}" needs file: (relative to ${this.#dir}) or content:, or external: true`,
        );
        continue;
      }
      table.set(name, { key: `${kind}/${full}` });
      this.#docs.push({ kind, name: full, spec: { data, labels } });
    }
  }

  #mapVolumes(volumes: unknown): void {
    if (volumes === undefined || volumes === null) return;
    if (!isObj(volumes)) {
      this.#src.problem(['volumes'], 'volumes: must be a mapping');
      return;
    }
    for (const [name, raw] of Object.entries(volumes)) {
      const v = isObj(raw) ? raw : {};
      if (v.driver !== undefined || v.driver_opts !== undefined) {
        this.#src.problem(
          ['volumes', name],
          `volume "${name}": driver and driver_opts are not supported yet (volumes are created by the engine on first use)`,
        );
      }
      this.#volumes.set(name, typeof v.name === 'string' ? v.name : v.external === true ? name : this.#name(name));
    }
  }

  #mapService(name: string, raw: unknown): void {
    const path: Path = ['services', name];
    if (!isObj(raw)) {
      this.#src.problem(path, `service "${name}" must be a mapping`);
      return;
    }
    for (const k of Object.keys(raw)) {
      if (!SERVICE_KEYS.has(k) && !IGNORED_SERVICE_KEYS.has(k) && !k.startsWith('x-')) {
        this.#src.problem([...path, k], `service "${name}": unsupported key "${k}"`);
      }
    }
    if (typeof raw.image !== 'string' || raw.image === '') {
      // Reported, and the rest of the service is still checked.
      this.#src.problem([...path, 'image'], `service "${name}" needs an image`);
    }
    const full = this.#name(name);
    const dependsOn = new Set<string>();
    const spec: Json = {
      image: String(raw.image ?? ''),
      labels: { [STACK_NAMESPACE_LABEL]: this.#stack },
      containerLabels: { ...this.#labels([...path, 'labels'], raw.labels), [STACK_NAMESPACE_LABEL]: this.#stack },
    };
    if (raw.entrypoint !== undefined) spec.command = this.#command([...path, 'entrypoint'], raw.entrypoint);
    if (raw.command !== undefined) spec.args = this.#command([...path, 'command'], raw.command);
    if (raw.environment !== undefined) spec.env = this.#env([...path, 'environment'], raw.environment);
    if (typeof raw.hostname === 'string') spec.hostname = raw.hostname;
    if (raw.user !== undefined) spec.user = String(raw.user);
    if (typeof raw.working_dir === 'string') spec.workdir = raw.working_dir;
    if (raw.init !== undefined) spec.init = this.#bool([...path, 'init'], raw.init);
    if (raw.stop_grace_period !== undefined) spec.stopGracePeriod = String(raw.stop_grace_period);
    const ports = this.#ports([...path, 'ports'], raw.ports);
    if (ports.length) spec.ports = ports;
    spec.networks = this.#serviceNetworks([...path, 'networks'], raw.networks, dependsOn);
    const secrets = this.#files([...path, 'secrets'], 'secrets', raw.secrets, dependsOn);
    if (secrets.length) spec.secrets = secrets;
    const configs = this.#files([...path, 'configs'], 'configs', raw.configs, dependsOn);
    if (configs.length) spec.configs = configs;
    const mounts = this.#mounts([...path, 'volumes'], raw.volumes, raw.tmpfs);
    if (mounts.length) spec.mounts = mounts;
    if (raw.healthcheck !== undefined) {
      const h = this.#healthcheck([...path, 'healthcheck'], raw.healthcheck);
      if (h) spec.healthcheck = h;
    }
    if (raw.deploy !== undefined) this.#deploy([...path, 'deploy'], raw.deploy, spec);
    this.#docs.push({ kind: SERVICE_KIND, name: full, spec, dependsOn: [...dependsOn].sort() });
  }

  #bool(path: Path, v: unknown): boolean {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    this.#src.problem(path, `expected true or false, got ${JSON.stringify(v)}`);
    return false;
  }

  #int(path: Path, v: unknown): number | undefined {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
    if (Number.isInteger(n) && n >= 0) return n;
    this.#src.problem(path, `expected a whole number, got ${JSON.stringify(v)}`);
    return undefined;
  }

  #number(path: Path, v: unknown): number | undefined {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
    if (Number.isFinite(n) && n >= 0) return n;
    this.#src.problem(path, `expected a number, got ${JSON.stringify(v)}`);
    return undefined;
  }

  /** A map, or a list of `KEY=VALUE`, to a map of strings. */
  #labels(path: Path, v: unknown): Record<string, string> {
    if (v === undefined || v === null) return {};
    const out: Record<string, string> = {};
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        const s = String(item);
        const eq = s.indexOf('=');
        if (eq <= 0) this.#src.problem([...path, i], `expected KEY=VALUE, got ${JSON.stringify(item)}`);
        else out[s.slice(0, eq)] = s.slice(eq + 1);
      });
      return out;
    }
    if (!isObj(v)) {
      this.#src.problem(path, 'expected a mapping or a list of KEY=VALUE');
      return out;
    }
    for (const [k, x] of Object.entries(v))
      out[k] = x === null || x === undefined ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x);
    return out;
  }

  #env(path: Path, v: unknown): Record<string, string> {
    return this.#labels(path, v);
  }

  /** Compose's command: a list as it is, or a string split like a shell would. */
  #command(path: Path, v: unknown): string[] {
    if (Array.isArray(v)) return v.map(String);
    if (typeof v === 'string') {
      const words = shellSplit(v);
      if (words) return words;
      this.#src.problem(path, 'unbalanced quotes in the command');
      return [];
    }
    this.#src.problem(path, 'expected a string or a list of strings');
    return [];
  }

  #ports(path: Path, v: unknown): Json[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.#src.problem(path, 'ports: must be a list');
      return [];
    }
    const out: Json[] = [];
    v.forEach((p, i) => {
      if (isObj(p)) {
        const target = this.#int([...path, i, 'target'], p.target);
        const published = this.#int([...path, i, 'published'], p.published);
        if (target === undefined || published === undefined) return;
        out.push({ target, published, protocol: String(p.protocol ?? 'tcp'), mode: String(p.mode ?? 'ingress') });
        return;
      }
      const m = /^(?:(?:[\d.]+):)?(\d+):(\d+)(?:\/(tcp|udp|sctp))?$/.exec(String(p));
      if (!m) {
        this.#src.problem(
          [...path, i],
          `port ${JSON.stringify(p)}: write PUBLISHED:TARGET[/udp] (a port with no published side gets a random one, which keelson cannot keep stable)`,
        );
        return;
      }
      out.push({ target: Number(m[2]), published: Number(m[1]), protocol: m[3] ?? 'tcp', mode: 'ingress' });
    });
    return out;
  }

  #serviceNetworks(path: Path, v: unknown, dependsOn: Set<string>): Json[] {
    // [compose network name, its options, where it is written]
    const entries: [string, Json, string | number][] = [];
    if (v === undefined || v === null) {
      // docker stack deploy puts a service that names no network on <stack>_default.
      if (!this.#networks.has('default')) {
        const full = this.#name('default');
        this.#networks.set('default', { name: full, key: `${NETWORK_KIND}/${full}` });
        this.#docs.push({
          kind: NETWORK_KIND,
          name: full,
          spec: { driver: 'overlay', labels: { [STACK_NAMESPACE_LABEL]: this.#stack } },
        });
      }
      entries.push(['default', {}, 0]);
    } else if (Array.isArray(v)) {
      v.forEach((n, i) => {
        entries.push([String(n), {}, i]);
      });
    } else if (isObj(v)) {
      for (const [n, o] of Object.entries(v)) entries.push([n, isObj(o) ? o : {}, n]);
    } else {
      this.#src.problem(path, 'networks: must be a list or a mapping');
    }
    const out: Json[] = [];
    for (const [n, o, at] of entries) {
      const net = this.#networks.get(n);
      if (!net) {
        this.#src.problem([...path, at], `network "${n}" is not defined in the top-level networks: section`);
        continue;
      }
      if (net.key) dependsOn.add(net.key);
      const entry: Json = { name: net.name };
      if (Array.isArray(o.aliases)) entry.aliases = o.aliases.map(String);
      out.push(entry);
    }
    return out;
  }

  #files(path: Path, section: 'secrets' | 'configs', v: unknown, dependsOn: Set<string>): Json[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.#src.problem(path, `${section}: must be a list`);
      return [];
    }
    const table = section === 'secrets' ? this.#secrets : this.#configs;
    const out: Json[] = [];
    v.forEach((item, i) => {
      const o: Json = isObj(item) ? item : { source: item };
      const source = String(o.source ?? '');
      const known = table.get(source);
      if (!known) {
        this.#src.problem(
          [...path, i],
          `${section === 'secrets' ? 'secret' : 'config'} "${source}" is not defined in the top-level ${section}: section`,
        );
        return;
      }
      if (known.key) dependsOn.add(known.key);
      const entry: Json = {
        source: known.key ? { ref: known.key, output: 'name' } : known.external,
        target: o.target === undefined ? (section === 'secrets' ? source : `/${source}`) : String(o.target),
      };
      if (o.uid !== undefined) entry.uid = String(o.uid);
      if (o.gid !== undefined) entry.gid = String(o.gid);
      if (o.mode !== undefined) entry.mode = this.#int([...path, i, 'mode'], o.mode) ?? 0o444;
      out.push(entry);
    });
    return out;
  }

  #mounts(path: Path, volumes: unknown, tmpfs: unknown): Json[] {
    const out: Json[] = [];
    if (Array.isArray(volumes)) {
      volumes.forEach((v, i) => {
        if (isObj(v)) {
          const type = String(v.type ?? 'volume');
          const source = v.source === undefined ? '' : String(v.source);
          out.push({
            type,
            source: type === 'volume' && source ? this.#volume([...path, i, 'source'], source) : source,
            target: String(v.target ?? ''),
            readOnly: v.read_only === true,
          });
          return;
        }
        const parts = String(v).split(':');
        if (parts.length === 1) {
          out.push({ type: 'volume', source: '', target: parts[0] as string });
          return;
        }
        const [source, target, mode] = parts as [string, string, string | undefined];
        const bind = source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
        if (bind && !source.startsWith('/')) {
          this.#src.problem(
            [...path, i],
            `bind mount "${source}": use an absolute host path (a path relative to the chart means nothing on a Swarm node)`,
          );
          return;
        }
        out.push({
          type: bind ? 'bind' : 'volume',
          source: bind ? source : this.#volume([...path, i], source),
          target,
          readOnly: mode === 'ro',
        });
      });
    } else if (volumes !== undefined && volumes !== null) {
      this.#src.problem(path, 'volumes: must be a list');
    }
    for (const t of Array.isArray(tmpfs) ? tmpfs : typeof tmpfs === 'string' ? [tmpfs] : []) {
      out.push({ type: 'tmpfs', source: '', target: String(t) });
    }
    return out;
  }

  #volume(path: Path, name: string): string {
    const full = this.#volumes.get(name);
    if (full === undefined)
      this.#src.problem(path, `volume "${name}" is not defined in the top-level volumes: section`);
    return full ?? name;
  }

  #healthcheck(path: Path, v: unknown): Json | undefined {
    if (!isObj(v)) {
      this.#src.problem(path, 'healthcheck: must be a mapping');
      return undefined;
    }
    if (v.disable === true) return { test: ['NONE'] };
    const test =
      typeof v.test === 'string' ? ['CMD-SHELL', v.test] : Array.isArray(v.test) ? v.test.map(String) : undefined;
    if (!test) {
      this.#src.problem([...path, 'test'], 'healthcheck needs a test: (a string or a list)');
      return undefined;
    }
    const h: Json = { test };
    if (v.interval !== undefined) h.interval = String(v.interval);
    if (v.timeout !== undefined) h.timeout = String(v.timeout);
    if (v.retries !== undefined) h.retries = this.#int([...path, 'retries'], v.retries) ?? 0;
    if (v.start_period !== undefined) h.startPeriod = String(v.start_period);
    return h;
  }

  #deploy(path: Path, v: unknown, spec: Json): void {
    if (!isObj(v)) {
      this.#src.problem(path, 'deploy: must be a mapping');
      return;
    }
    for (const k of Object.keys(v))
      if (!DEPLOY_KEYS.has(k)) this.#src.problem([...path, k], `deploy: unsupported key "${k}"`);
    const d: Json = {};
    if (v.mode !== undefined) {
      if (v.mode !== 'replicated' && v.mode !== 'global')
        this.#src.problem([...path, 'mode'], `deploy.mode must be replicated or global, got ${JSON.stringify(v.mode)}`);
      d.mode = v.mode;
    }
    if (v.replicas !== undefined) d.replicas = this.#int([...path, 'replicas'], v.replicas);
    if (v.endpoint_mode !== undefined) spec.endpointMode = String(v.endpoint_mode);
    if (v.labels !== undefined)
      spec.labels = { ...this.#labels([...path, 'labels'], v.labels), [STACK_NAMESPACE_LABEL]: this.#stack };
    if (isObj(v.placement)) {
      const p = v.placement;
      const placement: Json = {};
      if (Array.isArray(p.constraints)) placement.constraints = p.constraints.map(String);
      if (Array.isArray(p.preferences)) {
        placement.preferences = p.preferences.map((x, i) => {
          const spread = isObj(x) ? x.spread : undefined;
          if (typeof spread !== 'string')
            this.#src.problem([...path, 'placement', 'preferences', i], 'expected { spread: node.labels.NAME }');
          return String(spread ?? '');
        });
      }
      if (p.max_replicas_per_node !== undefined)
        placement.maxReplicas = this.#int([...path, 'placement', 'max_replicas_per_node'], p.max_replicas_per_node);
      d.placement = placement;
    }
    if (isObj(v.resources)) {
      const resources: Json = {};
      for (const side of ['limits', 'reservations'] as const) {
        const r = v.resources[side];
        if (!isObj(r)) continue;
        const out: Json = {};
        if (r.cpus !== undefined) out.cpus = this.#number([...path, 'resources', side, 'cpus'], r.cpus);
        if (r.memory !== undefined) out.memory = String(r.memory);
        if (side === 'limits' && r.pids !== undefined)
          out.pids = this.#int([...path, 'resources', side, 'pids'], r.pids);
        resources[side] = out;
      }
      d.resources = resources;
    }
    if (isObj(v.restart_policy)) {
      const r = v.restart_policy;
      const out: Json = {};
      if (r.condition !== undefined) out.condition = String(r.condition);
      if (r.delay !== undefined) out.delay = String(r.delay);
      if (r.max_attempts !== undefined)
        out.maxAttempts = this.#int([...path, 'restart_policy', 'max_attempts'], r.max_attempts);
      if (r.window !== undefined) out.window = String(r.window);
      d.restartPolicy = out;
    }
    for (const [from, to] of [
      ['update_config', 'updateConfig'],
      ['rollback_config', 'rollbackConfig'],
    ] as const) {
      const c = v[from];
      if (!isObj(c)) continue;
      const out: Json = {};
      if (c.parallelism !== undefined) out.parallelism = this.#int([...path, from, 'parallelism'], c.parallelism);
      if (c.delay !== undefined) out.delay = String(c.delay);
      if (c.failure_action !== undefined) out.failureAction = String(c.failure_action);
      if (c.monitor !== undefined) out.monitor = String(c.monitor);
      if (c.max_failure_ratio !== undefined)
        out.maxFailureRatio = this.#number([...path, from, 'max_failure_ratio'], c.max_failure_ratio);
      if (c.order !== undefined) out.order = String(c.order);
      d[to] = out;
    }
    spec.deploy = d;
  }
}

/** Splits a command line like a POSIX shell does for words and quotes; `undefined` if quotes do not balance. */
export function shellSplit(line: string): string[] | undefined {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length && '"\\$`'.includes(line[i + 1] as string))
        cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) words.push(cur);
  return words;
}
