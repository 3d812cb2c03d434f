import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { SecretValue } from '../../providers/sdk/index.ts';
import { CONFIG_KEYS, type ConfigKey } from './keys.ts';

/** The daemon's configuration once validated. Defaults are in `keys.ts` (and the README). */
export interface DaemonConfig {
  readonly source: GitSourceConfig | DirectorySourceConfig;
  readonly pollIntervalMs: number;
  /** Fraction of the interval added at random. Default 0.1. */
  readonly jitter: number;
  readonly mode: 'apply' | 'plan';
  readonly owner: string;
  readonly secretsDir: string;
  /** `secrets.source`; `secret-manager` carries its project and pinned versions (name to version). */
  readonly secrets:
    | { readonly source: 'env' | 'dir' }
    | {
        readonly source: 'secret-manager';
        readonly project: string;
        readonly versions: Readonly<Record<string, string>>;
      };
  readonly state:
    | { readonly backend: 'file'; readonly path: string }
    | { readonly backend: 'firestore'; readonly projectId: string; readonly collection: string };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly publicUrl: string;
    /** `http.links`: pages shown on the status page. */
    readonly links: readonly { readonly label: string; readonly url: string }[];
  };
  readonly webhook: { readonly secret?: SecretValue; readonly ratePerMinute: number };
  readonly pass: { readonly timeoutMs: number; readonly deletionBudget: number; readonly maxBackoffMs: number };
  /** Leader election among replicas (undefined: off, this replica always runs passes). */
  readonly lease: { readonly ttlMs: number; readonly renewMs: number; readonly holder: string } | undefined;
  readonly alerts: {
    readonly afterObservations: number;
    readonly reminderMs: number;
    readonly rocketchatUrl?: SecretValue;
    readonly webhook?: { readonly url: string; readonly secret: SecretValue };
  };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export interface GitSourceConfig {
  readonly type: 'git';
  readonly url: string;
  readonly branch: string;
  readonly path: string;
  readonly checkoutDir: string;
  readonly username: string;
  readonly token?: SecretValue;
  readonly sshKeyFile?: string;
  readonly knownHostsFile?: string;
  /** Set when commits must carry an allowed signature. */
  readonly verify?: { readonly keyringDir: string; readonly allowedKeys: readonly string[] };
}

export interface DirectorySourceConfig {
  readonly type: 'directory';
  readonly directory: string;
  readonly debounceMs: number;
}

/** One thing wrong with the configuration: where it came from, which key, what to do. */
export interface ConfigProblem {
  /** `keelson.yaml`, `KEELSON_HTTP_PORT`, or `configuration` for cross-key problems. */
  readonly where: string;
  readonly key: string;
  readonly message: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: DaemonConfig; readonly file?: string }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

type Raw = { value: unknown; where: string };

/**
 * Reads the configuration file (`--config F`, else `keelson.yaml` in `cwd` if it exists) and the
 * `KEELSON_*` environment (which wins), and validates all of it at once: every problem is listed.
 */
export function loadConfig(options: {
  readonly file?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}): ConfigResult {
  const problems: ConfigProblem[] = [];
  const raw = new Map<string, Raw>();
  const explicit = options.file !== undefined;
  const file = options.file ?? 'keelson.yaml';
  const filePath = isAbsolute(file) ? file : resolve(options.cwd, file);
  let usedFile: string | undefined;
  if (existsSync(filePath)) {
    usedFile = filePath;
    readFileValues(filePath, file, raw, problems);
  } else if (explicit) {
    problems.push({
      where: file,
      key: '--config',
      message: `file ${filePath} does not exist; pass an existing file or leave --config out`,
    });
  }
  for (const key of CONFIG_KEYS) {
    const fromEnv = options.env[key.env];
    if (fromEnv !== undefined && fromEnv !== '') raw.set(key.path, { value: fromEnv, where: key.env });
    if (key.type === 'secret') {
      const envFile = options.env[`${key.env}_FILE`];
      if (envFile) raw.set(`${key.path}File`, { value: envFile, where: `${key.env}_FILE` });
    }
  }
  const values = new Map<string, unknown>();
  for (const key of CONFIG_KEYS) {
    const got = raw.get(key.path);
    if (key.type === 'secret') {
      const secret = readSecret(key, got, raw.get(`${key.path}File`), options.cwd, problems);
      if (secret) values.set(key.path, secret);
      continue;
    }
    if (got === undefined) {
      if (key.default !== undefined) values.set(key.path, key.default);
      continue;
    }
    const parsed = coerce(key, got, problems);
    if (parsed !== undefined) values.set(key.path, parsed);
  }
  const config = assemble(values, options.cwd, problems);
  if (problems.length > 0 || !config) return { ok: false, problems };
  return usedFile ? { ok: true, config, file: usedFile } : { ok: true, config };
}

