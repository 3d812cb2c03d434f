import { type OperationAdapter, OperationTracker, type OperationTrackerOptions } from '../../sdk/index.ts';
import type { HcloudAction } from './api-types.ts';
import { actionError, type HcloudClient } from './hcloud-client.ts';

/** Hetzner's actions as the SDK's operations: read in pages of 50 with `GET /actions?id=…`. */
export function hcloudActions(client: HcloudClient): OperationAdapter<HcloudAction> {
  return {
    id: (a) => String(a.id),
    status: (a) => (a.status === 'running' ? 'running' : a.status === 'success' ? 'succeeded' : 'failed'),
    describe: (a) => `action ${a.command}`,
    reason: (a) => a.error?.message ?? 'unknown error',
    read: (actions, signal) =>
      client.actions(
        actions.map((a) => a.id),
        signal,
      ),
    failure: (a, what, resource) => actionError(a, what, resource),
  };
}

/** The actions keelson started, per resource key (see `OperationTracker`). */
export type ActionTracker = OperationTracker<HcloudAction>;

export function actionTracker(client: HcloudClient, options: OperationTrackerOptions = {}): ActionTracker {
  return new OperationTracker(hcloudActions(client), options);
}
