import { createHash } from 'node:crypto';
import { fail, ok, type SimResponse } from './envelope.ts';
import type { Router, SimRequest } from './router.ts';
import { newId, now, type SimBinding, type SimModule, type SimScript, type SimState, type SimZone } from './state.ts';
import { newVersion } from './wrangler-api.ts';

const SCRIPT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const CRON = /^(\S+\s+){4}\S+$/;
const OLDEST_COMPATIBILITY_DATE = '2021-11-02';
const BINDING_TYPES = new Set(['plain_text', 'secret_text', 'r2_bucket', 'service']);

/** Worker scripts (multipart upload, list, settings, delete), cron schedules and zone routes. */
export function registerWorkersApi(router: Router, state: SimState): void {
  const scripts = '/accounts/:account/workers/scripts';

  router.on('GET', scripts, () =>
    ok([...state.scripts.values()].sort((a, b) => a.id.localeCompare(b.id)).map(scriptBody)),
  );

  router.on('PUT', `${scripts}/:script`, (req) => upload(state, req));
  router.on('POST', `${scripts}/:script/versions`, (req) => uploadVersion(state, req));

  router.on('DELETE', `${scripts}/:script`, (req) => {
    const script = state.scripts.get(req.params.script as string);
    if (!script) return scriptMissing();
    state.scripts.delete(script.id);
    state.workersVersion++;
    return ok(null);
  });

  router.on('GET', `${scripts}/:script/settings`, (req) => {
    const script = state.scripts.get(req.params.script as string);
    return script ? ok(settingsBody(script)) : scriptMissing();
  });

  router.on('GET', `${scripts}/:script/schedules`, (req) => {
    const script = state.scripts.get(req.params.script as string);
    return script ? ok({ schedules: script.schedules }) : scriptMissing();
  });

  router.on('PUT', `${scripts}/:script/schedules`, (req) => {
    const script = state.scripts.get(req.params.script as string);
    if (!script) return scriptMissing();
    if (!Array.isArray(req.json)) return fail(400, 10026, 'Schedules must be an array of {cron}.');
    const at = now();
    const schedules: SimScript['schedules'] = [];
    for (const item of req.json as { cron?: unknown }[]) {
      if (typeof item?.cron !== 'string' || !CRON.test(item.cron.trim())) {
        return fail(400, 10100, `Invalid cron expression: ${String(item?.cron)}`);
      }
      schedules.push({ cron: item.cron.trim(), created_on: at, modified_on: at });
    }
    script.schedules = schedules;
    return ok({ schedules });
  });

  // A script's routes across zones: what `wrangler deploy` and `wrangler triggers deploy` PUT (replacing them all).
  router.on('GET', `${scripts}/:script/routes`, (req) => {
    if (!state.scripts.has(req.params.script as string)) return scriptMissing();
    return ok(scriptRoutes(state, req.params.script as string));
  });
  router.on('PUT', `${scripts}/:script/routes`, (req) => {
    const name = req.params.script as string;
    if (!state.scripts.has(name)) return scriptMissing();
    if (!Array.isArray(req.json))
      return fail(400, 10021, 'The body must be an array of routes ({pattern, zone_id | zone_name}).');
    const wanted: { pattern: string; zone: SimZone }[] = [];
    for (const raw of req.json as Record<string, unknown>[]) {
      const pattern = typeof raw?.pattern === 'string' ? raw.pattern : '';
      if (raw?.custom_domain === true)
        return fail(400, 10021, 'Custom domains are not simulated; use a route pattern.');
      const zone =
        typeof raw.zone_id === 'string'
          ? state.zones.get(raw.zone_id)
          : typeof raw.zone_name === 'string'
            ? state.zoneByName(raw.zone_name)
            : zoneForPattern(state, pattern);
      if (!zone) return fail(400, 10022, `No zone of this account matches route ${pattern || '(no pattern)'}.`);
      const problem = checkRoute(state, zone.id, zone.name, { pattern, script: name }, undefined, name);
      if (problem) return problem;
      wanted.push({ pattern, zone });
    }
    for (const r of [...state.routes.values()]) if (r.script === name) state.routes.delete(r.id);
    for (const w of wanted) {
      const route = { id: newId(), zone_id: w.zone.id, pattern: w.pattern, script: name };
      state.routes.set(route.id, route);
    }
    state.workersVersion++;
    return ok(scriptRoutes(state, name));
  });

  const routes = '/zones/:zone/workers/routes';
  router.on('GET', routes, (req) => {
    if (!state.zones.has(req.params.zone as string)) return zoneMissing();
    return ok(
      [...state.routes.values()]
        .filter((r) => r.zone_id === req.params.zone)
        .sort((a, b) => a.pattern.localeCompare(b.pattern))
        .map(routeBody),
    );
  });

  router.on('POST', routes, (req) => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    const body = (req.json ?? {}) as { pattern?: unknown; script?: unknown };
    const problem = checkRoute(state, zone.id, zone.name, body, undefined);
    if (problem) return problem;
    const route = { id: newId(), zone_id: zone.id, pattern: String(body.pattern), script: String(body.script ?? '') };
    state.routes.set(route.id, route);
    state.workersVersion++;
    return ok(routeBody(route));
  });

  router.on('GET', `${routes}/:id`, (req) => {
    const route = state.routes.get(req.params.id as string);
    return route && route.zone_id === req.params.zone ? ok(routeBody(route)) : routeMissing();
  });

  router.on('PUT', `${routes}/:id`, (req) => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    const route = state.routes.get(req.params.id as string);
    if (!route || route.zone_id !== zone.id) return routeMissing();
    const body = (req.json ?? {}) as { pattern?: unknown; script?: unknown };
    const problem = checkRoute(state, zone.id, zone.name, body, route.id);
    if (problem) return problem;
    route.pattern = String(body.pattern);
    route.script = String(body.script ?? '');
    state.workersVersion++;
    return ok(routeBody(route));
  });

  router.on('DELETE', `${routes}/:id`, (req) => {
    const route = state.routes.get(req.params.id as string);
    if (!route || route.zone_id !== req.params.zone) return routeMissing();
    state.routes.delete(route.id);
    state.workersVersion++;
    return ok({ id: route.id });
  });
}

