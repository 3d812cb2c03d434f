import { fail, ok, paginate, type SimResponse } from './envelope.ts';
import type { Router, SimRequest } from './router.ts';
import { newId, now, type SimRecord, type SimState, type SimZone } from './state.ts';

const TYPES = new Set(['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV', 'CAA', 'NS']);
const PROXIABLE = new Set(['A', 'AAAA', 'CNAME']);
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Zones (list, with name filter) and DNS records (CRUD, page/per_page lists, filters). */
export function registerDnsApi(router: Router, state: SimState): void {
  router.on('GET', '/zones', (req) => {
    const name = req.query.get('name');
    const zones = [...state.zones.values()]
      .filter((z) => name === null || z.name === name.toLowerCase())
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((z) => zoneBody(z, state.accountId));
    return paginate(zones, req.query, 20, 50);
  });

  // export, import and batch are their own endpoints, matched before a record id would be.
  router.on('GET', '/zones/:zone/dns_records/export', (req) => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    return { status: 200, body: exportZone(state, zone) };
  });
  router.on('POST', '/zones/:zone/dns_records/import', async (req) => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    const file = req.form?.get('file');
    if (file === null || file === undefined) return fail(400, 1036, 'A BIND file is required (multipart part "file").');
    const text = typeof file === 'string' ? file : await file.text();
    const proxied = req.form?.get('proxied') === 'true';
    let parsed = 0;
    let added = 0;
    for (const line of text.split(/\r?\n/)) {
      const input = parseBindLine(line, zone.name);
      if (!input) continue;
      parsed++;
      const made = buildRecord(state, zone, { ...input, proxied: proxied && PROXIABLE.has(input.type) }, undefined);
      if ('status' in made) continue; // the API skips records it cannot add and counts the rest
      state.records.set(made.id, made);
      added++;
    }
    return ok({ recs_added: added, total_records_parsed: parsed });
  });
  router.on('POST', '/zones/:zone/dns_records/batch', (req) => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    const body = (req.json ?? {}) as Record<string, unknown>;
    const list = (k: string) => (Array.isArray(body[k]) ? (body[k] as Record<string, unknown>[]) : []);
    // All or nothing: work on a copy, keep it only when every operation succeeded.
    const saved = new Map(state.records);
    const result: Record<string, Record<string, unknown>[]> = { deletes: [], patches: [], puts: [], posts: [] };
    const undo = (answer: SimResponse) => {
      state.records.clear();
      for (const [k, v] of saved) state.records.set(k, v);
      return answer;
    };
    for (const d of list('deletes')) {
      const r = state.records.get(String(d.id));
      if (!r || r.zone_id !== zone.id) return undo(recordMissing());
      state.records.delete(r.id);
      result.deletes!.push(recordBody(r));
    }
    for (const [key, merge] of [
      ['patches', true],
      ['puts', false],
    ] as const) {
      for (const p of list(key)) {
        const r = state.records.get(String(p.id));
        if (!r || r.zone_id !== zone.id) return undo(recordMissing());
        const made = buildRecord(state, zone, merge ? { ...recordBody(r), ...p } : p, r);
        if ('status' in made) return undo(made);
        state.records.set(made.id, made);
        result[key]!.push(recordBody(made));
      }
    }
    for (const p of list('posts')) {
      const made = buildRecord(state, zone, p, undefined);
      if ('status' in made) return undo(made);
      state.records.set(made.id, made);
      result.posts!.push(recordBody(made));
    }
    return ok(result);
  });

  router.on('GET', '/zones/:zone/dns_records', (req) => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    const name = req.query.get('name') ?? req.query.get('name.exact');
    const type = req.query.get('type');
    const contains = req.query.get('comment.contains');
    const records = [...state.records.values()]
      .filter((r) => r.zone_id === zone.id)
      .filter((r) => name === null || r.name === name.toLowerCase())
      .filter((r) => type === null || r.type === type)
      .filter((r) => contains === null || (r.comment ?? '').toLowerCase().includes(contains.toLowerCase()))
      .sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type) || a.id.localeCompare(b.id));
    return paginate(records.map(recordBody), req.query, 100, 5_000_000);
  });

  router.on('POST', '/zones/:zone/dns_records', (req) => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    const made = buildRecord(state, zone, req.json, undefined);
    if ('status' in made) return made;
    state.records.set(made.id, made);
    return ok(recordBody(made));
  });

  router.on('GET', '/zones/:zone/dns_records/:id', (req) => {
    const record = findRecord(state, req);
    return record ? ok(recordBody(record)) : recordMissing();
  });

  const write = (req: SimRequest, merge: boolean): SimResponse => {
    const zone = state.zones.get(req.params.zone as string);
    if (!zone) return zoneMissing();
    const record = findRecord(state, req);
    if (!record) return recordMissing();
    const input = merge ? { ...recordBody(record), ...(req.json as object) } : req.json;
    const made = buildRecord(state, zone, input, record);
    if ('status' in made) return made;
    state.records.set(made.id, made);
    return ok(recordBody(made));
  };
  router.on('PUT', '/zones/:zone/dns_records/:id', (req) => write(req, false));
  router.on('PATCH', '/zones/:zone/dns_records/:id', (req) => write(req, true));

  router.on('DELETE', '/zones/:zone/dns_records/:id', (req) => {
    const record = findRecord(state, req);
    if (!record) return recordMissing();
    state.records.delete(record.id);
    return ok({ id: record.id });
  });
}

