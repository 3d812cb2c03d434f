import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  specOf,
  unownedConflict,
} from '../../sdk/index.ts';
import { cloudflareCall, isNotFound, toKeelsonError } from '../client/api-error.ts';
import type { CloudflareClient } from '../client/client.ts';
import { ownedInInventory } from '../ownership.ts';

export const WORKER_CRON_KIND = 'cloudflare.WorkerCron';

export const workerCronSchema = defineKind({
  kind: WORKER_CRON_KIND,
  description:
    "A Worker's cron triggers (all of them: Cloudflare replaces the whole list); ownership in the inventory.",
  spec: {
    script: {
      type: 'string',
      required: true,
      replaceOnChange: true,
      referenceable: true,
      description: 'Worker script name.',
    },
    schedules: {
      type: 'array',
      set: true,
      required: true,
      items: { type: 'string' },
      description: 'Cron expressions, e.g. `*/30 * * * *`.',
    },
  },
  outputs: { script: { type: 'string', computed: true } },
  unique: [
    {
      field: 'script',
      why: "Cloudflare keeps one list of cron triggers per script and each WorkerCron replaces it whole: put all of the script's schedules in one resource",
    },
  ],
});

/** Cron triggers: one read per script involved (Cloudflare has no account-wide list). */
export class WorkerCronHandler implements ResourceHandler {
  readonly #client: CloudflareClient;

  constructor(client: CloudflareClient) {
    this.#client = client;
  }

  get #account(): { account_id: string } {
    return { account_id: this.#client.accountId };
  }

  async #schedules(script: string, resource: string): Promise<string[] | undefined> {
    try {
      const result = await this.#client.sdk.workers.scripts.schedules.get(script, this.#account);
      return result.schedules.map((s) => s.cron ?? '').filter((c) => c !== '');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw toKeelsonError(error, `cannot read cron triggers of Worker ${script}`, resource);
    }
  }

  #observed(name: string, script: string, schedules: string[], owned: boolean): ObservedResource {
    return {
      key: resourceKey(WORKER_CRON_KIND, name),
      kind: WORKER_CRON_KIND,
      name,
      id: script,
      owned,
      spec: { script, schedules },
      outputs: { script },
      ready: true,
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const wanted = new Map<string, { name: string; owned: boolean }>();
    for (const e of ctx.inventory.list(WORKER_CRON_KIND)) {
      wanted.set(e.id, { name: e.key.slice(WORKER_CRON_KIND.length + 1), owned: true });
    }
    for (const d of query.desired) {
      const { script } = specOf(workerCronSchema, d);
      // A script that does not exist yet (its reference is known only after apply): nothing to read.
      if (typeof script !== 'string') continue;
      if (!wanted.has(script)) wanted.set(script, { name: d.name, owned: false });
    }
    const out: ObservedResource[] = [];
    for (const [script, { name, owned }] of wanted) {
      const schedules = await this.#schedules(script, resourceKey(WORKER_CRON_KIND, name));
      if (schedules === undefined) continue;
      // Nobody's triggers: nothing exists yet for a desired cron that keelson does not own.
      if (!owned && schedules.length === 0) continue;
      out.push(this.#observed(name, script, schedules, owned));
    }
    return out;
  }

  async #write(ctx: HandlerContext, desired: ResolvedResource, action: string): Promise<ObservedResource> {
    const { script, schedules } = specOf(workerCronSchema, desired);
    try {
      await this.#client.sdk.workers.scripts.schedules.update(script, {
        ...this.#account,
        body: schedules.map((cron) => ({ cron })),
      });
    } catch (error) {
      throw toKeelsonError(error, `cannot ${action} cron triggers ${desired.name} of Worker ${script}`, desired.key);
    }
    await ctx.inventory.set({ key: desired.key, kind: WORKER_CRON_KIND, id: script });
    return this.#observed(desired.name, script, [...schedules], true);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const { script } = specOf(workerCronSchema, desired);
    if (!ownedInInventory(ctx, desired.key, script) && !desired.adopt) {
      const live = await this.#schedules(script, desired.key);
      if (live !== undefined && live.length > 0) throw unownedConflict(desired, `cron triggers of Worker ${script}`);
    }
    return this.#write(ctx, desired, 'create');
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    if (!observed.owned && !desired.adopt) throw unownedConflict(desired, `cron triggers ${desired.name}`, 'update');
    return this.#write(ctx, desired, 'update');
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await deleteIgnoringMissing(() =>
      cloudflareCall(
        () => this.#client.sdk.workers.scripts.schedules.update(observed.id, { ...this.#account, body: [] }),
        `cannot delete cron triggers ${observed.name}`,
        observed.key,
      ),
    );
    await ctx.inventory.remove(observed.key);
  }
}
