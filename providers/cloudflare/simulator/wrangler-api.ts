import { fail, ok, type SimResponse } from './envelope.ts';
import type { Router } from './router.ts';
import { newId, now, type SimScript, type SimState, type SimVersion } from './state.ts';
import type { ScriptContent } from './workers-api.ts';

/** The user the simulated token belongs to. */
export const simUser = { id: '7c5dae5552338874e5053f2534d2767a', email: 'sim@example.com' };

/**
 * What wrangler asks besides scripts, buckets and routes: the user and their accounts (`whoami`), the
 * services view of a script (`deploy` checks it exists, code 10007 when not), the account's and a
 * script's `workers.dev` subdomain, secrets, versions and deployments, script settings.
 */
export function registerWranglerApi(router: Router, state: SimState): void {
  const account = () => ({ id: state.accountId, name: 'Simulated account' });

  router.on('GET', '/user', () =>
    ok({
      ...simUser,
      first_name: null,
      last_name: null,
      username: 'sim',
      telephone: null,
      country: null,
      zipcode: null,
      two_factor_authentication_enabled: false,
      two_factor_authentication_locked: false,
      created_on: '2020-01-01T00:00:00Z',
      modified_on: '2020-01-01T00:00:00Z',
      organizations: [],
      has_pro_zones: false,
      has_business_zones: false,
      has_enterprise_zones: false,
      suspended: false,
    }),
  );
  router.on('GET', '/memberships', () =>
    ok([{ id: newIdFrom(state.accountId), status: 'accepted', account: account(), roles: ['Administrator'] }], {
      page: 1,
      per_page: 50,
      count: 1,
      total_count: 1,
      total_pages: 1,
    }),
  );
  router.on('GET', '/accounts', () =>
    ok([{ ...account(), type: 'standard', created_on: '2020-01-01T00:00:00Z', settings: {} }], {
      page: 1,
      per_page: 20,
      count: 1,
      total_count: 1,
      total_pages: 1,
    }),
  );
  router.on('GET', '/accounts/:account', (req) =>
    req.params.account === state.accountId ? ok({ ...account(), settings: {} }) : accountMissing(),
  );

  // The simulator has no KV namespaces or Durable Object namespaces; `wrangler delete` lists both.
  const none = () => ok([], { page: 1, per_page: 100, count: 0, total_count: 0, total_pages: 0 });
  router.on('GET', '/accounts/:account/storage/kv/namespaces', none);
  router.on('GET', '/accounts/:account/workers/durable_objects/namespaces', none);

  router.on('GET', '/accounts/:account/workers/subdomain', () => ok({ subdomain: state.workersSubdomain }));

  const scripts = '/accounts/:account/workers/scripts';
  const script = (name: string | undefined): SimScript | undefined => state.scripts.get(name ?? '');

  router.on('GET', '/accounts/:account/workers/services/:script', (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    return ok({
      id: s.id,
      default_environment: {
        environment: 'production',
        created_on: s.created_on,
        modified_on: s.modified_on,
        script: { id: s.id, etag: s.etag, handlers: s.handlers, last_deployed_from: 'wrangler', tags: s.tags },
      },
      created_on: s.created_on,
      modified_on: s.modified_on,
      environments: [{ environment: 'production', created_on: s.created_on, modified_on: s.modified_on }],
    });
  });

  // `wrangler delete`: the script, its routes and schedules go.
  router.on('DELETE', '/accounts/:account/workers/services/:script', (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    state.scripts.delete(s.id);
    for (const r of [...state.routes.values()]) if (r.script === s.id) state.routes.delete(r.id);
    state.workersVersion++;
    return ok(null);
  });

  // The newer Workers view of a script (`/workers/workers/:name`).
  router.on('GET', '/accounts/:account/workers/workers/:script', (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    return ok(workerBody(s));
  });

  router.on('GET', `${scripts}/:script/subdomain`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    return ok(s.subdomain ?? { enabled: false, previews_enabled: false });
  });
  router.on('POST', `${scripts}/:script/subdomain`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    const body = (req.json ?? {}) as { enabled?: unknown; previews_enabled?: unknown };
    if (typeof body.enabled !== 'boolean') return fail(400, 10021, 'enabled must be a boolean.');
    s.subdomain = {
      enabled: body.enabled,
      previews_enabled: typeof body.previews_enabled === 'boolean' ? body.previews_enabled : body.enabled,
    };
    return ok(s.subdomain);
  });

  router.on('GET', `${scripts}/:script/secrets`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    return ok(s.bindings.filter((b) => b.type === 'secret_text').map((b) => ({ name: b.name, type: b.type })));
  });
  router.on('PUT', `${scripts}/:script/secrets`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    const body = (req.json ?? {}) as { name?: unknown; text?: unknown; type?: unknown };
    if (typeof body.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(body.name)) {
      return fail(400, 10021, 'A secret needs a name (letters, digits and underscores).');
    }
    if (body.type !== undefined && body.type !== 'secret_text') {
      return fail(400, 10021, `Unsupported secret type ${String(body.type)}.`);
    }
    if (typeof body.text !== 'string') return fail(400, 10021, 'A secret needs its text.');
    const clash = s.bindings.find((b) => b.name === body.name && b.type !== 'secret_text');
    if (clash) return fail(400, 10053, `Binding name '${body.name}' already in use by a ${clash.type} binding.`);
    s.bindings = [
      ...s.bindings.filter((b) => b.name !== body.name),
      { name: body.name, type: 'secret_text', text: body.text },
    ];
    newVersion(state, s, 'secret');
    return ok({ name: body.name, type: 'secret_text' });
  });
  router.on('GET', `${scripts}/:script/secrets/:name`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    const b = s.bindings.find((x) => x.type === 'secret_text' && x.name === req.params.name);
    return b ? ok({ name: b.name, type: b.type }) : fail(404, 10056, 'Secret not found.');
  });
  router.on('DELETE', `${scripts}/:script/secrets/:name`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    if (!s.bindings.some((b) => b.type === 'secret_text' && b.name === req.params.name)) {
      return fail(404, 10056, 'Secret not found.');
    }
    s.bindings = s.bindings.filter((b) => !(b.type === 'secret_text' && b.name === req.params.name));
    newVersion(state, s, 'secret');
    return ok(null);
  });

  router.on('GET', `${scripts}/:script/versions`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    const items = [...(s.versions ?? [])].reverse().map((v) => versionBody(s, v));
    return ok({ items }, { page: 1, per_page: items.length, count: items.length, total_count: items.length });
  });
  router.on('GET', `${scripts}/:script/versions/:version`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    const v = (s.versions ?? []).find((x) => x.id === req.params.version);
    if (!v) return fail(404, 10222, 'Version not found.');
    return ok({
      ...versionBody(s, v),
      resources: {
        bindings: s.bindings.map((b) => (b.type === 'secret_text' ? { name: b.name, type: b.type } : { ...b })),
        script: { etag: s.etag, handlers: s.handlers, last_deployed_from: 'wrangler' },
        script_runtime: { compatibility_date: s.compatibility_date, compatibility_flags: s.compatibility_flags },
      },
    });
  });

  router.on('GET', `${scripts}/:script/deployments`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    return ok({ deployments: [...(s.deployments ?? [])].reverse().map(deploymentBody) });
  });
  router.on('POST', `${scripts}/:script/deployments`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    const body = (req.json ?? {}) as {
      strategy?: unknown;
      versions?: { version_id?: unknown; percentage?: unknown }[];
      annotations?: Record<string, string>;
    };
    const versions = Array.isArray(body.versions) ? body.versions : [];
    const total = versions.reduce((sum, v) => sum + Number(v.percentage ?? 0), 0);
    if (body.strategy !== 'percentage' || versions.length === 0 || total !== 100) {
      return fail(400, 10021, 'A deployment needs strategy "percentage" and versions adding up to 100 %.');
    }
    for (const v of versions) {
      if (!(s.versions ?? []).some((x) => x.id === v.version_id)) {
        return fail(400, 10222, `Version ${String(v.version_id)} not found.`);
      }
    }
    const deployment = {
      id: newUuid(),
      created_on: now(),
      source: 'wrangler',
      strategy: 'percentage' as const,
      versions: versions.map((v) => ({ version_id: String(v.version_id), percentage: Number(v.percentage) })),
      ...(body.annotations ? { annotations: body.annotations } : {}),
    };
    s.deployments = [...(s.deployments ?? []), deployment];
    // The simulator runs one version per script: the one with the largest share.
    const main = [...deployment.versions].sort((a, b) => b.percentage - a.percentage)[0]!;
    const content = (s.versions ?? []).find((v) => v.id === main.version_id)?.content;
    if (content) Object.assign(s, structuredClone(content), { modified_on: deployment.created_on });
    state.workersVersion++;
    return ok(deploymentBody(deployment));
  });

  const settings = (s: SimScript) => ({
    logpush: false,
    tail_consumers: [],
    observability: { enabled: false },
    tags: s.tags,
  });
  router.on('GET', `${scripts}/:script/script-settings`, (req) => {
    const s = script(req.params.script);
    return s ? ok(settings(s)) : scriptMissing();
  });
  router.on('PATCH', `${scripts}/:script/script-settings`, (req) => {
    const s = script(req.params.script);
    if (!s) return scriptMissing();
    const body = (req.json ?? {}) as { tags?: unknown };
    if (Array.isArray(body.tags)) s.tags = body.tags.map(String);
    return ok(settings(s));
  });
}

