import { createHmac } from 'node:crypto';
import type { Secret } from './secret.ts';

/** A run's outcome as monitoring sees it. */
export interface BackupEvent {
  readonly status: 'succeeded' | 'failed';
  readonly runId: string;
  readonly backupType: string;
  readonly stage?: string;
  readonly error?: string;
  readonly snapshotId?: string;
  readonly files?: number;
  readonly bytesAdded?: number;
  readonly durationSeconds?: number;
  readonly check?: string;
  readonly server?: string;
  readonly at: string;
}

/** keelson's alert signature header (reconciler/alerts/json-webhook-channel.ts): `sha256=<hex HMAC of the raw body>`. */
export const SIGNATURE_HEADER = 'x-keelson-signature-256';

export function signBody(secret: Secret, body: string): string {
  return `sha256=${createHmac('sha256', secret.reveal()).update(body).digest('hex')}`;
}

function bytes(n: number | undefined): string {
  if (n === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** The RocketChat line. */
export function rocketChatText(e: BackupEvent): string {
  if (e.status === 'succeeded') {
    return [
      `:white_check_mark: Backup \`${e.runId}\` (${e.backupType}) succeeded: snapshot ${e.snapshotId ?? '?'},`,
      `${e.files ?? '?'} files, ${bytes(e.bytesAdded)} added, ${e.durationSeconds ?? '?'} s, check ${e.check ?? 'skipped'}`,
    ].join(' ');
  }
  return `:x: Backup \`${e.runId}\` (${e.backupType}) failed at ${e.stage ?? '?'}: ${e.error ?? 'no reason given'}`;
}

/** Sends a run's outcome to every configured channel; a channel that fails is logged, never fatal. */
export class Notifier {
  readonly #rocketChat?: Secret;
  readonly #webhook?: { url: string; secret: Secret };
  readonly #log: (entry: Record<string, unknown>) => void;

  constructor(
    channels: { rocketChatUrl?: Secret; webhookUrl?: string; webhookSecret?: Secret },
    log: (entry: Record<string, unknown>) => void,
  ) {
    if (channels.rocketChatUrl) this.#rocketChat = channels.rocketChatUrl;
    if (channels.webhookUrl && channels.webhookSecret) {
      this.#webhook = { url: channels.webhookUrl, secret: channels.webhookSecret };
    }
    this.#log = log;
  }

  async send(e: BackupEvent): Promise<void> {
    const sends: Promise<void>[] = [];
    if (this.#rocketChat) {
      sends.push(this.#post('rocketchat', this.#rocketChat.reveal(), JSON.stringify({ text: rocketChatText(e) }), {}));
    }
    if (this.#webhook) {
      // keelson's JSON webhook format: the event as JSON, `type` as `<topic>.<event>`, HMAC-signed.
      const body = JSON.stringify({ type: `backup.${e.status}`, key: `backup/${e.runId}`, ...e });
      sends.push(
        this.#post('webhook', this.#webhook.url, body, { [SIGNATURE_HEADER]: signBody(this.#webhook.secret, body) }),
      );
    }
    await Promise.all(sends);
  }

  async #post(channel: string, url: string, body: string, headers: Record<string, string>): Promise<void> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'keelson-backup', ...headers },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`the endpoint answered ${response.status}`);
    } catch (e) {
      // Never the URL: a RocketChat hook URL holds its token.
      this.#log({
        severity: 'ERROR',
        message: `cannot deliver the backup alert to ${channel}: ${(e as Error).message}`,
      });
    }
  }
}
