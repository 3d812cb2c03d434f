import type { RecordCreateParams, RecordUpdateParams } from 'cloudflare/resources/dns/records';
import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  findOrClaim,
  type HandlerContext,
  isPlainObject,
  KeelsonError,
  type KindSpec,
  leftoverOf,
  type ObservedResource,
  type ObserveQuery,
  type ReplaceOrderDecision,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  specOf,
  UnknownValue,
  unownedConflict,
} from '../../sdk/index.ts';
import { cloudflareCall, toKeelsonError } from '../client/api-error.ts';
import type { CloudflareClient } from '../client/client.ts';
import { unknownZones, type ZoneDirectory } from '../client/zone-directory.ts';
import { markComment, parseComment } from '../ownership.ts';

export const DNS_RECORD_KIND = 'cloudflare.DnsRecord';

const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV', 'CAA'] as const;
/** DNS record types keelson manages. */
export type DnsRecordType = (typeof RECORD_TYPES)[number];

/** Records per list page: the API allows up to 5,000,000, so a zone is usually one page (plus the empty one). */
const PAGE_SIZE = 5000;

export const dnsRecordSchema = defineKind({
  kind: DNS_RECORD_KIND,
  description: 'A DNS record in a Cloudflare zone; ownership is marked at the end of its comment.',
  spec: {
    zone: { type: 'string', required: true, replaceOnChange: true, description: 'Zone name, e.g. example.com.' },
    name: {
      type: 'string',
      required: true,
      description: 'Record name: `@` for the apex, a label relative to the zone, or the full name.',
    },
    type: { type: 'string', enum: RECORD_TYPES, required: true, replaceOnChange: true },
    content: {
      type: 'string',
      referenceable: true,
      description: 'Value (address, target, text). May reference an output, e.g. a server IPv4.',
    },
    ttl: { type: 'integer', minimum: 1, maximum: 86400, default: 1, description: 'Seconds; 1 = automatic.' },
    proxied: { type: 'boolean', default: false, description: 'Through Cloudflare proxy (A, AAAA, CNAME only).' },
    priority: { type: 'integer', minimum: 0, maximum: 65535, description: 'MX and SRV priority.' },
    data: {
      type: 'object',
      description: 'Structured value for SRV (weight, port, target) and CAA (flags, tag, value).',
      properties: {
        weight: { type: 'integer' },
        port: { type: 'integer' },
        target: { type: 'string' },
        flags: { type: 'integer' },
        tag: { type: 'string' },
        value: { type: 'string' },
      },
    },
    comment: { type: 'string', description: "The user's comment; keelson appends its ownership marker." },
  },
  outputs: {
    id: { type: 'string', computed: true },
    fqdn: { type: 'string', computed: true },
    zoneId: { type: 'string', computed: true },
    content: { type: 'string', computed: true },
  },
  replaceOrder: dnsReplaceOrder,
});

/**
 * A new type or zone is a new record. It is created before the old one is deleted (the name never
 * stops resolving) unless the two cannot exist at once: a CNAME cannot share its name with any
 * other record (RFC 1034 §3.6.2; Cloudflare refuses it with code 81053/81054), so an A record that
 * becomes a CNAME of the same name, or the reverse, is deleted first.
 */
export function dnsReplaceOrder(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): ReplaceOrderDecision {
  const name = (spec: Readonly<Record<string, unknown>>): string | undefined =>
    typeof spec.name === 'string' && typeof spec.zone === 'string' ? fullName(spec.name, spec.zone) : undefined;
  const shared = name(before) !== undefined && name(before) === name(after);
  if (shared && (before.type === 'CNAME' || after.type === 'CNAME')) {
    return {
      order: 'delete-first',
      why: `a CNAME cannot share its name (${name(after)}) with another record, so the old ${String(before.type)} record must go before the ${String(after.type)} record can be created`,
    };
  }
  return {
    order: 'create-first',
    why: shared
      ? `${String(before.type)} and ${String(after.type)} records may share the name ${name(after)}`
      : 'the new record does not share its name with the old one',
  };
}

/** A record as the API returns it (the SDK's per-type union, flattened to what keelson reads). */
interface LiveRecord {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly content?: string;
  readonly ttl: number;
  readonly proxied?: boolean;
  readonly priority?: number;
  readonly data?: Record<string, unknown>;
  readonly comment?: string | null;
}

/** The full record name of a spec's `name` in its zone. */
export function fullName(name: string, zone: string): string {
  const n = name.toLowerCase().replace(/\.$/, '');
  const z = zone.toLowerCase().replace(/\.$/, '');
  if (n === '@' || n === z) return z;
  return n.endsWith(`.${z}`) ? n : `${n}.${z}`;
}

