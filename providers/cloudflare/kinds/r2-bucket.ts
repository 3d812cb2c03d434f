import type { BucketCreateParams, BucketListResponse } from 'cloudflare/resources/r2/buckets/buckets';
import type { LifecycleGetResponse, LifecycleUpdateParams } from 'cloudflare/resources/r2/buckets/lifecycle';
import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  findOrClaim,
  type HandlerContext,
  KeelsonError,
  type KindSpec,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  specOf,
  unownedConflict,
} from '../../sdk/index.ts';
import { errorCodes, isNotFound, toKeelsonError } from '../client/api-error.ts';
import type { CloudflareClient } from '../client/client.ts';
import { ownedInInventory } from '../ownership.ts';

export const R2_BUCKET_KIND = 'cloudflare.R2Bucket';

const LOCATIONS = ['apac', 'eeur', 'enam', 'weur', 'wnam', 'oc'] as const;
const DAY_SECONDS = 86_400;
/** Cloudflare's "bucket not empty" error code. */
const BUCKET_NOT_EMPTY = 10008;
/** Cloudflare's "bucket already exists" error code. */
const BUCKET_EXISTS = 10004;

export const r2BucketSchema = defineKind({
  kind: R2_BUCKET_KIND,
  description: 'An R2 bucket (named like the resource) with lifecycle rules; ownership is kept in the inventory.',
  stateful: true,
  spec: {
    locationHint: {
      type: 'string',
      enum: LOCATIONS,
      replaceOnChange: true,
      description: 'Where the bucket is created; only a hint at creation time.',
    },
    lifecycle: {
      type: 'array',
      set: true,
      default: [],
      description: 'Objects under a prefix are deleted this many days after upload. Default: none.',
      items: {
        type: 'object',
        properties: {
          prefix: { type: 'string', required: true, description: 'Key prefix, e.g. `daily/`; empty for all.' },
          expireAfterDays: { type: 'integer', minimum: 1, required: true },
        },
      },
    },
  },
  outputs: { name: { type: 'string', computed: true } },
  replaceOrder: {
    order: 'delete-first',
    why: 'R2 bucket names are unique in an account: the old bucket must go before the new one can take its name',
  },
});

/** One retention rule as keelson writes it. */
export type LifecycleRule = KindSpec<typeof r2BucketSchema>['lifecycle'][number];

function toApiRules(rules: readonly LifecycleRule[]): LifecycleUpdateParams.Rule[] {
  return rules.map((rule) => ({
    id: `keelson-${rule.prefix === '' ? 'all' : rule.prefix.replace(/[^a-zA-Z0-9-]/g, '-')}`,
    enabled: true,
    conditions: { prefix: rule.prefix },
    deleteObjectsTransition: { condition: { type: 'Age', maxAge: rule.expireAfterDays * DAY_SECONDS } },
  }));
}

function fromApiRules(rules: LifecycleGetResponse['rules']): Record<string, unknown>[] {
  return (rules ?? [])
    .filter((rule) => rule.enabled)
    .map((rule) => {
      const condition = rule.deleteObjectsTransition?.condition;
      const days = condition?.type === 'Age' ? condition.maxAge / DAY_SECONDS : undefined;
      // A rule keelson cannot express (a date, a storage transition) shows up without days, so it differs.
      return days === undefined
        ? { prefix: rule.conditions.prefix }
        : { prefix: rule.conditions.prefix, expireAfterDays: days };
    });
}

/** R2 buckets: listed with cursor pages; lifecycle read per relevant bucket; ownership in the inventory. */
export class R2BucketHandler implements ResourceHandler {
  readonly #client: CloudflareClient;

  constructor(client: CloudflareClient) {
    this.#client = client;
  }

  get #account(): { account_id: string } {
    return { account_id: this.#client.accountId };
  }

