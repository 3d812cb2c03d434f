import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  type KindSchema,
  leftoverOf,
  leftoverOwner,
  type ObservedResource,
  type Provider,
  type ProviderModule,
  type ResourceHandler,
} from '../providers/sdk/index.ts';

/**
 * A tiny fake cloud kept in a JSON file, so that its state survives a kill -9 of the daemon that
 * drives it (the in-memory provider cannot). Kind `file.Service`: `{ image, replicas }`.
 * Duplicates are kept, not merged, so a test can see a resource created twice. Kind `file.Address`
 * (`{ zone, target }`, kept in `addressesFile(path)`): `zone` forces a replacement, create-first.
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

/** An address: `zone` is replace-on-change and two addresses of one name may exist at once. */
export interface FileAddress {
  id: string;
  name: string;
  owner: string;
  zone: string;
  target: string;
}

export const fileAddressSchema: KindSchema = {
  kind: 'file.Address',
  description: 'An address in the file cloud (tests only): replaced create-first',
  spec: {
    zone: { type: 'string', required: true, replaceOnChange: true },
    target: { type: 'string', required: true },
  },
  replaceOrder: { order: 'create-first', why: 'two addresses of one name may exist at once' },
};

export function addressesFile(path: string): string {
  return `${path}.addresses.json`;
}

export function readAddresses(path: string): FileAddress[] {
  const file = addressesFile(path);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as FileAddress[]) : [];
}

function writeAddresses(path: string, items: FileAddress[]): void {
  const file = addressesFile(path);
  writeFileSync(`${file}.tmp`, JSON.stringify(items));
  renameSync(`${file}.tmp`, file);
}

/** Every address write, one line each (`create <name> <zone> <id>`, `delete <id>`), in `opsFile(path)`. */
export function opsFile(path: string): string {
  return `${path}.ops`;
}

export function readOps(path: string): string[] {
  const file = opsFile(path);
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function addressObserved(item: FileAddress, owner: string): ObservedResource {
  return {
    key: `file.Address/${item.name}`,
    kind: 'file.Address',
    name: item.name,
    id: item.id,
    owned: item.owner === owner,
    spec: { zone: item.zone, target: item.target },
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
  const addresses: ResourceHandler = {
    async observe(ctx, query) {
      const out: ObservedResource[] = [];
      const mine = new Map<string, FileAddress[]>();
      for (const a of readAddresses(path)) {
        if (a.owner === ctx.owner) mine.set(a.name, [...(mine.get(a.name) ?? []), a]);
        else if (query.names.includes(a.name)) out.push(addressObserved(a, ctx.owner));
      }
      // Two owned addresses of one name: the one Git describes is the resource, the other a leftover.
      for (const [name, list] of mine) {
        const want = query.desired.find((d) => d.name === name)?.spec.zone;
        const current = list.find((a) => a.zone === want) ?? (list[0] as FileAddress);
        for (const a of list) {
          const o = addressObserved(a, ctx.owner);
          out.push(a === current ? o : leftoverOf(o));
        }
      }
      return out;
    },
    async create(ctx, desired) {
      const items = readAddresses(path);
      // Found by its whole identity (name and zone): the old address is never the new one.
      const zone = String(desired.spec.zone);
      const existing = items.find((a) => a.name === desired.name && a.owner === ctx.owner && a.zone === zone);
      if (existing) return addressObserved(existing, ctx.owner);
      await at('before-create', desired.name);
      const item: FileAddress = {
        id: `addr-${items.length + 1}-${Date.now()}`,
        name: desired.name,
        owner: ctx.owner,
        zone,
        target: String(desired.spec.target),
      };
      writeAddresses(path, [...items, item]);
      appendFileSync(opsFile(path), `create ${item.name} ${item.zone} ${item.id}\n`);
      await at('after-create', desired.name);
      return addressObserved(item, ctx.owner);
    },
    async update(ctx, desired, live) {
      const items = readAddresses(path).map((a) =>
        a.id === live.id ? { ...a, target: String(desired.spec.target) } : a,
      );
      writeAddresses(path, items);
      const item = items.find((a) => a.id === live.id);
      if (!item) throw new Error(`cannot update ${desired.key}: it is gone`);
      return addressObserved(item, ctx.owner);
    },
    async delete(_ctx, live) {
      await at('before-delete', leftoverOwner(live.name));
      const items = readAddresses(path);
      if (items.some((a) => a.id === live.id)) {
        writeAddresses(
          path,
          items.filter((a) => a.id !== live.id),
        );
        appendFileSync(opsFile(path), `delete ${live.id}\n`);
      }
      await at('after-delete', leftoverOwner(live.name));
    },
  };
  const engine = options.engine;
  const provider: Provider = {
    name: 'file',
    kinds: [
      { schema: fileServiceSchema, handler },
      { schema: fileAddressSchema, handler: addresses },
    ],
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
  return { name: 'file', schemas: [fileServiceSchema, fileAddressSchema], create: () => provider };
}
