import {
  defineKind,
  type HandlerContext,
  KeelsonError,
  type ObservedResource,
  type ObserveQuery,
  type ResourceHandler,
  resourceKey,
  specOf,
} from '../../sdk/index.ts';
import type { HcloudImage } from '../client/api-types.ts';
import type { HetznerRuntime } from './runtime.ts';
import { signalOf } from './runtime.ts';

export const imageSchema = defineKind({
  kind: 'hetzner.Image',
  description: 'Looks up an image (the newest match) by label selector, e.g. the backup server snapshot. Read-only.',
  readOnly: true,
  spec: {
    labelSelector: { type: 'string', required: true, description: 'Hetzner label selector, e.g. `role=backup`.' },
    type: {
      type: 'string',
      enum: ['snapshot', 'backup', 'system', 'app'],
      default: 'snapshot',
      description: 'Default snapshot.',
    },
  },
  outputs: { id: { type: 'integer' }, description: { type: 'string' } },
});

/** `hetzner.Image`: a lookup, one list call per lookup; never creates or deletes anything. */
export class ImageHandler implements ResourceHandler {
  readonly #rt: HetznerRuntime;
  constructor(rt: HetznerRuntime) {
    this.#rt = rt;
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const out: ObservedResource[] = [];
    for (const d of query.desired) {
      const want = specOf(imageSchema, d);
      const images = await this.#rt.client.list<HcloudImage>('/images', 'images', {
        query: { label_selector: want.labelSelector, type: want.type },
        what: `look up ${d.key}`,
        resource: d.key,
        ...signalOf(ctx),
      });
      const newest = [...images].sort((a, b) => b.created.localeCompare(a.created) || b.id - a.id)[0];
      if (!newest) continue;
      out.push({
        key: resourceKey(imageSchema.kind, d.name),
        kind: imageSchema.kind,
        name: d.name,
        id: String(newest.id),
        owned: false,
        spec: { labelSelector: want.labelSelector, type: newest.type },
        outputs: { id: newest.id, description: newest.description },
        ready: true,
      });
    }
    return out;
  }

  async create(): Promise<ObservedResource> {
    throw readOnly('create');
  }
  async update(): Promise<ObservedResource> {
    throw readOnly('update');
  }
  async delete(): Promise<void> {
    throw readOnly('delete');
  }
}

function readOnly(verb: string): KeelsonError {
  return new KeelsonError(`cannot ${verb} a hetzner.Image: it is a read-only lookup`, {
    code: 'INVALID_SPEC',
    class: 'terminal',
  });
}