/**
 * Records a new version of the script. Without `content` it is the script as it is now (an upload or
 * a secret change) and is deployed at 100 %; with `content` (`POST …/versions`) it waits for a deployment.
 */
export function newVersion(
  state: SimState,
  s: SimScript,
  source: string,
  annotations?: Record<string, string>,
  content?: ScriptContent,
): SimVersion {
  const versions = s.versions ?? [];
  const version: SimVersion = {
    id: newUuid(),
    number: (versions.at(-1)?.number ?? 0) + 1,
    created_on: now(),
    source,
    ...(annotations?.['workers/message'] ? { message: annotations['workers/message'] } : {}),
    ...(annotations?.['workers/tag'] ? { tag: annotations['workers/tag'] } : {}),
    content: structuredClone(content ?? contentOf(s)),
  };
  s.versions = [...versions, version];
  if (content) return version;
  s.deployments = [
    ...(s.deployments ?? []),
    {
      id: newUuid(),
      created_on: version.created_on,
      source,
      strategy: 'percentage',
      versions: [{ version_id: version.id, percentage: 100 }],
    },
  ];
  state.workersVersion++;
  return version;
}

function contentOf(s: SimScript): ScriptContent {
  const { etag, compatibility_date, compatibility_flags, tags, bindings, modules, main_module, handlers } = s;
  return { etag, compatibility_date, compatibility_flags, tags, bindings, modules, main_module, handlers };
}

