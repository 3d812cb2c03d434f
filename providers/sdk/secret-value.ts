import { createHash } from 'node:crypto';

const REDACTED = '(sensitive)';

/**
 * A resolved secret. It never prints its value: `toString`, `toJSON` and `util.inspect` all give
 * `(sensitive)`, so a secret cannot reach a log, a plan, a metric or an error by accident.
 * Providers call `reveal()` only at the moment they send it to the vendor's API.
 */
export class SecretValue {
  readonly #value: string;
  /** sha256 of the value, hex; what plans compare and what providers store as a label. */
  readonly digest: string;
  /** The secret reference it came from (a name, not a value). */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
    this.digest = createHash('sha256').update(value).digest('hex');
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/**
 * What an observe returns for a write-only secret field: only the digest of what was last
 * written (kept in a label or the state store). Equal to a `SecretValue` with the same digest.
 */
export interface SecretDigest {
  readonly $sensitiveDigest: string;
}

export function isSecretDigest(value: unknown): value is SecretDigest {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { $sensitiveDigest?: unknown }).$sensitiveDigest === 'string'
  );
}

export { REDACTED };