/** Values the API rewrites, so that a converged record plans as no-op. Pure. */
export function normalizeDnsRecord(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...spec };
  const zone = typeof spec.zone === 'string' ? spec.zone.toLowerCase().replace(/\.$/, '') : spec.zone;
  out.zone = zone;
  if (typeof spec.name === 'string' && typeof zone === 'string') out.name = fullName(spec.name, zone);
  // A proxied record always answers with Cloudflare's automatic TTL.
  if (spec.proxied === true) out.ttl = 1;
  if (typeof spec.content === 'string' && (spec.type === 'CNAME' || spec.type === 'MX')) {
    out.content = spec.content.toLowerCase().replace(/\.$/, '');
  }
  if (typeof spec.content === 'string' && spec.type === 'AAAA') out.content = canonicalIpv6(spec.content);
  return out;
}

/** RFC 5952 form (lower case, longest zero run compressed), as Cloudflare stores AAAA content. */
export function canonicalIpv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}

function observedFrom(
  record: LiveRecord,
  zone: string,
  zoneId: string,
  name: string,
  owned: boolean,
): ObservedResource {
  const { user } = parseComment(record.comment);
  const spec: Record<string, unknown> = {
    zone,
    name: record.name.toLowerCase(),
    type: record.type,
    ttl: record.ttl,
    proxied: record.proxied ?? false,
  };
  if (record.content !== undefined) spec.content = record.content;
  if (record.priority !== undefined) spec.priority = record.priority;
  if (record.data !== undefined) {
    // SRV priority is written both ways by the API; keelson keeps it in `priority` only.
    const { priority: _priority, ...data } = record.data;
    spec.data = data;
  }
  if (user !== '') spec.comment = user;
  return {
    key: resourceKey(DNS_RECORD_KIND, name),
    kind: DNS_RECORD_KIND,
    name,
    id: record.id,
    owned,
    spec,
    outputs: { id: record.id, fqdn: record.name, zoneId, content: record.content ?? '' },
    ready: true,
  };
}

/** The desired spec, normalised as the API stores it, with the schema's type. */
function normalizedSpec(desired: ResolvedResource): KindSpec<typeof dnsRecordSchema> {
  return specOf(dnsRecordSchema, { spec: normalizeDnsRecord(desired.spec) });
}

/** DNS records: observed with one list per zone page, owned by a comment marker. */
export class DnsRecordHandler implements ResourceHandler {
  readonly #client: CloudflareClient;
  readonly #zones: ZoneDirectory;

  constructor(client: CloudflareClient, zones: ZoneDirectory) {
    this.#client = client;
    this.#zones = zones;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return normalizeDnsRecord(spec);
  }

  async #records(zoneId: string, zone: string, filter: { name?: string; type?: string } = {}): Promise<LiveRecord[]> {
    const out: LiveRecord[] = [];
    try {
      const params = { zone_id: zoneId, per_page: PAGE_SIZE, ...filter } as Parameters<
        CloudflareClient['sdk']['dns']['records']['list']
      >[0];
      for await (const record of this.#client.sdk.dns.records.list(params)) out.push(record as unknown as LiveRecord);
    } catch (error) {
      throw toKeelsonError(error, `cannot list DNS records of zone ${zone}`);
    }
    return out;
  }