/** What one upload carries: the code and its configuration (a version's content). */
export type ScriptContent = Pick<
  SimScript,
  'etag' | 'compatibility_date' | 'compatibility_flags' | 'tags' | 'bindings' | 'modules' | 'main_module' | 'handlers'
>;

/** Reads a multipart upload (a metadata part and module parts), as `PUT …/scripts/:n` and `POST …/versions` take it. */
async function parseUpload(
  state: SimState,
  req: SimRequest,
): Promise<{ content: ScriptContent; metadata: Record<string, unknown> } | SimResponse> {
  const name = req.params.script as string;
  if (!SCRIPT_NAME.test(name)) return fail(400, 10016, `Invalid Worker name: ${name}`);
  const form = req.form;
  if (!form) return fail(400, 10021, 'Uploads must be multipart/form-data with a metadata part.');
  const metaPart = form.get('metadata');
  if (metaPart === null) return fail(400, 10021, 'The metadata part is missing.');
  let metadata: Record<string, unknown>;
  try {
    metadata = JSON.parse(typeof metaPart === 'string' ? metaPart : await metaPart.text()) as Record<string, unknown>;
  } catch {
    return fail(400, 10021, 'The metadata part is not valid JSON.');
  }
  const modules: SimModule[] = [];
  for (const [field, value] of form.entries()) {
    if (field === 'metadata' || typeof value === 'string') continue;
    modules.push({ name: value.name, type: value.type, content: await value.text() });
  }
  const main = typeof metadata.main_module === 'string' ? metadata.main_module : undefined;
  if (!main || !modules.some((m) => m.name === main)) {
    return fail(400, 10021, `No such module: main_module ${main ?? '(unset)'} is not among the uploaded parts.`);
  }
  if (metadata.compatibility_date !== undefined && typeof metadata.compatibility_date !== 'string') {
    return fail(400, 10021, 'compatibility_date must be a date (YYYY-MM-DD).');
  }
  const previous = state.scripts.get(name);
  // `keep_bindings: ['secret_text', …]` (what wrangler sends) carries those bindings over from the live
  // script; a binding of type `inherit` carries over the one of that name.
  const keep = new Set(Array.isArray(metadata.keep_bindings) ? metadata.keep_bindings.map(String) : []);
  const bindings: SimBinding[] = [];
  for (const b of (Array.isArray(metadata.bindings) ? metadata.bindings : []) as SimBinding[]) {
    if (b.type === 'inherit') {
      const old = previous?.bindings.find((x) => x.name === b.name);
      if (!old)
        return fail(400, 10021, `Binding ${String(b.name)} inherits from a binding the live Worker does not have.`);
      bindings.push({ ...old });
      continue;
    }
    if (!BINDING_TYPES.has(b.type) || typeof b.name !== 'string') {
      return fail(400, 10021, `Unsupported binding ${String(b.name)} of type ${String(b.type)}.`);
    }
    if (b.type === 'r2_bucket' && !state.buckets.has(String(b.bucket_name))) {
      return fail(400, 10085, `R2 bucket '${b.bucket_name}' referenced by binding ${b.name} does not exist.`);
    }
    if (b.type === 'service' && b.service !== name && !state.scripts.has(String(b.service))) {
      return fail(400, 10143, `Service binding ${b.name} references Worker '${b.service}', which does not exist.`);
    }
    bindings.push({ ...b });
  }
  for (const b of previous?.bindings ?? []) {
    if (keep.has(b.type) && !bindings.some((x) => x.name === b.name)) bindings.push({ ...b });
  }
  const hash = createHash('sha256');
  for (const m of modules) hash.update(m.name).update('\0').update(m.content).update('\0');
  const code = modules.find((m) => m.name === main)?.content ?? '';
  return {
    metadata,
    content: {
      etag: hash.digest('hex'),
      // Without one the API runs the Worker at the oldest date (what `wrangler secret put` uploads for a draft).
      compatibility_date: (metadata.compatibility_date as string | undefined) ?? OLDEST_COMPATIBILITY_DATE,
      compatibility_flags: Array.isArray(metadata.compatibility_flags) ? metadata.compatibility_flags.map(String) : [],
      tags: Array.isArray(metadata.tags) ? metadata.tags.map(String) : (previous?.tags ?? []),
      bindings,
      modules,
      main_module: main,
      handlers: ['fetch', 'scheduled'].filter((h) => new RegExp(`\\b${h}\\b`).test(code)),
    },
  };
}

