import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as protobufTypes from 'protobufjs';
import type { DocumentChange } from './api-firestore-documents.ts';
import { FIRESTORE_EVENT_PREFIX } from './api-functions.ts';
import type { SimContext } from './context.ts';
import type { Value } from './firestore-values.ts';
import type { FunctionHost } from './function-host.ts';
import type { Json, StoredDocument } from './state.ts';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof protobufTypes;

let eventType: protobufTypes.Type | undefined;

/** `google.events.cloud.firestore.v1.DocumentEventData` from the trimmed data.proto beside this file. */
export function documentEventDataType(): protobufTypes.Type {
  if (!eventType) {
    const root = protobuf.parse(readFileSync(join(import.meta.dirname, 'document-event-data.proto'), 'utf8'), {
      keepCase: false,
    }).root;
    root.addJSON(protobuf.common.get('google/protobuf/struct.proto')!.nested!);
    root.addJSON(protobuf.common.get('google/protobuf/timestamp.proto')!.nested!);
    root.resolveAll();
    eventType = root.lookupType('google.events.cloud.firestore.v1.DocumentEventData');
  }
  return eventType;
}

function toTimestamp(ts: string): Json {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts)!;
  return { seconds: Math.floor(Date.parse(`${m[1]}Z`) / 1000), nanos: Number((m[2] ?? '').padEnd(9, '0').slice(0, 9)) };
}

function toProtoValue(v: Value): Json {
  if ('nullValue' in v) return { nullValue: 0 };
  if ('booleanValue' in v) return { booleanValue: v.booleanValue };
  if ('integerValue' in v) return { integerValue: String(v.integerValue) };
  if ('doubleValue' in v) return { doubleValue: Number(v.doubleValue) };
  if ('timestampValue' in v) return { timestampValue: toTimestamp(v.timestampValue as string) };
  if ('stringValue' in v) return { stringValue: v.stringValue };
  if ('bytesValue' in v) return { bytesValue: Buffer.from(v.bytesValue as string, 'base64') };
  if ('referenceValue' in v) return { referenceValue: v.referenceValue };
  if ('geoPointValue' in v) return { geoPointValue: v.geoPointValue };
  if ('arrayValue' in v)
    return { arrayValue: { values: (((v.arrayValue as Json).values ?? []) as Value[]).map(toProtoValue) } };
  if ('mapValue' in v)
    return { mapValue: { fields: toProtoFields(((v.mapValue as Json).fields ?? {}) as Record<string, Value>) } };
  return {};
}

function toProtoFields(fields: Record<string, Value>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = toProtoValue(v);
  return out;
}

function toProtoDocument(name: string, doc: StoredDocument): Json {
  return {
    name,
    fields: toProtoFields(doc.fields as Record<string, Value>),
    createTime: toTimestamp(doc.createTime),
    updateTime: toTimestamp(doc.updateTime),
  };
}

/** The protobuf bytes a real Firestore trigger sends for a change. */
export function encodeDocumentEventData(change: DocumentChange): Buffer {
  const T = documentEventDataType();
  const name = `${change.database}/documents/${change.path}`;
  const msg: Json = {};
  if (change.after) msg.value = toProtoDocument(name, change.after);
  if (change.before) msg.oldValue = toProtoDocument(name, change.before);
  if (change.before && change.after) {
    const paths = change.updateMask ?? changedFields(change.before, change.after);
    msg.updateMask = { fieldPaths: paths };
  }
  return Buffer.from(T.encode(T.fromObject(msg)).finish());
}

function changedFields(before: StoredDocument, after: StoredDocument): string[] {
  const keys = new Set([...Object.keys(before.fields), ...Object.keys(after.fields)]);
  return [...keys].filter((k) => JSON.stringify(before.fields[k]) !== JSON.stringify(after.fields[k])).sort();
}

/** Whether a document path matches a trigger's path pattern (`calls/{id}`, `a/{x}/b/{y=**}`, or exact). */
export function matchPathPattern(pattern: string, path: string): boolean {
  const ps = pattern.split('/');
  const ds = path.split('/');
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    if (p === '**' || /^\{\w+=\*\*\}$/.test(p)) return i === ps.length - 1 && ds.length >= i;
    if (i >= ds.length) return false;
    if (p === '*' || /^\{\w+\}$/.test(p)) continue;
    if (p !== ds[i]) return false;
  }
  return ps.length === ds.length;
}

