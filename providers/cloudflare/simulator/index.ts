export { cloudflareSimulatorEntry, standaloneCloudflareToken } from './entry.ts';
export type { CloudflareSimulatorOptions, Fault, HeldRequest, LostResponse, RequestLogEntry } from './simulator.ts';
export { CloudflareSimulator, startCloudflareSimulator } from './simulator.ts';
export { routeMatches } from './worker-runtime.ts';