function versionBody(s: SimScript, v: NonNullable<SimScript['versions']>[number]) {
  return {
    id: v.id,
    number: v.number,
    metadata: {
      author_email: simUser.email,
      author_id: simUser.id,
      created_on: v.created_on,
      modified_on: v.created_on,
      source: v.source,
      hasPreview: false,
    },
    annotations: {
      'workers/triggered_by': v.source === 'secret' ? 'secret' : 'upload',
      ...(v.message ? { 'workers/message': v.message } : {}),
      ...(v.tag ? { 'workers/tag': v.tag } : {}),
    },
    script: s.id,
  };
}

function deploymentBody(d: NonNullable<SimScript['deployments']>[number]) {
  return {
    id: d.id,
    created_on: d.created_on,
    source: d.source,
    strategy: d.strategy,
    versions: d.versions,
    author_email: simUser.email,
    annotations: d.annotations ?? {},
  };
}

function workerBody(s: SimScript) {
  return {
    id: s.id,
    name: s.id,
    created_on: s.created_on,
    updated_on: s.modified_on,
    logpush: false,
    observability: { enabled: false, head_sampling_rate: 1, logs: { enabled: false, invocation_logs: true } },
    subdomain: s.subdomain ?? { enabled: false, previews_enabled: false },
    tags: s.tags,
    tail_consumers: [],
  };
}

export function newUuid(): string {
  const h = newId();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function newIdFrom(seed: string): string {
  return seed.split('').reverse().join('');
}

function scriptMissing(): SimResponse {
  return fail(404, 10007, 'This Worker does not exist on your account.');
}

function accountMissing(): SimResponse {
  return fail(404, 7003, 'Could not route to /accounts/..., perhaps your object identifier is invalid?');
}
