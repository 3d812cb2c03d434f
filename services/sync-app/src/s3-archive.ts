import { createHash, createHmac } from 'node:crypto';

/**
 * Puts objects into an S3-compatible store (SeaweedFS's S3 gateway) with AWS Signature Version 4,
 * by hand: two calls (HEAD to skip what is archived, PUT) do not justify an SDK.
 */
export interface S3Settings {
  /** `http://seaweedfs_filer:8333` */
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Default `us-east-1` (SeaweedFS ignores it, the signature needs one). */
  readonly region?: string;
  readonly timeoutMs: number;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

function sign(
  s: S3Settings,
  method: string,
  key: string,
  body: Uint8Array,
  extra: Record<string, string>,
): { url: string; headers: Record<string, string> } {
  const url = new URL(
    `${s.endpoint.replace(/\/$/, '')}/${s.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
  );
  const region = s.region ?? 'us-east-1';
  const now = new Date();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body);
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
    ...extra,
  };
  const names = Object.keys(headers)
    .map((h) => h.toLowerCase())
    .sort();
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(headers[n] ?? headers[Object.keys(headers).find((k) => k.toLowerCase() === n) ?? '']).trim()}\n`,
    )
    .join('');
  const signedHeaders = names.join(';');
  const canonical = [method, url.pathname, '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${s.secretAccessKey}`, day), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${s.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  delete headers.host;
  return { url: url.toString(), headers };
}

export class S3Archive {
  readonly #s: S3Settings;

  constructor(settings: S3Settings) {
    this.#s = settings;
  }

  async exists(key: string): Promise<boolean> {
    const { url, headers } = sign(this.#s, 'HEAD', key, new Uint8Array(), {});
    const r = await fetch(url, { method: 'HEAD', headers, signal: AbortSignal.timeout(this.#s.timeoutMs) });
    if (r.status === 404) return false;
    if (!r.ok) throw new Error(`S3 answered ${r.status} to HEAD ${key}`);
    return true;
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    const { url, headers } = sign(this.#s, 'PUT', key, body, { 'content-type': contentType });
    const r = await fetch(url, { method: 'PUT', headers, body, signal: AbortSignal.timeout(this.#s.timeoutMs) });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`S3 answered ${r.status} to PUT ${key}`);
  }
}
