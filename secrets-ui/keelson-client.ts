import { createHmac } from 'node:crypto';
import { signRead } from '../reconciler/http/signed-read.ts';

/** The parts of keelson's `/status` the UI reads. */
export interface KeelsonStatus {
  readonly passes: number;
  readonly mode: string;
  readonly lastErrors: readonly { readonly resource?: string; readonly message: string; readonly code: string }[];
  /** Version of each secret in the last completed pass (`/status/secrets`; empty for env/dir sources). */
  readonly versions: Readonly<Record<string, string>>;
  /** Versions keelson is pinned to (`KEELSON_SECRET_MANAGER_VERSIONS`): a new one does not reach consumers. */
  readonly pinned: Readonly<Record<string, string>>;
  readonly source: string;
}

/** keelson seen from the UI: its read-only status and its signed push webhook. */
export class KeelsonClient {
  readonly #url: string;
  readonly #webhookSecret: string;

  constructor(url: string, webhookSecret: string) {
    this.#url = url.replace(/\/$/, '');
    this.#webhookSecret = webhookSecret;
  }

  async status(): Promise<KeelsonStatus> {
    const get = async (path: string) => {
      const res = await fetch(`${this.#url}${path}`, {
        headers: signRead(this.#webhookSecret, path),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`keelson ${path} answered ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const [status, secrets] = await Promise.all([get('/status'), get('/status/secrets')]);
    return {
      passes: Number(status.passes ?? 0),
      mode: String(status.mode ?? ''),
      lastErrors: (status.lastErrors ?? []) as KeelsonStatus['lastErrors'],
      versions: ((secrets as Record<string, unknown>).versions ?? {}) as Record<string, string>,
      pinned: ((secrets as Record<string, unknown>).pinned ?? {}) as Record<string, string>,
      source: String((secrets as Record<string, unknown>).source ?? 'unknown'),
    };
  }

  /** Asks for a pass at once through `POST /hooks/git`, signed like GitHub (`X-Hub-Signature-256`). */
  async requestPass(): Promise<{ ok: true } | { ok: false; error: string }> {
    const body = JSON.stringify({ ref: 'refs/heads/secrets-ui', sender: { login: 'keelson-secrets-ui' } });
    const signature = `sha256=${createHmac('sha256', this.#webhookSecret).update(body).digest('hex')}`;
    try {
      const res = await fetch(`${this.#url}/hooks/git`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 202) return { ok: true };
      return { ok: false, error: `keelson answered ${res.status}: ${(await res.text()).slice(0, 200)}` };
    } catch (error) {
      return { ok: false, error: `keelson could not be reached: ${(error as Error).message}` };
    }
  }
}
