import { defineKind } from '../../sdk/index.ts';
import type { SwarmClient } from '../client/client.ts';
import {
  revealed,
  SwarmVersionedObjectHandler,
  type VersionedFlavour,
  type VersionedObjectOptions,
} from './versioned-object.ts';

export const SECRET_KIND = 'swarm.Secret';

export const secretSchema = defineKind({
  kind: SECRET_KIND,
  description:
    'A Swarm secret. Its value comes from the secret source ({ secretRef: NAME }), never from Git. Each value is a version named <name>-<hash12>; services refer to the current one with { ref: "swarm.Secret/<name>", output: "name" }.',
  spec: {
    data: { type: 'secret', required: true, description: 'The value: { secretRef: NAME }.' },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'Labels. Default none.' },
  },
  outputs: {
    name: { type: 'string', computed: true, description: 'Live name of the version with the desired value.' },
    id: { type: 'string', computed: true, description: "Docker's id of the current version." },
    current: { type: 'string', computed: true, description: 'Live name of the current version.' },
    versions: { type: 'array', items: { type: 'string' }, computed: true, description: 'Live names, newest first.' },
  },
});

const secretFlavour: VersionedFlavour = {
  kind: SECRET_KIND,
  noun: 'secret',
  api: (client) => client.objects('secrets'),
  content: (spec) => revealed(spec.data),
  // Swarm never returns secret data: the hash label stands for it.
  observedData: (_object, digest) => ({ $sensitiveDigest: digest }),
  usedIds: (containerSpec) =>
    ((containerSpec?.Secrets as { SecretID: string }[] | undefined) ?? []).map((s) => s.SecretID),
};

/** `swarm.Secret`: see `SwarmVersionedObjectHandler`. */
export class SecretHandler extends SwarmVersionedObjectHandler {
  constructor(client: SwarmClient, options: VersionedObjectOptions = {}) {
    super(client, secretFlavour, options);
  }
}
