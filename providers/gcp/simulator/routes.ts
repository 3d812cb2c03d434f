import type { IncomingMessage } from 'node:http';
import { pubsubRoutes } from './api-pubsub.ts';
import type { SimContext } from './context.ts';
import type { OidcSigner } from './oidc.ts';
import type { Operations } from './operations.ts';
import type { PubSubBroker, PushSender } from './pubsub-broker.ts';
import { ok, type Route, type SimReply } from './router.ts';

/** The parts of the simulator that run things: functions, event delivery, Scheduler firing. */
export interface Runtime {
  readonly send: PushSender;
  handleOther(method: string, path: string, url: URL, req: IncomingMessage, raw: Buffer): Promise<SimReply | undefined>;
  start(): Promise<void>;
  stop(): Promise<void>;
  idle(): Promise<void>;
  busy(): number;
  fireDueJobs(): Promise<void>;
  logs(name: string): string[];
}

export interface Parts {
  readonly operations: Operations;
  readonly broker: PubSubBroker;
  readonly signer: OidcSigner;
  readonly runFunctions: boolean;
  readonly firestoreDefaultDatabase: boolean;
  readonly requireFirestoreIndexes: boolean;
}

/** The API name of a path (for the request log, quotas and faults). */
export function api(path: string): string {
  if (/\/(topics|subscriptions)(\/|$)/.test(path)) return 'pubsub';
  if (/\/jobs(\/|$)/.test(path) && path.startsWith('/v1/')) return 'scheduler';
  if (/\/functions(\/|:|$)/.test(path)) return 'functions';
  if (/\/services(\/|$)/.test(path) && path.startsWith('/v2/')) return 'run';
  if (/\/secrets(\/|$)/.test(path)) return 'secretmanager';
  if (/\/databases(\/|$)/.test(path)) return 'firestore';
  if (/\/services(\/|$)/.test(path) || path.startsWith('/v1/operations')) return 'serviceusage';
  if (path.startsWith('/v3/')) return 'cloudresourcemanager';
  if (/\/serviceAccounts(\/|$)/.test(path)) return 'iam';
  return 'other';
}

export function buildRoutes(ctx: SimContext, parts: Parts): { routes: Route[]; runtime: Runtime } {
  const routes: Route[] = [...parts.operations.routes(), ...pubsubRoutes(ctx, parts.broker)];
  const runtime: Runtime = {
    send: async (r) => {
      try {
        const res = await fetch(r.url, {
          method: 'POST',
          headers: r.headers,
          body: r.body,
          signal: AbortSignal.timeout(r.timeoutMs),
        });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    },
    handleOther: async (method, path) => {
      if (method === 'GET' && path === '/oauth2/v3/certs') return ok(parts.signer.jwks());
      return undefined;
    },
    start: async () => {},
    stop: async () => {},
    idle: async () => {},
    busy: () => 0,
    fireDueJobs: async () => {},
    logs: () => [],
  };
  return { routes, runtime };
}