function readFileValues(path: string, shown: string, raw: Map<string, Raw>, problems: ConfigProblem[]): void {
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(path, 'utf8'), { lineCounter: lines });
  for (const error of doc.errors) {
    const pos = lines.linePos(error.pos[0]);
    problems.push({
      where: `${shown}:${pos.line}:${pos.col}`,
      key: '',
      message: `invalid YAML: ${error.message.split('\n')[0]}`,
    });
  }
  if (doc.errors.length > 0 || doc.contents === null) return;
  if (!isMap(doc.contents)) {
    problems.push({
      where: shown,
      key: '',
      message: 'the configuration file must be a mapping of keys (see README-daemon.md)',
    });
    return;
  }
  const known = new Set(CONFIG_KEYS.flatMap((k) => (k.type === 'secret' ? [k.path, `${k.path}File`] : [k.path])));
  const walk = (node: unknown, prefix: string): void => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const path = prefix ? `${prefix}.${name}` : name;
      const at = pair.key && isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
      const where = at ? `${shown}:${at.line}:${at.col}` : shown;
      if (isMap(pair.value)) {
        walk(pair.value, path);
        continue;
      }
      if (!known.has(path)) {
        problems.push({
          where,
          key: path,
          message: `unknown key; the known keys are listed in reconciler/README-daemon.md`,
        });
        continue;
      }
      const value = (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? null;
      raw.set(path, { value, where });
    }
  };
  walk(doc.contents, '');
}

function coerce(key: ConfigKey, got: Raw, problems: ConfigProblem[]): unknown {
  const fail = (what: string): undefined => {
    problems.push({ where: got.where, key: key.path, message: `${what} (got ${JSON.stringify(got.value)})` });
    return undefined;
  };
  const v = got.value;
  switch (key.type) {
    case 'string': {
      if (typeof v !== 'string' && typeof v !== 'number') return fail('must be a string');
      const s = String(v);
      if (key.oneOf && !key.oneOf.includes(s)) return fail(`must be one of ${key.oneOf.join(', ')}`);
      return s;
    }
    case 'integer':
    case 'number': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
      if (!Number.isFinite(n)) return fail(`must be a number`);
      if (key.type === 'integer' && !Number.isInteger(n)) return fail('must be a whole number');
      if (key.minimum !== undefined && n < key.minimum) return fail(`must be at least ${key.minimum}`);
      return n;
    }
    case 'boolean': {
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      return fail('must be true or false');
    }
    case 'list': {
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
      if (typeof v === 'string')
        return v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      return fail('must be a list of strings');
    }
    default:
      return undefined;
  }
}

function readSecret(
  key: ConfigKey,
  inline: Raw | undefined,
  file: Raw | undefined,
  cwd: string,
  problems: ConfigProblem[],
): SecretValue | undefined {
  if (file !== undefined) {
    if (typeof file.value !== 'string') {
      problems.push({ where: file.where, key: `${key.path}File`, message: 'must be a file path' });
      return undefined;
    }
    const path = isAbsolute(file.value) ? file.value : resolve(cwd, file.value);
    try {
      return new SecretValue(readFileSync(path, 'utf8').trim(), key.path);
    } catch (error) {
      problems.push({
        where: file.where,
        key: `${key.path}File`,
        message: `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); mount the file or fix the path`,
      });
      return undefined;
    }
  }
  if (inline === undefined) return undefined;
  if (inline.where !== key.env) {
    // A secret written into the config file would end up in backups and version control.
    problems.push({
      where: inline.where,
      key: key.path,
      message: `is a secret: give it as ${key.env} or as a file with ${key.path}File, not inline in the file`,
    });
    return undefined;
  }
  return new SecretValue(String(inline.value), key.path);
}