function kindOf(change: DocumentChange): 'created' | 'updated' | 'deleted' {
  if (!change.before) return 'created';
  if (!change.after) return 'deleted';
  return 'updated';
}

/**
 * Delivers Firestore changes to ACTIVE functions whose Eventarc trigger matches, as binary-mode
 * CloudEvents with protobuf `DocumentEventData`. Functions with `RETRY_POLICY_RETRY` get a failed
 * event again with backoff (10 s doubling to 600 s, for 24 h of clock time).
 */
export class FirestoreEvents {
  readonly #ctx: SimContext;
  readonly #host: FunctionHost;
  readonly #inflight = new Set<Promise<void>>();
  #closed = false;

  constructor(ctx: SimContext, host: FunctionHost) {
    this.#ctx = ctx;
    this.#host = host;
  }

  publish(changes: DocumentChange[]): void {
    for (const change of changes) {
      const kind = kindOf(change);
      const dbId = change.database.split('/').at(-1)!;
      for (const fn of Object.values(this.#ctx.state.data.functions)) {
        if (fn.state !== 'ACTIVE') continue;
        const trigger = fn.eventTrigger as Json | undefined;
        const type = String(trigger?.eventType ?? '');
        if (!type.startsWith(FIRESTORE_EVENT_PREFIX)) continue;
        const event = type.slice(FIRESTORE_EVENT_PREFIX.length).replace(/\.withAuthContext$/, '');
        if (event !== 'written' && event !== kind) continue;
        const filters = (trigger!.eventFilters ?? []) as Json[];
        const ok = filters.every((f) => {
          if (f.attribute === 'database') return f.value === dbId;
          if (f.attribute === 'namespace') return f.value === '(default)';
          if (f.attribute === 'document')
            return f.operator === 'match-path-pattern'
              ? matchPathPattern(String(f.value), change.path)
              : f.value === change.path;
          return true;
        });
        if (!ok) continue;
        this.#deliver(fn, type, change, 1, this.#ctx.clock.now(), randomUUID());
      }
    }
  }

  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  busy(): number {
    return this.#inflight.size;
  }

  close(): void {
    this.#closed = true;
  }

  #deliver(fn: Json, type: string, change: DocumentChange, attempt: number, firstAt: number, id: string): void {
    if (this.#closed) return;
    const name = fn.name as string;
    const time = change.after?.updateTime ?? this.#ctx.timestamp();
    const headers: Record<string, string> = {
      'content-type': 'application/protobuf',
      'ce-id': id,
      'ce-specversion': '1.0',
      'ce-type': type,
      'ce-source': `//firestore.googleapis.com/${change.database}`,
      'ce-subject': `documents/${change.path}`,
      'ce-time': time,
      'ce-dataschema':
        'https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/firestore/v1/data.proto',
      'ce-datacontenttype': 'application/protobuf',
      'ce-project': this.#ctx.projectId,
      'ce-location': this.#ctx.region,
      'ce-database': change.database.split('/').at(-1)!,
      'ce-namespace': '(default)',
      'ce-document': change.path,
    };
    const timeoutMs = Number((fn.serviceConfig as Json).timeoutSeconds ?? 60) * 1000;
    const p = this.#host
      .invoke(name, { method: 'POST', path: '/', headers, body: encodeDocumentEventData(change), timeoutMs })
      .then(
        (r) => r.status,
        () => 0,
      )
      .then((status) => {
        if (status >= 200 && status < 300) return;
        const retry = (fn.eventTrigger as Json).retryPolicy === 'RETRY_POLICY_RETRY';
        this.#ctx.log.warn(
          { function: name, status, type, document: change.path, retry },
          'gcp simulator: a function refused a Firestore event',
        );
        if (!retry || this.#closed) return;
        const delay = Math.min(600, 10 * 2 ** (attempt - 1)) * 1000;
        if (this.#ctx.clock.now() + delay - firstAt > 86_400_000) return;
        this.#ctx.clock.setTimer(delay, () => {
          const current = this.#ctx.state.data.functions[name];
          if (current?.state === 'ACTIVE') this.#deliver(current, type, change, attempt + 1, firstAt, id);
        });
      });
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }
}
