import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretValue } from '../../providers/sdk/index.ts';

/** Which forge signed a push webhook. */
export type WebhookSender = 'github' | 'gitea' | 'gitlab';

export type WebhookVerdict =
  | { readonly ok: true; readonly sender: WebhookSender }
  | { readonly ok: false; readonly reason: string };

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Verifies a push webhook in constant time:
 * - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`;
 * - Gitea / Forgejo: `X-Gitea-Signature` / `X-Forgejo-Signature: <hex HMAC-SHA256(body)>`;
 * - GitLab: `X-Gitlab-Token: <the secret>` (GitLab sends the token itself, not a MAC).
 * Without a configured secret everything is refused: an open webhook would let anyone make keelson busy.
 */
export function verifyWebhook(headers: Headers, body: Buffer, secret: SecretValue | undefined): WebhookVerdict {
  if (!secret) return { ok: false, reason: 'no webhook secret is configured (webhook.secret)' };
  const header = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const mac = () => createHmac('sha256', secret.reveal()).update(body).digest();
  const github = header('x-hub-signature-256');
  if (github !== undefined) {
    const hex = github.startsWith('sha256=') ? github.slice(7) : '';
    return equalHex(hex, mac())
      ? { ok: true, sender: 'github' }
      : { ok: false, reason: 'X-Hub-Signature-256 does not match' };
  }
  const gitea = header('x-gitea-signature') ?? header('x-forgejo-signature');
  if (gitea !== undefined) {
    return equalHex(gitea, mac())
      ? { ok: true, sender: 'gitea' }
      : { ok: false, reason: 'X-Gitea-Signature does not match' };
  }
  const gitlab = header('x-gitlab-token');
  if (gitlab !== undefined) {
    // Compare MACs of both so that the comparison time depends on neither length nor content.
    const key = Buffer.from('keelson-gitlab-token');
    const a = createHmac('sha256', key).update(gitlab).digest();
    const b = createHmac('sha256', key).update(secret.reveal()).digest();
    return timingSafeEqual(a, b)
      ? { ok: true, sender: 'gitlab' }
      : { ok: false, reason: 'X-Gitlab-Token does not match' };
  }
  return { ok: false, reason: 'the request is not signed (X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token)' };
}

function equalHex(hex: string, expected: Buffer): boolean {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
}