  /** Every bucket of the account. The SDK does not page this list, so the cursor is followed here. */
  async #buckets(): Promise<Map<string, { location?: string }>> {
    const out = new Map<string, { location?: string }>();
    let cursor: string | undefined;
    try {
      for (;;) {
        const query: Record<string, unknown> = { per_page: 1000 };
        if (cursor) query.cursor = cursor;
        const page = (await this.#client.sdk.get(`/accounts/${this.#client.accountId}/r2/buckets`, { query })) as {
          result: BucketListResponse;
          result_info?: { cursor?: string };
        };
        for (const bucket of page.result.buckets ?? []) {
          if (bucket.name) out.set(bucket.name, bucket.location ? { location: bucket.location.toLowerCase() } : {});
        }
        cursor = page.result_info?.cursor;
        if (!cursor || (page.result.buckets ?? []).length === 0) break;
      }
    } catch (error) {
      throw toKeelsonError(error, 'cannot list R2 buckets');
    }
    return out;
  }

  async #lifecycle(name: string): Promise<Record<string, unknown>[]> {
    try {
      return fromApiRules((await this.#client.sdk.r2.buckets.lifecycle.get(name, this.#account)).rules);
    } catch (error) {
      throw toKeelsonError(
        error,
        `cannot read lifecycle rules of R2 bucket ${name}`,
        resourceKey(R2_BUCKET_KIND, name),
      );
    }
  }

  async #observed(ctx: HandlerContext, name: string, location: string | undefined): Promise<ObservedResource> {
    const key = resourceKey(R2_BUCKET_KIND, name);
    const spec: Record<string, unknown> = { lifecycle: await this.#lifecycle(name) };
    if (location) spec.locationHint = location;
    return {
      key,
      kind: R2_BUCKET_KIND,
      name,
      id: name,
      owned: ownedInInventory(ctx, key, name),
      spec,
      outputs: { name },
      ready: true,
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const buckets = await this.#buckets();
    const wanted = new Set([...query.names, ...ctx.inventory.list(R2_BUCKET_KIND).map((e) => e.id)]);
    const out: ObservedResource[] = [];
    for (const name of wanted) {
      const live = buckets.get(name);
      if (live) out.push(await this.#observed(ctx, name, live.location));
    }
    return out;
  }

  async #writeLifecycle(desired: ResolvedResource): Promise<void> {
    const rules = specOf(r2BucketSchema, desired).lifecycle;
    try {
      await this.#client.sdk.r2.buckets.lifecycle.update(desired.name, { ...this.#account, rules: toApiRules(rules) });
    } catch (error) {
      throw toKeelsonError(error, `cannot write lifecycle rules of R2 bucket ${desired.name}`, desired.key);
    }
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    // Buckets carry no labels: ownership is the inventory entry, written below (which is also the claim).
    await findOrClaim<string>({
      desired,
      find: async () => {
        try {
          await this.#client.sdk.r2.buckets.get(desired.name, this.#account);
          return desired.name;
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw toKeelsonError(error, `cannot read R2 bucket ${desired.name}`, desired.key);
        }
      },
      owned: (name) => ownedInInventory(ctx, desired.key, name),
      create: async () => {
        const params: BucketCreateParams = { ...this.#account, name: desired.name };
        const hint = specOf(r2BucketSchema, desired).locationHint;
        if (hint !== undefined) params.locationHint = hint;
        try {
          await this.#client.sdk.r2.buckets.create(params);
        } catch (error) {
          // Created by an earlier attempt whose answer was lost: the journal made sure it was ours.
          if (!errorCodes(error).includes(BUCKET_EXISTS)) {
            throw toKeelsonError(error, `cannot create R2 bucket ${desired.name}`, desired.key);
          }
        }
        return desired.name;
      },
      claim: async (name) => name,
      describe: () => `R2 bucket ${desired.name}`,
    });
    await ctx.inventory.set({ key: desired.key, kind: R2_BUCKET_KIND, id: desired.name });
    await this.#writeLifecycle(desired);
    const hint = specOf(r2BucketSchema, desired).locationHint;
    return this.#observed(ctx, desired.name, hint);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    if (!observed.owned) {
      if (!desired.adopt) throw unownedConflict(desired, `R2 bucket ${desired.name}`, 'update');
      await ctx.inventory.set({ key: desired.key, kind: R2_BUCKET_KIND, id: desired.name });
    }
    await this.#writeLifecycle(desired);
    const location = specOf(r2BucketSchema, observed).locationHint;
    return this.#observed(ctx, desired.name, location);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await deleteIgnoringMissing(() => this.#client.sdk.r2.buckets.delete(observed.id, this.#account), isNotFound).catch(
      (error: unknown) => {
        if (errorCodes(error).includes(BUCKET_NOT_EMPTY)) {
          throw new KeelsonError(
            `cannot delete R2 bucket ${observed.name}: it still holds objects; keelson never deletes data, empty it first`,
            { code: 'API_ERROR', class: 'terminal', resource: observed.key, status: 409, cause: error },
          );
        }
        throw toKeelsonError(error, `cannot delete R2 bucket ${observed.name}`, observed.key);
      },
    );
    await ctx.inventory.remove(observed.key);
  }
}