/** Cloudflare stores IPv6 addresses in RFC 5952 form; undefined when it is not an address. */
function canonicalIpv6(address: string): string | undefined {
  if (!address.includes(':')) return undefined;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

function zoneBody(zone: SimZone, accountId: string): Record<string, unknown> {
  return {
    id: zone.id,
    name: zone.name,
    status: 'active',
    paused: false,
    type: 'full',
    account: { id: accountId, name: 'keelson-sim' },
    name_servers: ['ada.ns.cloudflare.com', 'bob.ns.cloudflare.com'],
    original_name_servers: null,
    created_on: '2024-01-01T00:00:00Z',
    modified_on: '2024-01-01T00:00:00Z',
    activated_on: '2024-01-01T00:00:00Z',
    development_mode: 0,
    meta: {},
    owner: { id: null, name: null, type: 'user' },
    permissions: [],
    plan: { id: 'free', name: 'Free Website', is_subscribed: true },
    vanity_name_servers: [],
  };
}

/** A record as the API answers it. */
export function recordBody(r: SimRecord): Record<string, unknown> {
  const body: Record<string, unknown> = {
    id: r.id,
    zone_id: r.zone_id,
    zone_name: r.zone_name,
    name: r.name,
    type: r.type,
    content: r.content,
    proxiable: r.proxiable,
    proxied: r.proxied,
    ttl: r.ttl,
    locked: false,
    meta: { auto_added: false },
    settings: {},
    tags: r.tags,
    created_on: r.created_on,
    modified_on: r.modified_on,
  };
  // A record without a comment has none in the answer (the document and the SDK type it `string`).
  if (r.comment !== null) body.comment = r.comment;
  if (r.priority !== undefined) body.priority = r.priority;
  if (r.data !== undefined) body.data = r.data;
  return body;
}

function findRecord(state: SimState, req: SimRequest): SimRecord | undefined {
  const record = state.records.get(req.params.id as string);
  return record && record.zone_id === req.params.zone ? record : undefined;
}

function zoneMissing(): SimResponse {
  return fail(404, 7003, 'Could not route to /zones/..., perhaps your object identifier is invalid?');
}

function recordMissing(): SimResponse {
  return fail(404, 81044, 'Record does not exist.');
}

/** Validates a record body the way Cloudflare does (the checks keelson can trip), then builds it. */
function buildRecord(
  state: SimState,
  zone: SimZone,
  input: unknown,
  previous: SimRecord | undefined,
): SimRecord | SimResponse {
  if (typeof input !== 'object' || input === null) return fail(400, 9207, 'Request body is invalid.');
  const body = input as Record<string, unknown>;
  const type = String(body.type ?? previous?.type ?? '');
  if (!TYPES.has(type)) return fail(400, 9000, `DNS record type "${type}" is invalid.`);
  let name = String(body.name ?? '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (name === '' || name === '@') name = zone.name;
  else if (name !== zone.name && !name.endsWith(`.${zone.name}`)) name = `${name}.${zone.name}`;
  const data = typeof body.data === 'object' && body.data !== null ? (body.data as Record<string, unknown>) : undefined;
  let content = typeof body.content === 'string' ? body.content : '';
  if (type === 'SRV' && data) content = `${data.weight ?? 0} ${data.port ?? 0} ${data.target ?? ''}`;
  if (type === 'CAA' && data) content = `${data.flags ?? 0} ${data.tag ?? ''} "${data.value ?? ''}"`;
  if (content === '') return fail(400, 9005, 'Content for record is invalid.');
  if (type === 'A' && !IPV4.test(content)) return fail(400, 9005, 'Content for A record must be a valid IPv4 address.');
  if (type === 'AAAA') {
    const canonical = canonicalIpv6(content);
    if (canonical === undefined) return fail(400, 9005, 'Content for AAAA record must be a valid IPv6 address.');
    content = canonical;
  }
  const proxied = body.proxied === true;
  if (proxied && !PROXIABLE.has(type)) return fail(400, 9004, `${type} records cannot be proxied.`);
  let ttl = typeof body.ttl === 'number' ? body.ttl : 1;
  if (ttl !== 1 && (ttl < 60 || ttl > 86400))
    return fail(400, 9021, 'Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.');
  if (proxied) ttl = 1;
  if ((type === 'MX' || type === 'SRV') && body.priority === undefined && data?.priority === undefined) {
    return fail(400, 9101, `Priority is required for ${type} records.`);
  }
  const comment = typeof body.comment === 'string' ? body.comment : null;
  if (comment !== null && comment.length > 100)
    return fail(400, 9106, 'DNS record comment is too long (max 100 characters).');
  for (const other of state.records.values()) {
    if (other.zone_id !== zone.id || other.id === previous?.id || other.name !== name) continue;
    if (other.type === type && other.content === content)
      return fail(400, 81058, 'An identical record already exists.');
    if (other.type === 'CNAME' || type === 'CNAME') {
      return fail(400, 81053, 'An A, AAAA, or CNAME record with that host already exists.');
    }
  }
  const at = now();
  const record: SimRecord = {
    id: previous?.id ?? newId(),
    zone_id: zone.id,
    zone_name: zone.name,
    name,
    type,
    content,
    ttl,
    proxied,
    proxiable: PROXIABLE.has(type),
    comment,
    tags: Array.isArray(body.tags) ? body.tags.map(String) : [],
    created_on: previous?.created_on ?? at,
    modified_on: at,
  };
  const priority = typeof body.priority === 'number' ? body.priority : data?.priority;
  if (typeof priority === 'number' && (type === 'MX' || type === 'SRV')) record.priority = priority;
  if (data && (type === 'SRV' || type === 'CAA')) record.data = { ...data };
  return record;
}

/** The zone's records as a BIND file, as `GET …/dns_records/export` answers (text, not JSON). */
function exportZone(state: SimState, zone: SimZone): string {
  const lines = [`;;`, `;; Domain:     ${zone.name}.`, `;; Exported:   ${now()}`, `;;`, ''];
  const records = [...state.records.values()]
    .filter((r) => r.zone_id === zone.id)
    .sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type));
  for (const r of records) {
    const ttl = r.ttl === 1 ? 1 : r.ttl;
    const content = r.type === 'TXT' && !r.content.startsWith('"') ? `"${r.content}"` : r.content;
    const target =
      r.type === 'CNAME' || r.type === 'MX' || r.type === 'NS' ? `${content.replace(/\.$/, '')}.` : content;
    const priority = r.priority === undefined ? '' : `${r.priority} `;
    const tags = r.proxied ? ' ; cf_tags=cf-proxied:true' : '';
    lines.push(`${r.name}.\t${ttl}\tIN\t${r.type}\t${priority}${target}${tags}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One resource record line of a BIND file (`name ttl [class] type rdata`); undefined for others. */
function parseBindLine(
  line: string,
  zoneName: string,
): { name: string; ttl: number; type: string; content: string; priority?: number } | undefined {
  const text = line.replace(/;.*$/, '').trim();
  if (text === '' || text.startsWith('$')) return undefined;
  const parts = text.split(/\s+/);
  if (parts.length < 4) return undefined;
  const name = parts[0]!.replace(/\.$/, '').replace(/^@$/, zoneName);
  let i = 1;
  const ttl = /^\d+$/.test(parts[i]!) ? Number(parts[i++]) : 1;
  if (parts[i] === 'IN') i++;
  const type = (parts[i++] ?? '').toUpperCase();
  if (!TYPES.has(type)) return undefined;
  let rest = parts.slice(i);
  let priority: number | undefined;
  if (type === 'MX') {
    priority = Number(rest[0]);
    rest = rest.slice(1);
  }
  let content = rest.join(' ');
  if (type === 'TXT') content = content.replace(/^"(.*)"$/, '$1');
  if (type === 'CNAME' || type === 'MX' || type === 'NS') content = content.replace(/\.$/, '');
  return {
    name,
    ttl: ttl === 1 || (ttl >= 60 && ttl <= 86400) ? ttl : 1,
    type,
    content,
    ...(priority === undefined ? {} : { priority }),
  };
}
