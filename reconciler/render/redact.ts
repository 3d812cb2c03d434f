import {
  type FieldChange,
  isPlainObject,
  isSecretDigest,
  SecretValue,
  UnknownValue,
} from '../../providers/sdk/index.ts';

export const SENSITIVE = '(sensitive)';
export const KNOWN_AFTER_APPLY = '(known after apply)';

/** A value as shown to people and machines: secrets become `(sensitive)`, unknowns `(known after apply)`. */
export function displayValue(value: unknown): unknown {
  if (value instanceof SecretValue || isSecretDigest(value)) return SENSITIVE;
  if (value instanceof UnknownValue) return KNOWN_AFTER_APPLY;
  if (Array.isArray(value)) return value.map(displayValue);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, displayValue(v)]));
  return value;
}

/** A field change with its values made safe to print. */
export function displayField(f: FieldChange): { before: unknown; after: unknown } {
  if (f.sensitive) {
    return {
      before: f.before === undefined ? undefined : SENSITIVE,
      after: f.after === undefined ? undefined : SENSITIVE,
    };
  }
  return { before: displayValue(f.before), after: displayValue(f.after) };
}
