import type { Secret } from './secret.ts';

/** The parts of Hetzner's server object the function reads. */
export interface HetznerServer {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly created: string;
  readonly labels: Record<string, string>;
}

export interface HetznerImage {
  readonly id: number;
  readonly description: string;
  readonly created: string;
}

export interface CreateServerRequest {
  readonly name: string;
  readonly serverType: string;
  readonly location: string;
  readonly image: number;
  readonly network: number;
  readonly firewall?: number;
  readonly labels: Record<string, string>;
  readonly userData: string;
}

/**
 * The five Hetzner Cloud calls the backup function makes, on `fetch`. The function is deployed on its
 * own (its folder is the upload), so it carries this small client instead of importing keelson's.
 * Like keelson's client, it never retries `POST /servers` blindly: a lost answer is settled by the
 * run's labels (the watchdog finds the server).
 */
export class HetznerApi {
  readonly #endpoint: string;
  readonly #token: Secret;

  constructor(endpoint: string, token: Secret) {
    this.#endpoint = endpoint;
    this.#token = token;
  }

  async #request<T>(method: string, path: string, what: string, body?: unknown): Promise<T | undefined> {
    const idempotent = method !== 'POST';
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${this.#endpoint}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${this.#token.reveal()}`,
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (e) {
        if (idempotent && attempt < 3) continue;
        throw new Error(`cannot ${what}: Hetzner did not answer (${(e as Error).message})`);
      }
      const text = await response.text();
      const parsed = text ? (JSON.parse(text) as { error?: { code?: string; message?: string } }) : undefined;
      if (response.ok) return parsed as T;
      if (method === 'DELETE' && response.status === 404) return undefined;
      if (idempotent && attempt < 3 && (response.status === 429 || response.status >= 502)) {
        const wait = Number(response.headers.get('retry-after') ?? 1);
        await new Promise((r) => setTimeout(r, Math.min(wait, 5) * 1000));
        continue;
      }
      throw new Error(
        `cannot ${what}: ${parsed?.error?.message ?? `HTTP ${response.status}`} (${parsed?.error?.code ?? response.status})`,
      );
    }
  }

  async #list<T>(path: string, key: string, query: Record<string, string>, what: string): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; page !== 0; ) {
      const q = new URLSearchParams({ ...query, page: String(page), per_page: '50' });
      const body = await this.#request<
        Record<string, unknown> & { meta?: { pagination?: { next_page?: number | null } } }
      >('GET', `${path}?${q}`, what);
      out.push(...(((body?.[key] as T[] | undefined) ?? []) as T[]));
      page = body?.meta?.pagination?.next_page ?? 0;
    }
    return out;
  }

  /** The newest snapshot matching the selector, as keelson's `hetzner.Image` lookup picks it. */
  async newestSnapshot(labelSelector: string): Promise<HetznerImage | undefined> {
    const images = await this.#list<HetznerImage & { id: number }>(
      '/images',
      'images',
      { type: 'snapshot', label_selector: labelSelector },
      `look up the backup snapshot (${labelSelector})`,
    );
    return [...images].sort((a, b) => b.created.localeCompare(a.created) || b.id - a.id)[0];
  }

  async idByName(kind: 'networks' | 'firewalls', name: string): Promise<number> {
    const found = await this.#list<{ id: number; name: string }>(`/${kind}`, kind, { name }, `look up ${kind} ${name}`);
    const item = found.find((f) => f.name === name);
    if (!item) throw new Error(`cannot find the ${kind.slice(0, -1)} ${name} in the Hetzner project`);
    return item.id;
  }

  async createServer(r: CreateServerRequest): Promise<HetznerServer> {
    const body = await this.#request<{ server: HetznerServer }>('POST', '/servers', `create server ${r.name}`, {
      name: r.name,
      server_type: r.serverType,
      location: r.location,
      image: r.image,
      networks: [r.network],
      ...(r.firewall === undefined ? {} : { firewalls: [{ firewall: r.firewall }] }),
      labels: r.labels,
      user_data: r.userData,
      start_after_create: true,
    });
    if (!body?.server) throw new Error(`cannot create server ${r.name}: Hetzner answered without a server`);
    return body.server;
  }

  async listServers(labelSelector: string): Promise<HetznerServer[]> {
    return this.#list<HetznerServer>('/servers', 'servers', { label_selector: labelSelector }, 'list backup servers');
  }

  /** Deletes a server; one that is already gone is fine. */
  async deleteServer(id: number, name: string): Promise<void> {
    await this.#request('DELETE', `/servers/${id}`, `delete server ${name}`);
  }
}