/** `PUT …/scripts/:n`: uploads and deploys at once (a new version at 100 %). */
async function upload(state: SimState, req: SimRequest): Promise<SimResponse> {
  const parsed = await parseUpload(state, req);
  if ('status' in parsed) return parsed;
  const name = req.params.script as string;
  const previous = state.scripts.get(name);
  const at = now();
  const script: SimScript = {
    id: name,
    ...parsed.content,
    created_on: previous?.created_on ?? at,
    modified_on: at,
    schedules: previous?.schedules ?? [],
    versions: previous?.versions ?? [],
    deployments: previous?.deployments ?? [],
    ...(previous?.subdomain ? { subdomain: previous.subdomain } : {}),
  };
  state.scripts.set(name, script);
  const annotations = (parsed.metadata.annotations ?? undefined) as Record<string, string> | undefined;
  const version = newVersion(state, script, 'wrangler', annotations);
  return ok({
    ...scriptBody(script),
    deployment_id: script.deployments?.at(-1)?.id,
    ...(req.query.get('include_subdomain_availability') === 'true'
      ? { available_on_subdomain: script.subdomain?.enabled ?? false }
      : {}),
    version_id: version.id,
    startup_time_ms: 1,
  });
}

/** `POST …/scripts/:n/versions`: uploads a version without deploying it (a deployment does that). */
async function uploadVersion(state: SimState, req: SimRequest): Promise<SimResponse> {
  const script = state.scripts.get(req.params.script as string);
  if (!script) return scriptMissing();
  const parsed = await parseUpload(state, req);
  if ('status' in parsed) return parsed;
  const annotations = (parsed.metadata.annotations ?? undefined) as Record<string, string> | undefined;
  const version = newVersion(state, script, 'wrangler', annotations, parsed.content);
  return ok({
    id: version.id,
    number: version.number,
    metadata: { created_on: version.created_on, modified_on: version.created_on, source: 'wrangler' },
    annotations: annotations ?? {},
    resources: {
      bindings: parsed.content.bindings.map((b) =>
        b.type === 'secret_text' ? { name: b.name, type: b.type } : { ...b },
      ),
      script: { etag: parsed.content.etag, handlers: parsed.content.handlers, last_deployed_from: 'wrangler' },
      script_runtime: {
        compatibility_date: parsed.content.compatibility_date,
        compatibility_flags: parsed.content.compatibility_flags,
      },
    },
    startup_time_ms: 1,
  });
}

