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

/** `createDelayMs`: time a create takes after the item exists (a window to kill the daemon in). */
export function fileCloudModule(path: string, options: { createDelayMs?: number } = {}): ProviderModule {
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
      const item: FileCloudItem = {
        id: `svc-${items.length + 1}-${Date.now()}`,
        name: desired.name,
        owner: ctx.owner,
        image: String(desired.spec.image),
        replicas: Number(desired.spec.replicas ?? 1),
      };
      writeCloud(path, [...items, item]);
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
      writeCloud(
        path,
        readCloud(path).filter((i) => i.id !== live.id),
      );
    },
  };
  const provider: Provider = { name: 'file', kinds: [{ schema: fileServiceSchema, handler }], concurrency: 2 };
  return { name: 'file', schemas: [fileServiceSchema], create: () => provider };
}
