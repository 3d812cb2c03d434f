import protobuf from 'protobufjs';

/**
 * Firestore trigger payloads. Eventarc sends `DocumentEventData` as protobuf
 * (`application/protobuf`, the default) or as JSON; both decode to the same plain shape here.
 * The schema is the published google/events/cloud/firestore/v1/data.proto, trimmed to what a
 * document carries.
 */
const DATA_PROTO = `
syntax = "proto3";
package google.events.cloud.firestore.v1;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message LatLng { double latitude = 1; double longitude = 2; }
enum NullValue { NULL_VALUE = 0; }
message DocumentEventData { Document value = 1; Document old_value = 2; DocumentMask update_mask = 3; }
message DocumentMask { repeated string field_paths = 1; }
message Document { string name = 1; map<string, Value> fields = 2; Timestamp create_time = 3; Timestamp update_time = 4; }
message Value {
  oneof value_type {
    NullValue null_value = 11; bool boolean_value = 1; int64 integer_value = 2; double double_value = 3;
    Timestamp timestamp_value = 10; string string_value = 17; bytes bytes_value = 18; string reference_value = 5;
    LatLng geo_point_value = 8; ArrayValue array_value = 9; MapValue map_value = 6;
  }
}
message ArrayValue { repeated Value values = 1; }
message MapValue { map<string, Value> fields = 1; }
`;

const root = protobuf.parse(DATA_PROTO, { keepCase: false }).root;
const DocumentEventDataType = root.lookupType('google.events.cloud.firestore.v1.DocumentEventData');

/** A document as the function sees it: its full resource name and its fields as plain JSON. */
export interface EventDocument {
  readonly name: string;
  readonly fields: Record<string, unknown>;
  readonly updateTime: string | undefined;
}

export interface DocumentChange {
  readonly value: EventDocument | undefined;
  readonly oldValue: EventDocument | undefined;
}

type Timestamp = { seconds?: string | number; nanos?: number } | string;

function timestamp(t: Timestamp | undefined): string | undefined {
  if (t === undefined || t === null) return undefined;
  if (typeof t === 'string') return t;
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/** A Firestore `Value` (REST JSON, or protobuf turned into an object) as plain JSON. */
export function fromValue(value: Record<string, unknown>): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('integerValue' in value) {
    const n = Number(value.integerValue);
    return Number.isSafeInteger(n) ? n : String(value.integerValue);
  }
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('booleanValue' in value) return value.booleanValue;
  if ('nullValue' in value) return null;
  if ('timestampValue' in value) return timestamp(value.timestampValue as Timestamp);
  if ('referenceValue' in value) return value.referenceValue;
  if ('bytesValue' in value) return value.bytesValue;
  if ('geoPointValue' in value) return value.geoPointValue;
  if ('arrayValue' in value)
    return ((value.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(fromValue);
  if ('mapValue' in value)
    return fromFields((value.mapValue as { fields?: Record<string, Record<string, unknown>> }).fields ?? {});
  return null;
}

export function fromFields(fields: Record<string, Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fromValue(v)]));
}

function document(raw: unknown): EventDocument | undefined {
  if (raw === undefined || raw === null) return undefined;
  const d = raw as { name?: string; fields?: Record<string, Record<string, unknown>>; updateTime?: Timestamp };
  if (!d.name) return undefined;
  return { name: d.name, fields: fromFields(d.fields ?? {}), updateTime: timestamp(d.updateTime) };
}

/** Decodes the `data` of a Firestore CloudEvent: protobuf bytes, or JSON (object, text or bytes). */
export function decodeDocumentEventData(data: unknown): DocumentChange {
  let object: Record<string, unknown>;
  const bytes = data instanceof Uint8Array ? data : undefined;
  if (bytes && bytes[0] !== 0x7b) {
    const message = DocumentEventDataType.decode(bytes);
    object = DocumentEventDataType.toObject(message, { longs: String, enums: String, bytes: String, oneofs: false });
  } else if (bytes || typeof data === 'string') {
    object = JSON.parse(bytes ? Buffer.from(bytes).toString('utf8') : (data as string)) as Record<string, unknown>;
  } else if (typeof data === 'object' && data !== null) {
    object = data as Record<string, unknown>;
  } else {
    throw new TypeError('the event has no data');
  }
  return { value: document(object.value), oldValue: document(object.oldValue) };
}

/** Encodes a `DocumentEventData` as Eventarc sends it (tests and simulators build trigger events with it). */
export function encodeDocumentEventData(change: {
  value?: { name: string; fields: Record<string, unknown>; createTime?: string; updateTime?: string };
  oldValue?: { name: string; fields: Record<string, unknown>; createTime?: string; updateTime?: string };
}): Uint8Array {
  const ts = (iso: string | undefined) => {
    if (!iso) return undefined;
    const ms = Date.parse(iso);
    return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
  };
  const toProtoValue = (v: Record<string, unknown>): Record<string, unknown> => {
    if ('timestampValue' in v) return { timestampValue: ts(v.timestampValue as string) };
    if ('integerValue' in v) return { integerValue: String(v.integerValue) };
    if ('nullValue' in v) return { nullValue: 0 };
    if ('arrayValue' in v)
      return {
        arrayValue: {
          values: ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(toProtoValue),
        },
      };
    if ('mapValue' in v)
      return {
        mapValue: {
          fields: toProtoFields((v.mapValue as { fields?: Record<string, Record<string, unknown>> }).fields ?? {}),
        },
      };
    return v;
  };
  const toProtoFields = (fields: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, toProtoValue(v as Record<string, unknown>)]));
  const doc = (d: typeof change.value) =>
    d && { name: d.name, fields: toProtoFields(d.fields), createTime: ts(d.createTime), updateTime: ts(d.updateTime) };
  const message = DocumentEventDataType.fromObject({ value: doc(change.value), oldValue: doc(change.oldValue) });
  return DocumentEventDataType.encode(message).finish();
}