function scriptBody(s: SimScript): Record<string, unknown> {
  return {
    id: s.id,
    etag: s.etag,
    created_on: s.created_on,
    modified_on: s.modified_on,
    compatibility_date: s.compatibility_date,
    compatibility_flags: s.compatibility_flags,
    handlers: s.handlers,
    has_assets: false,
    has_modules: true,
    logpush: false,
    placement_mode: 'smart',
    tags: s.tags,
    tail_consumers: [],
    // 'bundled' is valid in both contracts: the 2024 document allows bundled|unbound only, the SDK adds standard.
    usage_model: 'bundled',
  };
}

function settingsBody(s: SimScript): Record<string, unknown> {
  return {
    // Secret values are write-only: the API names them and never returns their text.
    bindings: s.bindings.map((b) => (b.type === 'secret_text' ? { name: b.name, type: b.type } : { ...b })),
    compatibility_date: s.compatibility_date,
    compatibility_flags: s.compatibility_flags,
    logpush: false,
    placement: {},
    tags: s.tags,
    tail_consumers: [],
    usage_model: 'bundled',
  };
}

function routeBody(r: { id: string; pattern: string; script: string }): Record<string, unknown> {
  return { id: r.id, pattern: r.pattern, script: r.script };
}

function scriptRoutes(state: SimState, name: string) {
  return [...state.routes.values()]
    .filter((r) => r.script === name)
    .sort((a, b) => a.pattern.localeCompare(b.pattern))
    .map((r) => ({ ...routeBody(r), zone_id: r.zone_id, zone_name: state.zones.get(r.zone_id)?.name }));
}

/** The zone a route pattern's host belongs to (the longest matching zone name). */
function zoneForPattern(state: SimState, pattern: string): SimZone | undefined {
  const host =
    pattern
      .replace(/^https?:\/\//, '')
      .replace(/^\*\.?/, '')
      .split('/')[0] ?? '';
  return [...state.zones.values()]
    .filter((z) => host === z.name || host.endsWith(`.${z.name}`))
    .sort((a, b) => b.name.length - a.name.length)[0];
}

function checkRoute(
  state: SimState,
  zoneId: string,
  zoneName: string,
  body: { pattern?: unknown; script?: unknown },
  self: string | undefined,
  /** Routes of this script do not clash (they are being replaced). */
  replacing?: string,
): SimResponse | undefined {
  if (typeof body.pattern !== 'string' || body.pattern === '') return fail(400, 10022, 'A route needs a pattern.');
  const host = body.pattern.replace(/^\*\.?/, '').split('/')[0] ?? '';
  if (host !== zoneName && !host.endsWith(`.${zoneName}`)) {
    return fail(400, 10022, `Route pattern ${body.pattern} does not belong to zone ${zoneName}.`);
  }
  for (const other of state.routes.values()) {
    if (other.zone_id === zoneId && other.id !== self && other.pattern === body.pattern && other.script !== replacing) {
      return fail(409, 10020, 'A route with the same pattern already exists.');
    }
  }
  return undefined;
}

function scriptMissing(): SimResponse {
  return fail(404, 10007, 'This Worker does not exist on your account.');
}

function routeMissing(): SimResponse {
  return fail(404, 10019, 'Route not found.');
}

function zoneMissing(): SimResponse {
  return fail(404, 7003, 'Could not route to /zones/..., perhaps your object identifier is invalid?');
}
