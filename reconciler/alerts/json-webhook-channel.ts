import { createHmac } from 'node:crypto';
import type { SecretValue } from '../../providers/sdk/index.ts';
import type { Alert } from './alert.ts';
import { type AlertChannel, postJson } from './channel.ts';

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw body>`, GitHub-style. */
export const SIGNATURE_HEADER = 'x-keelson-signature-256';

export function signBody(secret: SecretValue, body: string): string {
  return `sha256=${createHmac('sha256', secret.reveal()).update(body).digest('hex')}`;
}

/** Header carrying the alert's stable id, also in the body as `id`: the same on every retry, for deduplication. */
export const DELIVERY_HEADER = 'x-keelson-delivery';

/**
 * A generic JSON webhook: the alert as JSON (`type` is `drift.opened|drift.reminder|drift.resolved|
 * drift.changed|drift.healed`), HMAC-signed, with a stable `id`.
 */
export class JsonWebhookChannel implements AlertChannel {
  readonly name = 'webhook';
  readonly #url: string;
  readonly #secret: SecretValue;

  constructor(url: string, secret: SecretValue) {
    this.#url = url;
    this.#secret = secret;
  }

  async send(alert: Alert, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({ ...alert, type: `drift.${alert.type}` });
    await postJson(
      this.name,
      this.#url,
      body,
      {
        [SIGNATURE_HEADER]: signBody(this.#secret, body),
        [DELIVERY_HEADER]: alert.id,
      },
      signal,
    );
  }
}
