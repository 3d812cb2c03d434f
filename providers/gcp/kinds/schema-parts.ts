import { defineFields } from '../../sdk/index.ts';

/** Fields several Google Cloud kinds share, kept literal so that `SpecOf` can read them. */
const parts = defineFields({
  labels: {
    type: 'map',
    values: { type: 'string', pattern: '^[a-z0-9_-]{0,63}$' },
    default: {},
    description:
      "GCP labels (keys and values: lowercase letters, digits, `_` and `-`, at most 63 characters). `keelson-*` keys are keelson's own.",
  },
  region: {
    type: 'string',
    replaceOnChange: true,
    pattern: '^[a-z]+-[a-z]+\\d+$',
    description: "Region, e.g. `europe-west3`. Default: the provider's `GCP_REGION`.",
  },
});

/** GCP labels: lowercase keys and values (letters, digits, `_`, `-`), at most 63 characters. */
export const labelsField = parts.labels;

/** The region of a regional resource, default `GCP_REGION`. */
export const regionField = parts.region;
