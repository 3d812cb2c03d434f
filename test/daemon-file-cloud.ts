import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type {
  KindSchema,
  ObservedResource,
  Provider,
  ProviderModule,
  ResourceHandler,
} from '../providers/sdk/index.ts';

/**
 * A tiny fake cloud kept in a JSON file, so that its state survives a kill -9 of the daemon that
 * drives it (the in-memory provider cannot). Kind `file.Service`: `{ image, replicas }`.
 * Duplicates are kept, not merged, so a test can see a resource created twice.
 */
export interface FileCloudItem {
  id: string;
  name: string;
  owner: string;
  image: string;
  replicas: number;
}

export const fileServiceSchema: KindSchema = {
  kind: 'file.Service',
  description: 'A service in the file cloud (tests only)',
  spec: {
    image: { type: 'string', required: true },
    replicas: { type: 'integer', minimum: 0, default: 1 },
  },
};

export function readCloud(path: string): FileCloudItem[] {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as FileCloudItem[]) : [];
}

export function writeCloud(path: string, items: FileCloudItem[]): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(items));
  renameSync(`${path}.tmp`, path);
}

/** Changes a service behind keelson's back (as a person with the vendor's console would). */
export function editByHand(path: string, name: string, patch: Partial<FileCloudItem>): void {
  writeCloud(
    path,
    readCloud(path).map((i) => (i.name === name ? { ...i, ...patch } : i)),
  );
}

function observed(item: FileCloudItem, owner: string): ObservedResource {
  return {
    key: `file.Service/${item.name}`,
    kind: 'file.Service',
    name: item.name,
    id: item.id,
    owned: item.owner === owner,
    spec: { image: item.image, replicas: item.replicas },
    outputs: {},
    ready: true,
  };
}

/** Where a handler can be held (`hold`): around the vendor's work of a create or a delete. */
export type HoldPoint = 'before-create' | 'after-create' | 'before-delete' | 'after-delete';

/** The marker file a held handler writes (its content: `<point>:<name>`); a test waits for it. */
export function heldMarker(path: string): string {
  return `${path}.held`;
}

/**
 * `createDelayMs`: time a create takes after the item exists (a window to kill the daemon in).
 * `hold` (`<point>:<name>`, e.g. `after-create:b`): when the handler reaches that point for that
 * service, it writes `heldMarker(path)` and never goes on, so a test kills the daemon at a known
 * state rather than after a guessed duration.
 * `engine`: a file standing for this replica's own endpoint (like the Swarm provider's local
 * Docker Engine): while it does not exist, the provider's `localHealth` fails.
 */
export function fileCloudModule(
  path: string,
  options: { createDelayMs?: number; hold?: string; engine?: string } = {},
): ProviderModule {
  const at = async (point: HoldPoint, name: string): Promise<void> => {
    if (options.hold !== `${point}:${name}`) return;
    writeFileSync(heldMarker(path), `${point}:${name}`);
    await new Promise(() => {});
  };
  const handler: ResourceHandler = {
    async observe(ctx, query) {
      return readCloud(path)
        .filter((i) => i.owner === ctx.owner || query.names.includes(i.name))
        .map((i) => observed(i, ctx.owner));
    },
    async create(ctx, desired) {
      const items = readCloud(path);
      const existing = items.find((i) => i.name === desired.name && i.owner === ctx.owner);
      if (existing) return observed(existing, ctx.owner);
      await at('before-create', desired.name);
      const item: FileCloudItem = {
        id: `svc-${items.length + 1}-${Date.now()}`,
        name: desired.name,
        owner: ctx.owner,
        image: String(desired.spec.image),
        replicas: Number(desired.spec.replicas ?? 1),
      };
      writeCloud(path, [...items, item]);
      await at('after-create', desired.name);
      if (options.createDelayMs) await new Promise((r) => setTimeout(r, options.createDelayMs));
      return observed(item, ctx.owner);
    },
    async update(ctx, desired, live) {
      const items = readCloud(path).map((i) =>
        i.id === live.id
          ? { ...i, image: String(desired.spec.image), replicas: Number(desired.spec.replicas ?? 1) }
          : i,
      );
      writeCloud(path, items);
      const item = items.find((i) => i.id === live.id);
      if (!item) throw new Error(`cannot update ${desired.key}: it is gone`);
      return observed(item, ctx.owner);
    },
    async delete(_ctx, live) {
      await at('before-delete', live.name);
      writeCloud(
        path,
        readCloud(path).filter((i) => i.id !== live.id),
      );
      await at('after-delete', live.name);
    },
  };
  const engine = options.engine;
  const provider: Provider = {
    name: 'file',
    kinds: [{ schema: fileServiceSchema, handler }],
    concurrency: 2,
    // This replica's own endpoint (as the Swarm provider's local engine is): gone while the file is.
    ...(engine
      ? {
          localHealth: async () => {
            if (!existsSync(engine)) throw new Error(`cannot reach this replica's engine: ${engine} is gone`);
          },
        }
      : {}),
  };
  return { name: 'file', schemas: [fileServiceSchema], create: () => provider };
}
