import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  specOf,
} from '../../sdk/index.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import { compact, type GcpRuntime, inventoryBase, signalOf } from './common.ts';

export const SERVICE_ACCOUNT_KIND = 'gcp.ServiceAccount';
const IAM_HOST = 'iam.googleapis.com';

export const serviceAccountSchema = defineKind({
  kind: SERVICE_ACCOUNT_KIND,
  description:
    'A service account; the resource name is its account id (6-30 characters: lowercase letters, digits, `-`). Service accounts carry no labels: ownership is kept in the inventory.',
  spec: {
    displayName: { type: 'string', default: '' },
    description: { type: 'string', default: '' },
  },
  outputs: {
    email: { type: 'string', computed: true, description: '`NAME@PROJECT.iam.gserviceaccount.com`.' },
    member: { type: 'string', computed: true, description: '`serviceAccount:EMAIL`, for IAM bindings.' },
    name: { type: 'string', computed: true },
    uniqueId: { type: 'string', computed: true },
  },
});

interface Account {
  name?: string;
  email?: string;
  uniqueId?: string;
  displayName?: string;
  description?: string;
}

/**
 * Service accounts through the IAM REST API (Google ships no Node client for IAM v1): one paged list
 * per observe.
 */
export class ServiceAccountHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #email(name: string): string {
    return `${name}@${this.#rt.api.projectId}.iam.gserviceaccount.com`;
  }

  #observed(ctx: HandlerContext, a: Account): ObservedResource {
    const email = a.email ?? '';
    const name = email.slice(0, email.indexOf('@'));
    return {
      ...inventoryBase(SERVICE_ACCOUNT_KIND, name, email, ctx, this.#rt),
      spec: { displayName: a.displayName ?? '', description: a.description ?? '' },
      outputs: compact({ email, member: `serviceAccount:${email}`, name: a.name, uniqueId: a.uniqueId }),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    // Nothing wanted and nothing recorded: nothing of this kind can be keelson's (no labels to list by).
    if (query.names.length === 0 && ctx.inventory.list(SERVICE_ACCOUNT_KIND).length === 0) return [];
    const api = this.#rt.api;
    const accounts: Account[] = [];
    let pageToken = '';
    do {
      const q = new URLSearchParams({ pageSize: '100', ...(pageToken ? { pageToken } : {}) });
      const page = await api.rest<{ accounts?: Account[]; nextPageToken?: string }>(
        'GET',
        IAM_HOST,
        `/v1/${api.project}/serviceAccounts?${q}`,
        'list service accounts',
        undefined,
        undefined,
        signalOf(ctx),
      );
      accounts.push(...(page.accounts ?? []));
      pageToken = page.nextPageToken ?? '';
    } while (pageToken);
    const emails = new Set([
      ...query.names.map((n) => this.#email(n)),
      ...ctx.inventory.list(SERVICE_ACCOUNT_KIND).map((e) => e.id),
    ]);
    return accounts.filter((a) => a.email && emails.has(a.email)).map((a) => this.#observed(ctx, a));
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const api = this.#rt.api;
    let account: Account;
    try {
      account = await api.rest<Account>(
        'POST',
        IAM_HOST,
        `/v1/${api.project}/serviceAccounts`,
        `create service account ${desired.name}`,
        desired.key,
        {
          accountId: desired.name,
          serviceAccount: {
            displayName: specOf(serviceAccountSchema, desired).displayName,
            description: specOf(serviceAccountSchema, desired).description,
          },
        },
        signalOf(ctx),
      );
    } catch (error) {
      // Only planned when observe did not find it: it appeared since, from an attempt whose answer was lost.
      if (!isAlreadyExists(error)) throw error;
      account = await this.#get(ctx, desired.name, desired.key);
    }
    await ctx.inventory.set({ key: desired.key, kind: SERVICE_ACCOUNT_KIND, id: this.#email(desired.name) });
    return this.#observed(ctx, account);
  }

  async #get(ctx: HandlerContext, name: string, key: string): Promise<Account> {
    const api = this.#rt.api;
    return api.rest<Account>(
      'GET',
      IAM_HOST,
      `/v1/${api.project}/serviceAccounts/${this.#email(name)}`,
      `read service account ${name}`,
      key,
      undefined,
      signalOf(ctx),
    );
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const api = this.#rt.api;
    if (!observed.owned) await ctx.inventory.set({ key: desired.key, kind: SERVICE_ACCOUNT_KIND, id: observed.id });
    const account = await api.rest<Account>(
      'PATCH',
      IAM_HOST,
      `/v1/${api.project}/serviceAccounts/${this.#email(desired.name)}`,
      `update service account ${desired.name}`,
      desired.key,
      {
        serviceAccount: {
          displayName: specOf(serviceAccountSchema, desired).displayName,
          description: specOf(serviceAccountSchema, desired).description,
        },
        updateMask: 'displayName,description',
      },
      signalOf(ctx),
    );
    return this.#observed(ctx, account);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const api = this.#rt.api;
    await deleteIgnoringMissing(
      () =>
        api.rest(
          'DELETE',
          IAM_HOST,
          `/v1/${api.project}/serviceAccounts/${observed.id}`,
          `delete service account ${observed.name}`,
          observed.key,
          undefined,
          signalOf(ctx),
        ),
      isNotFound,
    );
    await ctx.inventory.remove(observed.key);
  }
}
