import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  isLeftover,
  leftoverName,
  leftoverOf,
  leftoverOwner,
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
  // Triggers moved to another script: the new script's are set before the old script's are
  // cleared, so no scheduled run is missed (both scripts may fire once in between).
  replaceOrder: {
    order: 'create-first',
    why: "the new script's triggers are set before the old script's are cleared (both may exist at once)",
  },
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
      const name = e.key.slice(WORKER_CRON_KIND.length + 1);
      // A script recorded under a leftover key too (a kill between the two writes of the move in
      // create) is the leftover.
      if (!isLeftover(wanted.get(e.id)?.name ?? '')) wanted.set(e.id, { name, owned: true });
    }
    for (const d of query.desired) {
      const { script } = specOf(workerCronSchema, d);
      // A script that does not exist yet (its reference is known only after apply): nothing to read.
      if (typeof script !== 'string') continue;
      if (!wanted.has(script)) wanted.set(script, { name: d.name, owned: false });
    }
    const found = new Map<string, ObservedResource>();
    // The old scripts of create-first replacements (recorded under a leftover key), by resource name.
    const leftovers = new Map<string, ObservedResource>();
    for (const [script, { name, owned }] of wanted) {
      const schedules = await this.#schedules(script, resourceKey(WORKER_CRON_KIND, name));
      if (schedules === undefined) continue;
      // Nobody's triggers: nothing exists yet for a desired cron that keelson does not own.
      if (!owned && schedules.length === 0) continue;
      if (isLeftover(name)) leftovers.set(name, this.#observed(leftoverOwner(name), script, schedules, true));
      else found.set(name, this.#observed(name, script, schedules, owned));
    }
    // No new triggers yet (their write failed): the old ones still answer to the resource, and are
    // replaced again — not cleared as a leftover while nothing replaces them.
    for (const d of query.desired) {
      if (found.has(d.name)) continue;
      const old = [...leftovers].find(([, o]) => o.name === d.name);
      if (!old) continue;
      found.set(d.name, old[1]);
      leftovers.delete(old[0]);
    }
    return [...found.values(), ...[...leftovers.values()].map((o) => leftoverOf(o))];
  }

  /**
   * A create-first replacement (triggers moved to another script): the script recorded under
   * this key is the old one. It is recorded under its leftover key before the new script's
   * triggers are written, so that neither a lost answer's claim nor a crash takes it for the new
   * one, and it stays recorded until its triggers are cleared (also by the next pass).
   */
  async #setAside(ctx: HandlerContext, desired: ResolvedResource, script: string): Promise<void> {
    const previous = ctx.inventory.get(desired.key);
    if (previous === undefined || previous.id === script) return;
    await ctx.inventory.set({
      ...previous,
      key: resourceKey(WORKER_CRON_KIND, leftoverName(desired.name, previous.id)),
    });
    await ctx.inventory.remove(desired.key);
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
    // Only past the check: triggers in the way that are not ours keep the old script the resource.
    await this.#setAside(ctx, desired, script);
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
    const resource = leftoverOwner(observed.key);
    const records = ctx.inventory.list(WORKER_CRON_KIND).filter((e) => e.id === observed.id);
    // The script's triggers belong to another resource now (it took the script over in the same
    // pass): only this resource's record goes, the triggers stay.
    if (!records.some((e) => leftoverOwner(e.key) !== resource)) {
      await deleteIgnoringMissing(() =>
        cloudflareCall(
          () => this.#client.sdk.workers.scripts.schedules.update(observed.id, { ...this.#account, body: [] }),
          `cannot delete cron triggers ${observed.name}`,
          observed.key,
        ),
      );
    }
    // This resource's records of these triggers only: a leftover's delete must not forget the new ones.
    for (const e of records) if (leftoverOwner(e.key) === resource) await ctx.inventory.remove(e.key);
  }
}
