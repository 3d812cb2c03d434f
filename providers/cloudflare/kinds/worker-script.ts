import type { ScriptUpdateParams } from 'cloudflare/resources/workers/scripts/scripts';
import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  isPlainObject,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  resourceKey,
  SecretValue,
  specOf,
  unownedConflict,
} from '../../sdk/index.ts';
import { cloudflareCall, toKeelsonError } from '../client/api-error.ts';
import type { CloudflareClient } from '../client/client.ts';
import { parseScriptTags, scriptTags } from '../ownership.ts';
import { bundleByHash, bundleWorker } from './worker-bundle.ts';

export const WORKER_SCRIPT_KIND = 'cloudflare.WorkerScript';

/** What an observed bundle hash is when the script's content was changed outside keelson. */
export const EDITED_OUTSIDE = 'edited-outside-keelson';

export const workerScriptSchema = defineKind({
  kind: WORKER_SCRIPT_KIND,
  description:
    'A Worker script (named like the resource) bundled with esbuild from a folder of the repository; uploaded only when its bundle or settings change.',
  spec: {
    source: { type: 'string', required: true, description: 'Folder of the Worker, relative to the repository root.' },
    main: {
      type: 'string',
      default: 'src/index.ts',
      description: 'Entry module inside `source`. Default src/index.ts.',
    },
    compatibilityDate: { type: 'string', required: true, pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    compatibilityFlags: { type: 'array', set: true, items: { type: 'string' }, default: [] },
    vars: { type: 'map', values: { type: 'string' }, default: {}, description: 'Plain-text bindings.' },
    secrets: {
      type: 'map',
      values: { type: 'secret' },
      // The whole map is sensitive so a plan redacts it as one field, not only its values.
      sensitive: true,
      default: {},
      description: 'Secret bindings: `NAME: { secretRef: REF }`. Write-only; compared by digest.',
    },
    r2Buckets: { type: 'map', values: { type: 'string' }, default: {}, description: 'Binding name to R2 bucket name.' },
    services: { type: 'map', values: { type: 'string' }, default: {}, description: 'Binding name to Worker script.' },
    bundleHash: {
      type: 'string',
      description: 'Filled in by keelson from the built bundle (do not write it): a change means an upload.',
    },
  },
  outputs: { name: { type: 'string', computed: true }, etag: { type: 'string', computed: true } },
});

interface LiveBinding {
  readonly name: string;
  readonly type: string;
  readonly text?: string;
  readonly bucket_name?: string;
  readonly service?: string;
}

interface ScriptRecord {
  /** Live etag when keelson last uploaded; a different live etag means a hand edit. */
  readonly etag?: string;
  /** Digest of each secret keelson last wrote, by binding name. Never a value. */
  readonly secrets?: Record<string, string>;
  readonly source?: string;
  readonly main?: string;
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Worker scripts: one list call, plus one settings read per script keelson cares about. */
export class WorkerScriptHandler implements ResourceHandler {
  readonly #client: CloudflareClient;

  constructor(client: CloudflareClient) {
    this.#client = client;
  }

  get #account(): { account_id: string } {
    return { account_id: this.#client.accountId };
  }

  /**
   * Pure: the hash of what the source folder builds to (`bundleHash`) is put into the desired spec
   * by the load step's build (`workerBundleBuilder`), so a converged script plans as no-op and any
   * change to its code (or its imports) plans an upload without the planner running esbuild.
   */
  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const main = typeof spec.main === 'string' ? spec.main : 'src/index.ts';
    return { ...spec, main };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const scripts: {
      id?: string;
      etag?: string;
      tags?: string[] | null;
      compatibility_date?: string;
      compatibility_flags?: string[];
    }[] = [];
    try {
      for await (const script of this.#client.sdk.workers.scripts.list(this.#account)) scripts.push(script);
    } catch (error) {
      throw toKeelsonError(error, 'cannot list Worker scripts');
    }
    const names = new Set(query.names);
    const out: ObservedResource[] = [];
    for (const script of scripts) {
      const name = script.id;
      if (!name) continue;
      const tags = parseScriptTags(script.tags);
      const owned = tags.owner === ctx.owner;
      if (!owned && !names.has(name)) continue;
      const want = query.desired.find((d) => d.name === name);
      out.push(await this.#observed(ctx, name, owned, script, tags.bundleHash, want?.spec));
    }
    return out;
  }

  async #observed(
    ctx: HandlerContext,
    name: string,
    owned: boolean,
    script: { etag?: string; compatibility_date?: string; compatibility_flags?: string[] },
    bundleHash: string | undefined,
    desired: Readonly<Record<string, unknown>> | undefined,
  ): Promise<ObservedResource> {
    const key = resourceKey(WORKER_SCRIPT_KIND, name);
    let bindings: LiveBinding[] = [];
    try {
      const settings = await this.#client.sdk.workers.scripts.scriptAndVersionSettings.get(name, this.#account);
      bindings = (settings.bindings ?? []) as LiveBinding[];
    } catch (error) {
      throw toKeelsonError(error, `cannot read settings of Worker ${name}`, key);
    }
    const record = (ctx.inventory.get(key)?.data ?? {}) as ScriptRecord;
    const vars: Record<string, string> = {};
    const secrets: Record<string, unknown> = {};
    const r2Buckets: Record<string, string> = {};
    const services: Record<string, string> = {};
    for (const b of bindings) {
      if (b.type === 'plain_text') vars[b.name] = b.text ?? '';
      else if (b.type === 'secret_text') secrets[b.name] = { $sensitiveDigest: record.secrets?.[b.name] ?? 'unknown' };
      else if (b.type === 'r2_bucket') r2Buckets[b.name] = b.bucket_name ?? '';
      else if (b.type === 'service') services[b.name] = b.service ?? '';
    }
    const editedOutside = record.etag !== undefined && script.etag !== undefined && record.etag !== script.etag;
    return {
      key,
      kind: WORKER_SCRIPT_KIND,
      name,
      id: name,
      owned,
      spec: {
        // The folder is not a live property: what was built from it is (bundleHash). Reporting the
        // desired folder means a moved folder with the same code needs no upload.
        source: typeof desired?.source === 'string' ? desired.source : (record.source ?? ''),
        main: typeof desired?.main === 'string' ? desired.main : (record.main ?? 'src/index.ts'),
        compatibilityDate: script.compatibility_date ?? '',
        compatibilityFlags: script.compatibility_flags ?? [],
        vars,
        secrets,
        r2Buckets,
        services,
        bundleHash: editedOutside ? EDITED_OUTSIDE : (bundleHash ?? ''),
      },
      outputs: { name, etag: script.etag ?? '' },
      ready: true,
    };
  }

  async #upload(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const spec = specOf(workerScriptSchema, desired);
    const main = spec.main;
    // What the load step built and the plan compared; built again only if this process did not build it.
    const bundle =
      bundleByHash(desired.spec.bundleHash) ?? bundleWorker(this.#client.root, spec.source, main, desired.key);
    const bindings: NonNullable<ScriptUpdateParams.Metadata['bindings']> = [];
    for (const [name, text] of Object.entries(stringMap(spec.vars))) bindings.push({ type: 'plain_text', name, text });
    const digests: Record<string, string> = {};
    for (const [name, value] of Object.entries(isPlainObject(spec.secrets) ? spec.secrets : {})) {
      if (!(value instanceof SecretValue)) {
        throw new KeelsonError(`cannot upload Worker ${desired.name}: secret ${name} was not resolved`, {
          code: 'INVALID_SPEC',
          class: 'terminal',
          resource: desired.key,
        });
      }
      bindings.push({ type: 'secret_text', name, text: value.reveal() });
      digests[name] = value.digest;
    }
    for (const [name, bucket] of Object.entries(stringMap(spec.r2Buckets))) {
      bindings.push({ type: 'r2_bucket', name, bucket_name: bucket });
    }
    for (const [name, service] of Object.entries(stringMap(spec.services)))
      bindings.push({ type: 'service', name, service });
    const metadata: ScriptUpdateParams.Metadata = {
      main_module: 'index.js',
      compatibility_date: spec.compatibilityDate,
      compatibility_flags: [...spec.compatibilityFlags],
      bindings,
      tags: scriptTags(ctx.owner, bundle.hash),
    };
    // The SDK would flatten a metadata object into form fields; the API wants one JSON part.
    const metadataPart = new File([JSON.stringify(metadata)], 'metadata.json', { type: 'application/json' });
    let etag: string | undefined;
    try {
      const result = await this.#client.sdk.workers.scripts.update(
        desired.name,
        {
          ...this.#account,
          metadata: metadataPart as unknown as ScriptUpdateParams.Metadata,
          files: [
            new File([bundle.code], 'index.js', { type: 'application/javascript+module' }),
            new File([bundle.sourceMap], 'index.js.map', { type: 'application/source-map' }),
          ],
        },
        // The SDK pins `application/javascript`; dropping it lets fetch send multipart with its boundary.
        { headers: { 'Content-Type': null } },
      );
      etag = result.etag;
    } catch (error) {
      throw toKeelsonError(error, `cannot upload Worker ${desired.name}`, desired.key);
    }
    const record: ScriptRecord = {
      ...(etag === undefined ? {} : { etag }),
      secrets: digests,
      source: spec.source,
      main,
    };
    await ctx.inventory.set({ key: desired.key, kind: WORKER_SCRIPT_KIND, id: desired.name, data: { ...record } });
    return this.#observed(
      ctx,
      desired.name,
      true,
      {
        ...(etag === undefined ? {} : { etag }),
        compatibility_date: metadata.compatibility_date,
        compatibility_flags: metadata.compatibility_flags,
      },
      bundle.hash,
      spec,
    );
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    let existing: { tags?: string[] | null } | undefined;
    try {
      for await (const script of this.#client.sdk.workers.scripts.list(this.#account)) {
        if (script.id === desired.name) existing = script;
      }
    } catch (error) {
      throw toKeelsonError(error, 'cannot list Worker scripts', desired.key);
    }
    if (existing && parseScriptTags(existing.tags).owner !== ctx.owner && !desired.adopt) {
      throw unownedConflict(desired, `a Worker script named ${desired.name}`);
    }
    // Uploading is a PUT of the whole script: idempotent, so an existing owned script is simply rewritten.
    return this.#upload(ctx, desired);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    _changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    if (!observed.owned && !desired.adopt) throw unownedConflict(desired, `Worker ${desired.name}`, 'update');
    return this.#upload(ctx, desired);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    await deleteIgnoringMissing(() =>
      cloudflareCall(
        () => this.#client.sdk.workers.scripts.delete(observed.id, { ...this.#account, force: true }),
        `cannot delete Worker ${observed.name}`,
        observed.key,
      ),
    );
    await ctx.inventory.remove(observed.key);
  }
}
