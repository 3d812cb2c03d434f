import type { SimulatorEntry } from '../../sdk/module.ts';
import { startGcpSimulator } from './server.ts';

export { ApiError } from './api-error.ts';
export { type ClockTimer, FakeClock, realClock, type SimClock } from './clock.ts';
export type { SimLog } from './context.ts';
export { documentEventDataType, encodeDocumentEventData, matchPathPattern } from './eventarc.ts';
export type { FaultMatch, FaultRule, Faults } from './faults.ts';
export {
  type Exchange,
  type GcpSimulator,
  type GcpSimulatorOptions,
  type LoggedRequest,
  startGcpSimulator,
} from './server.ts';

/** The shape `keelson simulate gcp` starts simulators through. */
export const gcpSimulatorEntry: SimulatorEntry = {
  async start(opts = {}) {
    const sim = await startGcpSimulator({ port: opts.port, statePath: opts.statePath, log: opts.log });
    return { env: { ...sim.env }, close: () => sim.close() };
  },
};
