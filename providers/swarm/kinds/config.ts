import { defineKind } from '../../sdk/index.ts';
import type { SwarmClient } from '../client/client.ts';
import {
  revealed,
  SwarmVersionedObjectHandler,
  type VersionedFlavour,
  type VersionedObjectOptions,
} from './versioned-object.ts';

export const CONFIG_KIND = 'swarm.Config';

export const configSchema = defineKind({
  kind: CONFIG_KIND,
  description:
    'A Swarm config (a file for services). Each content is a version named <name>-<hash12>; services refer to the current one with { ref: "swarm.Config/<name>", output: "name" }. In a stack, a chart file becomes the content.',
  spec: {
    data: { type: 'string', required: true, description: 'The content (UTF-8 text).' },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'Labels. Default none.' },
  },
  outputs: {
    name: { type: 'string', computed: true, description: 'Live name of the version with the desired content.' },
    id: { type: 'string', computed: true, description: "Docker's id of the current version." },
    current: { type: 'string', computed: true, description: 'Live name of the current version.' },
    versions: { type: 'array', items: { type: 'string' }, computed: true, description: 'Live names, newest first.' },
  },
});

const configFlavour: VersionedFlavour = {
  kind: CONFIG_KIND,
  noun: 'config',
  api: (client) => client.objects('configs'),
  content: (spec) => revealed(spec.data),
  observedData: (object) => Buffer.from(object.Spec.Data ?? '', 'base64').toString('utf8'),
  usedIds: (containerSpec) =>
    ((containerSpec?.Configs as { ConfigID: string }[] | undefined) ?? []).map((c) => c.ConfigID),
};

/** `swarm.Config`: see `SwarmVersionedObjectHandler`. */
export class ConfigHandler extends SwarmVersionedObjectHandler {
  constructor(client: SwarmClient, options: VersionedObjectOptions = {}) {
    super(client, configFlavour, options);
  }
}
