import type { Field } from '../../sdk/index.ts';

/** GCP labels: lowercase keys and values (letters, digits, `_`, `-`), at most 63 characters. */
export const labelsField: Field = {
  type: 'map',
  values: { type: 'string', pattern: '^[a-z0-9_-]{0,63}$' },
  default: {},
  description:
    "GCP labels (keys and values: lowercase letters, digits, `_` and `-`, at most 63 characters). `keelson-*` keys are keelson's own.",
};

/** The region of a regional resource, default `GCP_REGION`. */
export const regionField: Field = {
  type: 'string',
  replaceOnChange: true,
  pattern: '^[a-z]+-[a-z]+\\d+$',
  description: "Region, e.g. `europe-west3`. Default: the provider's `GCP_REGION`.",
};
