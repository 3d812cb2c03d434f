export type { CloudflareConfig } from './config.ts';
export { readCloudflareConfig } from './config.ts';
export { dnsRecordSchema } from './dns-record.ts';
export { type CloudflareProvider, cloudflareModule, createCloudflareProvider } from './provider.ts';
export { r2BucketSchema } from './r2-bucket.ts';
export { RateBudget } from './rate-budget.ts';
export { workerCronSchema } from './worker-cron.ts';
export { workerRouteSchema } from './worker-route.ts';
export { workerScriptSchema } from './worker-script.ts';
