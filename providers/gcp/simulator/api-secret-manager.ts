import { ApiError, alreadyExists, failedPrecondition, invalidArgument, notFound, raise } from './api-error.ts';
import type { SimContext } from './context.ts';
import { crc32c } from './crc32c.ts';
import { canonical } from './proto-types.ts';
import { applyMask, checkId, checkLabels, etagOf, maskPaths, page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { Json } from './state.ts';

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * Secret Manager v1: secrets (labels, annotations, replication), versions (add, get, list, access,
 * enable, disable, destroy; `latest` is the newest version). Names use the project number, as GCP answers.
 */
export function secretManagerRoutes(ctx: SimContext): Route[] {
  const d = ctx.state.data;
  /** Secrets are stored under the project number, whichever form the path used. */
  const secretName = (p: Record<string, string>) => `projects/${ctx.projectNumber}/secrets/${p.secret}`;
  const checkProject = (p: Record<string, string>) => {
    if (p.project !== ctx.projectId && p.project !== ctx.projectNumber)
      throw new ApiError('PERMISSION_DENIED', `Permission denied on resource project ${p.project}.`);
  };
  const secret = (p: Record<string, string>) => {
    checkProject(p);
    const name = secretName(p);
    return d.secrets[name] ?? raise(notFound('Secret', name));
  };
  const versionsOf = (name: string) =>
    Object.values(d.secretVersions)
      .filter((v) => (v.name as string).startsWith(`${name}/versions/`))
      .sort((a, b) => versionNumber(b) - versionNumber(a));
  const version = (p: Record<string, string>) => {
    const s = secret(p);
    const name = s.name as string;
    if (p.version === 'latest') {
      const latest = versionsOf(name)[0];
      if (!latest) throw notFound('SecretVersion', `${name}/versions/latest`);
      return latest;
    }
    if (!/^\d+$/.test(p.version ?? ''))
      throw invalidArgument('name', `version "${p.version}" must be a number or "latest"`);
    return (
      d.secretVersions[`${name}/versions/${p.version}`] ??
      raise(notFound('SecretVersion', `${name}/versions/${p.version}`))
    );
  };
  const setState = (v: Json, state: string) => {
    if (v.state === 'DESTROYED') throw failedPrecondition(`${v.name as string} is in DESTROYED state.`);
    v.state = state;
    if (state === 'DESTROYED') {
      v.destroyTime = ctx.timestamp();
      delete d.secretPayloads[v.name as string];
    }
    v.etag = `"${etagOf([v.name, state, ctx.clock.now()])}"`;
    ctx.state.changed();
    return ok(v);
  };
  const base = '/v1/projects/{project}/secrets';
  return [
    route('secretmanager', 'POST', base, (req) => {
      checkProject(req.params);
      const id = checkId(
        req.query.get('secretId'),
        'secret_id',
        SECRET_ID,
        'may only use letters, digits, "-" and "_" (at most 255)',
      );
      const name = secretName({ secret: id });
      if (d.secrets[name]) throw alreadyExists('Secret', name);
      const body = canonical('google.cloud.secretmanager.v1.Secret', req.body, 'secret');
      if (!body.replication) throw invalidArgument('secret.replication', 'is required');
      checkLabels(body.labels, 'secret.labels');
      d.secrets[name] = { ...body, name, createTime: ctx.timestamp(), etag: `"${etagOf([name, ctx.clock.now()])}"` };
      ctx.state.changed();
      return ok(d.secrets[name]);
    }),
    route('secretmanager', 'GET', base, (req) => {
      checkProject(req.params);
      const prefix = `projects/${ctx.projectNumber}/secrets/`;
      const items = Object.keys(d.secrets)
        .filter((k) => k.startsWith(prefix))
        .sort()
        .map((k) => d.secrets[k]);
      return ok({ ...page(items, req.query, 'secrets', 25000, 25000), totalSize: items.length });
    }),
    route('secretmanager', 'GET', `${base}/{secret}`, (req) => ok(secret(req.params))),
    route('secretmanager', 'PATCH', `${base}/{secret}`, (req) => {
      const current = secret(req.params);
      const body = canonical('google.cloud.secretmanager.v1.Secret', req.body, 'secret');
      const paths = maskPaths(req.query.get('updateMask'));
      if (!paths) throw invalidArgument('update_mask', 'is required');
      if (body.etag !== undefined && body.etag !== current.etag)
        throw new ApiError(
          'ABORTED',
          `The etag ${String(body.etag)} does not match the current etag of ${current.name as string}.`,
        );
      const next = applyMask(current, body, paths, [
        'labels',
        'annotations',
        'topics',
        'expireTime',
        'ttl',
        'rotation',
        'versionAliases',
        'versionDestroyTtl',
      ]);
      checkLabels(next.labels, 'secret.labels');
      next.etag = `"${etagOf([next, ctx.clock.now()])}"`;
      d.secrets[current.name as string] = next;
      ctx.state.changed();
      return ok(next);
    }),
    route('secretmanager', 'DELETE', `${base}/{secret}`, (req) => {
      const current = secret(req.params);
      const etag = req.query.get('etag');
      if (etag && etag !== current.etag)
        throw new ApiError('ABORTED', `The etag ${etag} does not match the current etag.`);
      const name = current.name as string;
      delete d.secrets[name];
      for (const v of versionsOf(name)) {
        delete d.secretVersions[v.name as string];
        delete d.secretPayloads[v.name as string];
      }
      delete d.policies[name];
      ctx.state.changed();
      return ok({});
    }),
    route('secretmanager', 'POST', `${base}/{secret}:addVersion`, (req) => {
      const s = secret(req.params);
      const body = canonical('google.cloud.secretmanager.v1.AddSecretVersionRequest', req.body, 'body');
      const payload = (body.payload ?? {}) as Json;
      const data = Buffer.from(String(payload.data ?? ''), 'base64');
      if (data.length > 65536) throw invalidArgument('payload.data', 'must be at most 64 KiB');
      const declared = payload.dataCrc32c;
      if (declared !== undefined && Number(declared) !== crc32c(data))
        throw invalidArgument('payload.data_crc32c', 'Checksum mismatch: the payload does not match data_crc32c.');
      const n = versionsOf(s.name as string).reduce((m, v) => Math.max(m, versionNumber(v)), 0) + 1;
      const name = `${s.name as string}/versions/${n}`;
      const v: Json = {
        name,
        createTime: ctx.timestamp(),
        state: 'ENABLED',
        replicationStatus: { automatic: {} },
        etag: `"${etagOf([name, ctx.clock.now()])}"`,
        clientSpecifiedPayloadChecksum: declared !== undefined,
      };
      d.secretVersions[name] = v;
      d.secretPayloads[name] = data.toString('base64');
      ctx.state.changed();
      return ok(v);
    }),
    route('secretmanager', 'GET', `${base}/{secret}/versions`, (req) => {
      const s = secret(req.params);
      let items = versionsOf(s.name as string);
      const filter = req.query.get('filter');
      const m = filter ? /^state:(\w+)$/.exec(filter.trim()) : null;
      if (m) items = items.filter((v) => v.state === m[1]);
      return ok({ ...page(items, req.query, 'versions', 25000, 25000), totalSize: items.length });
    }),
    route('secretmanager', 'GET', `${base}/{secret}/versions/{version}`, (req) => ok(version(req.params))),
    route('secretmanager', 'GET', `${base}/{secret}/versions/{version}:access`, (req) => {
      const v = version(req.params);
      if (v.state !== 'ENABLED')
        throw failedPrecondition(`Secret Version [${v.name as string}] is in ${v.state as string} state.`);
      const data = Buffer.from(d.secretPayloads[v.name as string] ?? '', 'base64');
      return ok({ name: v.name, payload: { data: data.toString('base64'), dataCrc32c: String(crc32c(data)) } });
    }),
    route('secretmanager', 'POST', `${base}/{secret}/versions/{version}:enable`, (req) =>
      setState(version(req.params), 'ENABLED'),
    ),
    route('secretmanager', 'POST', `${base}/{secret}/versions/{version}:disable`, (req) =>
      setState(version(req.params), 'DISABLED'),
    ),
    route('secretmanager', 'POST', `${base}/{secret}/versions/{version}:destroy`, (req) =>
      setState(version(req.params), 'DESTROYED'),
    ),
  ];
}

function versionNumber(v: Json): number {
  return Number((v.name as string).split('/').at(-1));
}

/** The payload of `projects/P/secrets/S/versions/V` (V may be `latest`), for functions' secret env vars. */
export function readSecret(ctx: SimContext, secret: string, version: string): string {
  const d = ctx.state.data;
  const name = `projects/${ctx.projectNumber}/secrets/${secret}`;
  if (!d.secrets[name]) throw failedPrecondition(`Secret ${name} does not exist.`);
  let vname = `${name}/versions/${version}`;
  if (version === 'latest') {
    const latest = Object.keys(d.secretVersions)
      .filter((k) => k.startsWith(`${name}/versions/`))
      .sort((a, b) => Number(b.split('/').at(-1)) - Number(a.split('/').at(-1)))[0];
    if (!latest) throw failedPrecondition(`Secret ${name} has no versions.`);
    vname = latest;
  }
  const v = d.secretVersions[vname];
  if (!v) throw failedPrecondition(`Secret version ${vname} does not exist.`);
  if (v.state !== 'ENABLED') throw failedPrecondition(`Secret version ${vname} is in ${v.state as string} state.`);
  return Buffer.from(d.secretPayloads[vname] ?? '', 'base64').toString('utf8');
}
