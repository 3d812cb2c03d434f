import { KeelsonError, type OperationAdapter, type OperationStatus } from '../../sdk/index.ts';
import type { GapicClient } from './clients.ts';
import type { GcpApi } from './gcp-api.ts';

/** A Google long-running operation, with the client whose operations service reads it. */
export interface GcpOperation {
  readonly name: string;
  readonly done: boolean;
  readonly error?: { readonly message?: string; readonly code?: number } | null;
  readonly client: GapicClient;
}

/**
 * How keelson reads Google's long-running operations for the SDK's `OperationTracker`: one
 * `GET …/operations/NAME` per running operation, through the client that started it (Functions,
 * Run, Firestore admin and Service Usage each have their own operations path).
 */
export function googleOperations(api: GcpApi): OperationAdapter<GcpOperation> {
  return {
    id: (op) => op.name,
    status: (op): OperationStatus => (!op.done ? 'running' : op.error?.message ? 'failed' : 'succeeded'),
    describe: (op) => `operation ${op.name}`,
    reason: (op) => op.error?.message ?? 'unknown error',
    async read(ops, signal) {
      const out: GcpOperation[] = [];
      for (const op of ops) {
        const [fresh] = (await api.call(
          `read operation ${op.name}`,
          undefined,
          (gax) => op.client.operationsClient.getOperation({ name: op.name }, gax),
          signal ? { signal } : {},
        )) as [{ name?: string; done?: boolean; error?: { message?: string; code?: number } | null }];
        out.push({ name: op.name, done: fresh?.done === true, error: fresh?.error ?? null, client: op.client });
      }
      return out;
    },
    failure: (op, what, resource) =>
      new KeelsonError(`cannot ${what}: ${op.error?.message ?? 'the operation failed'} (operation ${op.name})`, {
        code: 'API_ERROR',
        class: 'terminal',
        resource,
      }),
  };
}
