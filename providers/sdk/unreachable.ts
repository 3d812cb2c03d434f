/**
 * Connection-level failures: the vendor's API could not be reached at all (nothing listens, the
 * name does not resolve, no route, the TLS handshake failed, connecting timed out). Unlike a 4xx or
 * 5xx answer (the vendor speaking) or a connection dropped mid-answer, retrying the call at once
 * cannot help: the engine marks the provider unreachable for the rest of the pass (its resources
 * skipped, nothing of it deleted) and the next pass tries again.
 */
const CONNECT_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name cannot be resolved now (DNS)',
  EAI_FAIL: 'the host name cannot be resolved (DNS)',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  EHOSTDOWN: 'the host is down',
  ETIMEDOUT: 'connecting timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
  EPROTO: 'the TLS handshake failed',
  CERT_HAS_EXPIRED: 'the TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the TLS certificate chain is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the TLS certificate cannot be verified',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the TLS certificate cannot be verified',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate does not match the host name',
};

/**
 * Why the API could not be reached at all, e.g. "connection refused (ECONNREFUSED)", when `error`
 * (or one of its causes, or an AggregateError's errors) is a connection-level failure; undefined
 * for anything else (an HTTP answer, a dropped connection, a timeout waiting for an answer).
 */
export function connectFailure(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      const why = CONNECT_FAILURES[code] ?? (code.startsWith('ERR_SSL_') ? 'the TLS handshake failed' : undefined);
      if (why) return `${why} (${code})`;
    }
    if ('cause' in e) queue.push((e as { cause?: unknown }).cause);
    if (e instanceof AggregateError) queue.push(...e.errors);
  }
  return undefined;
}

/** An endpoint for messages: scheme, host, port and path, never user info or a query (which may hold a secret). */
export function endpointForMessage(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(an endpoint that is not a URL)';
  }
}
