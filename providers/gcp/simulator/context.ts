import type { SimClock } from './clock.ts';
import type { GcpState } from './state.ts';

/** Where the simulator logs; it calls `info(fields, message)` / `warn(fields, message)` (pino's shape). */
export interface SimLog {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

/** What every API module of the simulator shares. */
export interface SimContext {
  readonly state: GcpState;
  readonly clock: SimClock;
  readonly projectId: string;
  /** The project number GCP shows in some names. */
  readonly projectNumber: string;
  readonly region: string;
  readonly log: SimLog;
  /** `http://127.0.0.1:PORT` (set once listening). */
  url: string;
  /** The bearer token clients must send. */
  readonly accessToken: string;
  /** An ISO timestamp of the simulator's clock. */
  timestamp(): string;
}
