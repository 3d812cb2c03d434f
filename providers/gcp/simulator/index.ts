export { ApiError } from './api-error.ts';
export { type ClockTimer, FakeClock, realClock, type SimClock } from './clock.ts';
export type { FaultMatch, FaultRule, Faults } from './faults.ts';
export {
  type Exchange,
  type GcpSimulator,
  type GcpSimulatorOptions,
  type LoggedRequest,
  startGcpSimulator,
} from './server.ts';
