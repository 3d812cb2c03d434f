import type { Alert } from './alert.ts';

/** Somewhere alerts go. `send` throws on failure; the dispatcher retries. */
export interface AlertChannel {
  /** `rocketchat`, `webhook`: the `channel` label of `keelson_alerts_sent_total`. */
  readonly name: string;
  send(alert: Alert, signal: AbortSignal): Promise<void>;
}

/** POSTs a body and fails on anything but 2xx, with a message that never contains the URL (it may hold a token). */
export async function postJson(
  channel: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'keelson', ...headers },
    body,
    signal,
  });
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`cannot deliver alert to ${channel}: the endpoint answered ${response.status}`);
}
