import { KeelsonError } from '../../sdk/index.ts';
import { toKeelsonError } from './api-error.ts';
import type { CloudflareClient } from './client.ts';

/** Zone names to ids, looked up once per `maxAgeMs` (zones hardly ever change) with one list call. */
export class ZoneDirectory {
  readonly #client: CloudflareClient;
  readonly #maxAgeMs: number;
  #zones: Map<string, string> | undefined;
  #loadedAt = 0;

  /** `maxAgeMs`: how long a lookup is reused. Default 60 s. */
  constructor(client: CloudflareClient, maxAgeMs = 60_000) {
    this.#client = client;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Every zone of the account: name to id. */
  async all(): Promise<ReadonlyMap<string, string>> {
    if (this.#zones && Date.now() - this.#loadedAt < this.#maxAgeMs) return this.#zones;
    const zones = new Map<string, string>();
    try {
      for await (const zone of this.#client.sdk.zones.list({ account: { id: this.#client.accountId }, per_page: 50 })) {
        zones.set(zone.name.toLowerCase(), zone.id);
      }
    } catch (error) {
      throw toKeelsonError(error, 'cannot list Cloudflare zones');
    }
    this.#zones = zones;
    this.#loadedAt = Date.now();
    return zones;
  }

  /** The id of a zone, by name; a terminal error naming the resource when the account has no such zone. */
  async idOf(name: string, resource: string): Promise<string> {
    let id = (await this.all()).get(name.toLowerCase());
    if (id === undefined) {
      this.#zones = undefined;
      id = (await this.all()).get(name.toLowerCase());
    }
    if (id === undefined) {
      throw new KeelsonError(`cannot find Cloudflare zone ${name} for ${resource}: the account has no such zone`, {
        code: 'NOT_FOUND',
        class: 'terminal',
        resource,
      });
    }
    return id;
  }

  /** The name of a zone id, if known. */
  async nameOf(id: string): Promise<string | undefined> {
    for (const [name, zid] of await this.all()) if (zid === id) return name;
    return undefined;
  }
}

/**
 * The resources (by key) whose `zone` is not a zone of the account, with why: the preflight of the
 * kinds that name a zone, so a zone typo is refused before anything is deleted or replaced.
 */
export async function unknownZones(
  zones: ZoneDirectory,
  desired: readonly { readonly key: string; readonly spec: Readonly<Record<string, unknown>> }[],
): Promise<Record<string, string>> {
  const known = await zones.all();
  const out: Record<string, string> = {};
  for (const r of desired) {
    const zone = typeof r.spec.zone === 'string' ? r.spec.zone.toLowerCase().replace(/\.$/, '') : undefined;
    if (zone === undefined || known.has(zone)) continue;
    const names = [...known.keys()].sort();
    out[r.key] =
      `zone "${zone}" is not in this Cloudflare account (zones: ${names.slice(0, 10).join(', ') || 'none'}${names.length > 10 ? ', ...' : ''}); check the spelling`;
  }
  return out;
}
