export { hetznerSimulatorEntry, type SimulatorStartOptions, standaloneHetznerToken } from './entry.ts';
export type { FaultMatch, FaultRule } from './faults.ts';
export { matchesSelector, parseLabelSelector, type SelectorTerm } from './label-selector.ts';
export type { RateLimitOptions } from './rate-limit.ts';
export {
  type HetznerSimulator,
  type HetznerSimulatorOptions,
  type LoggedRequest,
  startHetznerSimulator,
} from './server.ts';
export { SimulatorState } from './state.ts';
