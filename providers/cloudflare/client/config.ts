import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Where and as whom the Cloudflare provider works. Built from the environment by `readCloudflareConfig`. */
export interface CloudflareConfig {
  /** API token (`CLOUDFLARE_API_TOKEN` or the file named by `CLOUDFLARE_API_TOKEN_FILE`). Never logged. */
  readonly token: string;
  /** Account id (`CLOUDFLARE_ACCOUNT_ID`): R2 buckets and Workers live there. */
  readonly accountId: string;
  /** API base (`CLOUDFLARE_API_BASE_URL`), default the vendor's `https://api.cloudflare.com/client/v4`. */
  readonly baseURL: string;
  /**
   * Root that Worker `source` folders are resolved against: `KEELSON_REPO_ROOT`, else the daemon's
   * Git checkout (`KEELSON_CHECKOUT_DIR`, so the Worker code comes from the revision being applied),
   * else the working directory.
   */
  readonly root: string;
}

export const DEFAULT_BASE_URL = 'https://api.cloudflare.com/client/v4';

/** Reads the configuration, or says in one sentence why the provider cannot run here. */
export function readCloudflareConfig(
  env: Readonly<Record<string, string | undefined>>,
): CloudflareConfig | { readonly unavailable: string } {
  let token = env.CLOUDFLARE_API_TOKEN;
  const tokenFile = env.CLOUDFLARE_API_TOKEN_FILE;
  if (!token && tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      return { unavailable: `CLOUDFLARE_API_TOKEN_FILE ${tokenFile} cannot be read: ${(error as Error).message}` };
    }
  }
  if (!token) return { unavailable: 'CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE) is not set' };
  const accountId = env.CLOUDFLARE_ACCOUNT_ID;
  if (!accountId) return { unavailable: 'CLOUDFLARE_ACCOUNT_ID is not set' };
  return {
    token,
    accountId,
    baseURL: env.CLOUDFLARE_API_BASE_URL || DEFAULT_BASE_URL,
    root: resolve(env.KEELSON_REPO_ROOT || env.KEELSON_CHECKOUT_DIR || process.cwd()),
  };
}
