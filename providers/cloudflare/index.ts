export type { CloudflareConfig } from './client/config.ts';
export { readCloudflareConfig } from './client/config.ts';
export { RateBudget } from './client/rate-budget.ts';
export { dnsRecordSchema } from './kinds/dns-record.ts';
export { r2BucketSchema } from './kinds/r2-bucket.ts';
export { workerCronSchema } from './kinds/worker-cron.ts';
export { workerRouteSchema } from './kinds/worker-route.ts';
export { workerScriptSchema } from './kinds/worker-script.ts';

import {
  type HandlerContext,
  KeelsonError,
  type Logger,
  type Provider,
  type ProviderModule,
  type ProviderOptions,
} from '../sdk/index.ts';
import { toKeelsonError } from './client/api-error.ts';
import { type CloudflareClient, createCloudflareClient } from './client/client.ts';
import { type CloudflareConfig, readCloudflareConfig } from './client/config.ts';
import type { RateBudget } from './client/rate-budget.ts';
import { ZoneDirectory } from './client/zone-directory.ts';
import { DnsRecordHandler, dnsRecordSchema } from './kinds/dns-record.ts';
import { R2BucketHandler, r2BucketSchema } from './kinds/r2-bucket.ts';
import { WorkerCronHandler, workerCronSchema } from './kinds/worker-cron.ts';
import { WorkerRouteHandler, workerRouteSchema } from './kinds/worker-route.ts';
import { WorkerScriptHandler, workerScriptSchema } from './kinds/worker-script.ts';

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
    kinds: [
      { schema: dnsRecordSchema, handler: new DnsRecordHandler(client, zones) },
      { schema: r2BucketSchema, handler: new R2BucketHandler(client) },
      { schema: workerScriptSchema, handler: new WorkerScriptHandler(client) },
      { schema: workerRouteSchema, handler: new WorkerRouteHandler(client, zones) },
      { schema: workerCronSchema, handler: new WorkerCronHandler(client) },
    ],
    rateBudget: () => ({ remaining: client.budget.remaining(), limit: client.budget.limit }),
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
  schemas: [dnsRecordSchema, r2BucketSchema, workerScriptSchema, workerRouteSchema, workerCronSchema],
  create(options: ProviderOptions) {
    const config = readCloudflareConfig(options.env);
    if ('unavailable' in config) return config;
    return createCloudflareProvider(config, { log: options.log });
  },
};