function assemble(values: Map<string, unknown>, cwd: string, problems: ConfigProblem[]): DaemonConfig | undefined {
  const str = (p: string) => values.get(p) as string | undefined;
  const num = (p: string) => values.get(p) as number;
  const secret = (p: string) => values.get(p) as SecretValue | undefined;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const url = str('source.url');
  const directory = str('source.directory');
  let source: DaemonConfig['source'] | undefined;
  if (url && directory) {
    problems.push({
      where: 'configuration',
      key: 'source.url',
      message: 'set either source.url (Git) or source.directory (local directory mode), not both',
    });
  } else if (directory) {
    source = { type: 'directory', directory: abs(directory), debounceMs: num('source.debounceMs') };
  } else if (url) {
    if (/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url)) {
      problems.push({
        where: 'configuration',
        key: 'source.url',
        message: 'the URL carries a password; remove it and use source.token / KEELSON_GIT_TOKEN(_FILE)',
      });
    }
    const verify = values.get('source.verifySignatures') === true;
    const keyringDir = str('source.keyringDir');
    if (verify && !keyringDir) {
      problems.push({
        where: 'configuration',
        key: 'source.keyringDir',
        message: 'source.verifySignatures is on: set source.keyringDir to a GnuPG home with the allowed public keys',
      });
    }
    const token = secret('source.token');
    const sshKeyFile = str('source.sshKeyFile');
    const knownHostsFile = str('source.knownHostsFile');
    source = {
      type: 'git',
      url,
      branch: str('source.branch') ?? 'main',
      path: str('source.path') ?? '.',
      checkoutDir: abs(str('source.checkoutDir') ?? '.keelson/checkout'),
      username: str('source.username') ?? 'git',
      ...(token ? { token } : {}),
      ...(sshKeyFile ? { sshKeyFile: abs(sshKeyFile) } : {}),
      ...(knownHostsFile ? { knownHostsFile: abs(knownHostsFile) } : {}),
      ...(verify && keyringDir
        ? { verify: { keyringDir: abs(keyringDir), allowedKeys: (values.get('source.allowedKeys') as string[]) ?? [] } }
        : {}),
    };
  } else {
    problems.push({
      where: 'configuration',
      key: 'source.url',
      message: 'no source: set source.url / KEELSON_SOURCE_URL (Git) or source.directory / KEELSON_SOURCE_DIRECTORY',
    });
  }
  const backend = str('state.backend');
  const project = str('state.firestoreProject');
  if (backend === 'firestore' && !project) {
    problems.push({
      where: 'configuration',
      key: 'state.firestoreProject',
      message: 'state.backend is firestore: set state.firestoreProject / KEELSON_FIRESTORE_PROJECT',
    });
  }
  const webhookUrl = str('alerts.webhookUrl');
  const webhookSecret = secret('alerts.webhookSecret');
  if (webhookUrl && !webhookSecret) {
    problems.push({
      where: 'configuration',
      key: 'alerts.webhookSecret',
      message:
        'alerts.webhookUrl is set: give its HMAC key as KEELSON_ALERT_WEBHOOK_SECRET or alerts.webhookSecretFile',
    });
  }
  const secrets = secretSourceConfig(values, problems);
  if (!source || !secrets || problems.length > 0) return undefined;
  const port = num('http.port');
  if (values.get('lease.enabled') !== false && num('lease.renewSeconds') * 2 > num('lease.ttlSeconds')) {
    problems.push({
      where: 'configuration',
      key: 'lease.renewSeconds',
      message: `the lease is renewed every ${num('lease.renewSeconds')} s but lasts ${num('lease.ttlSeconds')} s: renew at most every ttlSeconds / 2 (ttlSeconds / 3 is safer), or the leader loses it between renewals`,
    });
  }
  const webhook = secret('webhook.secret');
  const rocket = secret('alerts.rocketchatUrl');
  return {
    source,
    pollIntervalMs: num('source.pollIntervalSeconds') * 1000,
    jitter: num('source.jitter'),
    mode: str('mode') as 'apply' | 'plan',
    owner: str('owner') ?? 'keelson',
    secretsDir: abs(str('secretsDir') ?? '/run/secrets'),
    secrets,
    state:
      backend === 'firestore' && project
        ? { backend: 'firestore', projectId: project, collection: str('state.firestoreCollection') ?? 'keelson-state' }
        : { backend: 'file', path: abs(str('state.path') ?? '.keelson/state.json') },
    http: {
      host: str('http.host') ?? '0.0.0.0',
      port,
      publicUrl: (str('http.publicUrl') ?? `http://localhost:${port}`).replace(/\/$/, ''),
      links: statusLinks(values.get('http.links') as string[] | undefined, problems),
    },
    webhook: { ...(webhook ? { secret: webhook } : {}), ratePerMinute: num('webhook.ratePerMinute') },
    pass: {
      timeoutMs: num('pass.timeoutSeconds') * 1000,
      deletionBudget: num('pass.deletionBudget'),
      maxBackoffMs: num('pass.maxBackoffSeconds') * 1000,
    },
    lease:
      values.get('lease.enabled') === false
        ? undefined
        : {
            ttlMs: num('lease.ttlSeconds') * 1000,
            renewMs: num('lease.renewSeconds') * 1000,
            holder: str('lease.holder') ?? `${hostname()}-${process.pid}`,
          },
    alerts: {
      afterObservations: num('alerts.afterObservations'),
      reminderMs: num('alerts.reminderHours') * 3_600_000,
      ...(rocket ? { rocketchatUrl: rocket } : {}),
      ...(webhookUrl && webhookSecret ? { webhook: { url: webhookUrl, secret: webhookSecret } } : {}),
    },
    logLevel: str('log.level') as DaemonConfig['logLevel'],
  };
}

