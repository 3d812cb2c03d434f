export { CLOUDFLARE_QUOTA, cloudflareBudget } from './client/client.ts';
export type { CloudflareConfig } from './client/config.ts';
export { readCloudflareConfig } from './client/config.ts';
export { dnsRecordSchema } from './kinds/dns-record.ts';
export { r2BucketSchema } from './kinds/r2-bucket.ts';
export { workerCronSchema } from './kinds/worker-cron.ts';
export { workerRouteSchema } from './kinds/worker-route.ts';
export { workerScriptSchema } from './kinds/worker-script.ts';

import {
  buildKinds,
  type HandlerContext,
  KeelsonError,
  type KindEntry,
  type Logger,
  type Provider,
  type ProviderModule,
  type ProviderOptions,
  type RateBudget,
  schemasOf,
} from '../sdk/index.ts';
import { toKeelsonError } from './client/api-error.ts';
import { type CloudflareClient, createCloudflareClient } from './client/client.ts';
import { type CloudflareConfig, readCloudflareConfig } from './client/config.ts';
import { ZoneDirectory } from './client/zone-directory.ts';
import { DnsRecordHandler, dnsRecordSchema } from './kinds/dns-record.ts';
import { R2BucketHandler, r2BucketSchema } from './kinds/r2-bucket.ts';
import { workerBundleBuilder } from './kinds/worker-bundle.ts';
import { WorkerCronHandler, workerCronSchema } from './kinds/worker-cron.ts';
import { WorkerRouteHandler, workerRouteSchema } from './kinds/worker-route.ts';
import { WorkerScriptHandler, workerScriptSchema } from './kinds/worker-script.ts';

/** What the Cloudflare handlers share: one client (one rate budget per token) and one zone directory. */
interface CloudflareShared {
  readonly client: CloudflareClient;
  readonly zones: ZoneDirectory;
}

/** Every Cloudflare kind. */
const cloudflareKinds: readonly KindEntry<CloudflareShared>[] = [
  { schema: dnsRecordSchema, handler: (s) => new DnsRecordHandler(s.client, s.zones) },
  { schema: r2BucketSchema, handler: (s) => new R2BucketHandler(s.client) },
  { schema: workerScriptSchema, handler: (s) => new WorkerScriptHandler(s.client) },
  { schema: workerRouteSchema, handler: (s) => new WorkerRouteHandler(s.client, s.zones) },
  { schema: workerCronSchema, handler: (s) => new WorkerCronHandler(s.client) },
];

/** The Cloudflare provider plus the client under it (tests count requests and read the budget). */
export interface CloudflareProvider extends Provider {
  readonly client: CloudflareClient;
}

/** Options of `createCloudflareProvider`. */
export interface CloudflareProviderOptions {
  readonly log: Logger;
  /** A shared budget (one per token). Default: 1,200 requests / 5 minutes. */
  readonly budget?: RateBudget;
  /** Concurrent write calls. Default 4. */
  readonly concurrency?: number;
}

export function createCloudflareProvider(
  config: CloudflareConfig,
  options: CloudflareProviderOptions,
): CloudflareProvider {
  const client = createCloudflareClient(config, {
    log: options.log,
    ...(options.budget === undefined ? {} : { budget: options.budget }),
  });
  const zones = new ZoneDirectory(client);
  return {
    name: 'cloudflare',
    client,
    concurrency: options.concurrency ?? 4,
    kinds: buildKinds(cloudflareKinds, { client, zones }),
    endpoint: { url: config.baseURL, setting: 'CLOUDFLARE_API_BASE_URL' },
    rateBudget: () => client.budget.snapshot(),
    async connect(ctx: HandlerContext): Promise<void> {
      let status: string;
      try {
        status = (await client.sdk.user.tokens.verify({ signal: ctx.signal })).status;
      } catch (error) {
        const cause = toKeelsonError(error, 'cannot verify the Cloudflare API token');
        throw new KeelsonError(cause.message, { code: 'UNAVAILABLE', class: cause.class, cause: error });
      }
      if (status !== 'active') {
        throw new KeelsonError(`cannot use the Cloudflare API token: it is ${status}`, {
          code: 'UNAVAILABLE',
          class: 'terminal',
        });
      }
    },
  };
}

/** The module keelson's registry lists: schemas always, the provider when a token and account are set. */
export const cloudflareModule: ProviderModule = {
  name: 'cloudflare',
  schemas: schemasOf(cloudflareKinds),
  builders: { [workerScriptSchema.kind]: workerBundleBuilder },
  create(options: ProviderOptions) {
    const config = readCloudflareConfig(options.env);
    if ('unavailable' in config) return config;
    return createCloudflareProvider(config, { log: options.log });
  },
  // Imported only when a simulator is started: validate and plan never load simulator code (or miniflare).
  simulator: {
    start: async (options) => (await import('./simulator/entry.ts')).cloudflareSimulatorEntry.start(options),
  },
};