  /** A zone that does not exist is refused before anything is planned for the resource. */
  preflight(_ctx: HandlerContext, desired: readonly ResolvedResource[]): Promise<Record<string, string>> {
    return unknownZones(this.#zones, desired);
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const zones = await this.#zones.all();
    const found = new Map<string, ObservedResource>();
    const byZone = new Map<string, LiveRecord[]>();
    // Owned records by the name in their marker: two of one name are a create-first replacement
    // caught between its two steps (or a crash there).
    const owned = new Map<string, ObservedResource[]>();
    for (const [zone, zoneId] of zones) {
      const records = await this.#records(zoneId, zone);
      byZone.set(zone, records);
      for (const record of records) {
        const marker = parseComment(record.comment);
        if (marker.owner !== ctx.owner || marker.name === undefined) continue;
        const list = owned.get(marker.name) ?? [];
        list.push(observedFrom(record, zone, zoneId, marker.name, true));
        owned.set(marker.name, list);
      }
    }
    const wanted = new Map(query.desired.map((d) => [d.name, normalizeDnsRecord(d.spec)]));
    for (const [name, records] of owned) {
      // The one Git describes (its zone and type) is the resource; any other is a leftover, deleted.
      const want = wanted.get(name);
      const sorted = [...records].sort((a, b) => a.id.localeCompare(b.id));
      const current =
        sorted.find((o) => want !== undefined && o.spec.zone === want.zone && o.spec.type === want.type) ??
        (sorted[0] as ObservedResource);
      found.set(name, current);
      for (const other of sorted) if (other !== current) found.set(leftoverOf(other).name, leftoverOf(other));
    }
    // Desired records with no owned counterpart: a record of the same name and type that keelson does
    // not own is reported (owned: false) so the plan refuses it unless it is adopted.
    for (const desired of query.desired) {
      if (found.has(desired.name)) continue;
      const spec = normalizeDnsRecord(desired.spec);
      if (typeof spec.zone !== 'string' || typeof spec.name !== 'string') continue;
      const zoneId = zones.get(spec.zone);
      const records = byZone.get(spec.zone);
      if (zoneId === undefined || records === undefined) continue;
      const clash = records.find(
        (r) =>
          r.name.toLowerCase() === spec.name && r.type === spec.type && parseComment(r.comment).owner !== ctx.owner,
      );
      if (clash) found.set(desired.name, observedFrom(clash, spec.zone, zoneId, desired.name, false));
    }
    return [...found.values()];
  }

  #body(ctx: HandlerContext, desired: ResolvedResource): Record<string, unknown> {
    const spec = normalizeDnsRecord(desired.spec);
    if (spec.content instanceof UnknownValue) {
      throw new KeelsonError(`cannot write DNS record ${desired.name}: its content is not known yet`, {
        code: 'NOT_READY',
        class: 'waiting',
        resource: desired.key,
        retryAfterMs: 5000,
      });
    }
    const body: Record<string, unknown> = {
      type: spec.type,
      name: spec.name,
      ttl: spec.ttl ?? 1,
      comment: markComment(typeof spec.comment === 'string' ? spec.comment : undefined, ctx.owner, desired.name),
    };
    if (spec.type === 'A' || spec.type === 'AAAA' || spec.type === 'CNAME') body.proxied = spec.proxied ?? false;
    if (spec.content !== undefined) body.content = spec.content;
    if (spec.priority !== undefined) body.priority = spec.priority;
    if (isPlainObject(spec.data)) {
      body.data =
        spec.type === 'SRV' && spec.priority !== undefined ? { ...spec.data, priority: spec.priority } : spec.data;
    }
    return body;
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const spec = normalizedSpec(desired);
    const zone = spec.zone;
    const zoneId = await this.#zones.idOf(zone, desired.key);
    const ours = (r: LiveRecord): boolean => {
      const m = parseComment(r.comment);
      return m.owner === ctx.owner && m.name === desired.name;
    };
    const action = `cannot create DNS record ${desired.name} (${spec.name} ${spec.type}) in ${zone}`;
    const { item } = await findOrClaim<LiveRecord>({
      desired,
      // Ours first; else one of that name and type that no keelson of this owner marked.
      find: async () => {
        const same = await this.#records(zoneId, zone, { name: spec.name, type: spec.type });
        return same.find(ours) ?? same.find((r) => parseComment(r.comment).owner !== ctx.owner);
      },
      owned: ours,
      create: async () =>
        (await cloudflareCall(
          () =>
            this.#client.sdk.dns.records.create({ zone_id: zoneId, ...this.#body(ctx, desired) } as RecordCreateParams),
          action,
          desired.key,
        )) as unknown as LiveRecord,
      claim: async (clash) =>
        (await cloudflareCall(
          () =>
            this.#client.sdk.dns.records.update(clash.id, {
              zone_id: zoneId,
              ...this.#body(ctx, desired),
            } as RecordUpdateParams),
          action,
          desired.key,
        )) as unknown as LiveRecord,
      describe: () => `${spec.name} (${spec.type}) in ${zone}`,
    });
    return observedFrom(item, zone, zoneId, desired.name, true);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const spec = normalizedSpec(desired);
    const zone = spec.zone;
    if (!observed.owned && !desired.adopt)
      throw unownedConflict(desired, `${spec.name} (${spec.type}) in ${zone}`, 'update');
    const zoneId = String(observed.outputs.zoneId ?? (await this.#zones.idOf(zone, desired.key)));
    try {
      // PUT writes the whole record, so fields edited by hand that Git does not set are reset too.
      const record = await this.#client.sdk.dns.records.update(observed.id, {
        zone_id: zoneId,
        ...this.#body(ctx, desired),
      } as RecordUpdateParams);
      return observedFrom(record as unknown as LiveRecord, zone, zoneId, desired.name, true);
    } catch (error) {
      throw toKeelsonError(
        error,
        `cannot update DNS record ${desired.name} (${spec.name} ${spec.type}) in ${zone}`,
        desired.key,
      );
    }
  }

  async delete(_ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const zoneId = String(observed.outputs.zoneId);
    await deleteIgnoringMissing(() =>
      cloudflareCall(
        () => this.#client.sdk.dns.records.delete(observed.id, { zone_id: zoneId }),
        `cannot delete DNS record ${observed.name}`,
        observed.key,
      ),
    );
  }
}