/** `Label=URL` entries; an entry without a label or with a URL that is not http(s) is a problem. */
function statusLinks(
  entries: readonly string[] | undefined,
  problems: ConfigProblem[],
): { label: string; url: string }[] {
  const links: { label: string; url: string }[] = [];
  for (const entry of entries ?? []) {
    const at = entry.indexOf('=');
    const label = entry.slice(0, at).trim();
    const url = entry.slice(at + 1).trim();
    let ok = at > 0 && label !== '';
    try {
      ok &&= ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (ok) links.push({ label, url });
    else
      problems.push({
        where: 'KEELSON_STATUS_LINKS',
        key: 'http.links',
        message: `${JSON.stringify(entry)} is not Label=URL with an http(s) URL (e.g. "Secrets UI=https://secrets.example.com/")`,
      });
  }
  return links;
}

function secretSourceConfig(
  values: Map<string, unknown>,
  problems: ConfigProblem[],
): DaemonConfig['secrets'] | undefined {
  const source = (values.get('secrets.source') as string | undefined) ?? 'dir';
  if (source !== 'secret-manager') return { source: source === 'env' ? 'env' : 'dir' };
  const project = values.get('secrets.project') as string | undefined;
  if (!project) {
    problems.push({
      where: 'configuration',
      key: 'secrets.project',
      message: 'secrets.source is secret-manager: set secrets.project / KEELSON_SECRET_MANAGER_PROJECT',
    });
  }
  const versions: Record<string, string> = {};
  for (const pin of (values.get('secrets.versions') as string[] | undefined) ?? []) {
    const m = /^([A-Za-z0-9._-]+)=([1-9][0-9]*|latest)$/.exec(pin.trim());
    if (m) versions[m[1] as string] = m[2] as string;
    else
      problems.push({
        where: 'configuration',
        key: 'secrets.versions',
        message: `"${pin.slice(0, 60)}" is not name=version (a version number or latest), e.g. api-token=3`,
      });
  }
  return project ? { source: 'secret-manager', project, versions } : undefined;
}

/** `where: key: message` lines, for the terminal. */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `  ${p.where}: ${p.key ? `${p.key}: ` : ''}${p.message}`).join('\n');
}
