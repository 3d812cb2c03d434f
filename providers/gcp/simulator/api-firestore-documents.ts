import { randomBytes } from 'node:crypto';
import { ApiError, alreadyExists, invalidArgument, notFound } from './api-error.ts';
import type { SimContext } from './context.ts';
import { indexError, indexServes, neededIndex, type QueryDoc, runStructuredQuery } from './firestore-query.ts';
import { compareValues, equalValues, getField, micros, setField, type Value } from './firestore-values.ts';
import { canonical } from './proto-types.ts';
import { ok, type Route, route, type SimReply, type SimRequest } from './router.ts';
import type { Json, StoredDocument } from './state.ts';

/** One document change, as the Eventarc trigger sees it. */
export interface DocumentChange {
  readonly database: string;
  readonly path: string;
  readonly before?: StoredDocument;
  readonly after?: StoredDocument;
  readonly updateMask?: string[];
}

interface Transaction {
  readonly reads: Map<string, string | null>;
  readonly readOnly: boolean;
}

/**
 * Firestore documents over REST (as `workers/shared/firestore-rest.ts` calls it): get, create,
 * patch (update mask, `currentDocument` preconditions), delete, list, runQuery, batchGet, commit,
 * batchWrite, beginTransaction, rollback. Every change is reported to `onChange` (Eventarc).
 */
export function firestoreDocumentRoutes(
  ctx: SimContext,
  options: { requireIndexes: boolean; onChange: (changes: DocumentChange[]) => void },
): { routes: Route[]; sweepTtl: () => number } {
  const d = ctx.state.data;
  const transactions = new Map<string, Transaction>();
  let lastMicros = 0n;

  const commitTime = (): string => {
    let m = BigInt(ctx.clock.now()) * 1000n;
    if (m <= lastMicros) m = lastMicros + 1n;
    lastMicros = m;
    const ms = Number(m / 1000n);
    const iso = new Date(ms).toISOString().replace(/\.\d{3}Z$/, '');
    return `${iso}.${String(m % 1_000_000n).padStart(6, '0')}Z`;
  };

  const database = (p: Record<string, string>) => {
    const name = `projects/${p.project}/databases/${p.database}`;
    const db = d.databases[name];
    if (!db || db.__creating)
      throw new ApiError(
        'NOT_FOUND',
        `The database ${p.database} does not exist for project ${p.project}. Please visit https://console.cloud.google.com/datastore/setup?project=${p.project} to add a Cloud Datastore or Cloud Firestore database.`,
      );
    if (db.type === 'DATASTORE_MODE')
      throw new ApiError(
        'FAILED_PRECONDITION',
        'The Cloud Firestore API is not available for Firestore in Datastore Mode database.',
      );
    d.documents[name] ??= {};
    return { name, docs: d.documents[name]! };
  };

  const render = (dbName: string, path: string, doc: StoredDocument, mask?: string[]): Json => {
    let fields = doc.fields;
    if (mask) {
      const picked: Record<string, Value> = {};
      for (const m of mask) {
        const v = getField(doc.fields as Record<string, Value>, m);
        if (v !== undefined) setField(picked, m, v);
      }
      fields = picked;
    }
    const out: Json = { name: `${dbName}/documents/${path}`, createTime: doc.createTime, updateTime: doc.updateTime };
    if (Object.keys(fields).length > 0) out.fields = fields;
    return out;
  };

  /** A document path below `documents/` from a full name. */
  const relative = (dbName: string, name: unknown, field: string): string => {
    const prefix = `${dbName}/documents/`;
    if (typeof name !== 'string' || !name.startsWith(prefix))
      throw invalidArgument(field, `"${String(name)}" is not a document of ${dbName}`);
    const path = name.slice(prefix.length);
    checkDocPath(path, field);
    return path;
  };

  const readTx = (tx: string | null | undefined, path: string, doc: StoredDocument | undefined) => {
    if (!tx) return;
    const t = transactions.get(tx);
    if (!t) throw invalidArgument('transaction', 'is not an open transaction');
    if (!t.reads.has(path)) t.reads.set(path, doc?.updateTime ?? null);
  };

  type Write = Json;
  /** Applies writes: all preconditions first when atomic; answers write results and the changes. */
  const applyWrites = (dbName: string, docs: Record<string, StoredDocument>, writes: Write[], atomic: boolean) => {
    const time = commitTime();
    const results: Json[] = [];
    const statuses: Json[] = [];
    const changes: DocumentChange[] = [];
    const plan: {
      path: string;
      next?: StoredDocument;
      before?: StoredDocument;
      mask?: string[];
      transforms: Json[];
    }[] = [];
    const errors: (ApiError | undefined)[] = [];
    const working = new Map<string, StoredDocument | undefined>();
    const current = (p: string) => (working.has(p) ? working.get(p) : docs[p]);
    writes.forEach((w, i) => {
      try {
        const target =
          w.delete !== undefined
            ? w.delete
            : w.update
              ? (w.update as Json).name
              : (w.transform as Json | undefined)?.document;
        const path = relative(dbName, target, `writes[${i}]`);
        const before = current(path);
        const pre = w.currentDocument as Json | undefined;
        if (pre?.exists === true && !before)
          throw new ApiError('NOT_FOUND', `No document to update: ${dbName}/documents/${path}`);
        if (pre?.exists === false && before) throw alreadyExists('Document', `${dbName}/documents/${path}`);
        if (typeof pre?.updateTime === 'string' && (!before || micros(before.updateTime) !== micros(pre.updateTime)))
          throw new ApiError(
            'FAILED_PRECONDITION',
            `The document ${dbName}/documents/${path} was updated after ${pre.updateTime}.`,
          );
        if (w.delete !== undefined) {
          plan.push({ path, before, transforms: [] });
          working.set(path, undefined);
          errors.push(undefined);
          return;
        }
        const fields: Record<string, Value> =
          before && w.updateMask ? structuredClone(before.fields as Record<string, Value>) : {};
        const given = ((w.update as Json | undefined)?.fields ?? {}) as Record<string, Value>;
        const mask = ((w.updateMask as Json | undefined)?.fieldPaths ?? undefined) as string[] | undefined;
        if (w.update) {
          if (mask) for (const m of mask) setField(fields, m, getField(given, m));
          else Object.assign(fields, structuredClone(given));
        } else if (before) Object.assign(fields, structuredClone(before.fields));
        const transforms = [
          ...((w.updateTransforms ?? []) as Json[]),
          ...(((w.transform as Json | undefined)?.fieldTransforms ?? []) as Json[]),
        ];
        const next: StoredDocument = { fields, createTime: before?.createTime ?? time, updateTime: time };
        plan.push({ path, next, before, mask, transforms });
        working.set(path, next);
        errors.push(undefined);
      } catch (e) {
        if (atomic || !(e instanceof ApiError)) throw e;
        plan.push({ path: '', transforms: [] });
        errors.push(e);
      }
    });
    plan.forEach((p, i) => {
      const err = errors[i];
      if (err) {
        results.push({});
        statuses.push({ code: err.toRpcStatus().code, message: err.message });
        return;
      }
      const transformResults: Value[] = [];
      if (p.next) {
        for (const t of p.transforms)
          transformResults.push(applyTransform(p.next.fields as Record<string, Value>, t, time));
        const unchanged = p.before && JSON.stringify(p.before.fields) === JSON.stringify(p.next.fields);
        if (unchanged) p.next.updateTime = p.before!.updateTime;
        docs[p.path] = p.next;
        if (!unchanged)
          changes.push({ database: dbName, path: p.path, before: p.before, after: p.next, updateMask: p.mask });
        results.push({ updateTime: p.next.updateTime, ...(transformResults.length > 0 ? { transformResults } : {}) });
      } else {
        if (p.before) {
          delete docs[p.path];
          changes.push({ database: dbName, path: p.path, before: p.before });
        }
        results.push({});
      }
      statuses.push({});
    });
    ctx.state.changed();
    if (changes.length > 0) options.onChange(changes);
    return { results, statuses, time };
  };

  const candidates = (dbName: string, docs: Record<string, StoredDocument>, parent: string, from: Json): QueryDoc[] => {
    const collection = from.collectionId as string;
    const prefix = parent === '' ? '' : `${parent}/`;
    return Object.keys(docs)
      .filter((p) => {
        if (!p.startsWith(prefix)) return false;
        const rest = p.slice(prefix.length).split('/');
        if (from.allDescendants) return rest.length >= 2 && rest.length % 2 === 0 && rest.at(-2) === collection;
        return rest.length === 2 && rest[0] === collection;
      })
      .map((p) => ({ path: p, name: `${dbName}/documents/${p}`, doc: docs[p]! }));
  };

  const query = (p: Record<string, string>, parent: string, body: Json): SimReply => {
    const { name: dbName, docs } = database(p);
    const q = (body.structuredQuery ?? {}) as Json;
    const from = ((q.from ?? []) as Json[])[0];
    if (!from || typeof from.collectionId !== 'string')
      throw invalidArgument('structured_query.from', 'one collection selector is required');
    if (options.requireIndexes) {
      const need = neededIndex(q);
      if (need) {
        const scope = from.allDescendants ? 'COLLECTION_GROUP' : 'COLLECTION';
        const group = `${dbName}/collectionGroups/${from.collectionId}/indexes/`;
        const served = Object.entries(d.indexes).some(
          ([k, idx]) => k.startsWith(group) && idx.queryScope === scope && indexServes(idx, need),
        );
        if (!served) throw indexError(ctx.projectId, from.collectionId, need);
      }
    }
    let tx = body.transaction as string | undefined;
    const out: Json[] = [];
    if (body.newTransaction) {
      tx = randomBytes(16).toString('base64');
      transactions.set(tx, { reads: new Map(), readOnly: Boolean((body.newTransaction as Json).readOnly) });
    }
    const readTime = commitTime();
    const select = ((q.select as Json | undefined)?.fields as Json[] | undefined)?.map((f) => f.fieldPath as string);
    const result = runStructuredQuery(q, candidates(dbName, docs, parent, from));
    for (const r of result) {
      readTx(tx, r.path, r.doc);
      out.push({
        document: render(
          dbName,
          r.path,
          r.doc,
          select?.filter((s) => s !== '__name__'),
        ),
        readTime,
      });
    }
    if (out.length === 0) out.push({ readTime });
    if (body.newTransaction) out[0]!.transaction = tx;
    return ok(out);
  };

  const handle = (req: SimRequest): SimReply => {
    const p = req.params;
    // The verb is a literal ':' in the raw path; an encoded one (%3A) belongs to a document id.
    let rest = req.path.slice(req.path.indexOf('/documents') + '/documents'.length);
    let verb = '';
    const colon = rest.lastIndexOf(':');
    if (colon >= 0 && !rest.slice(colon).includes('/')) {
      verb = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
    if (rest !== '' && !rest.startsWith('/')) throw new ApiError('NOT_FOUND', `no such method ${req.path}`);
    const segs = rest === '' ? [] : rest.slice(1).split('/').map(decodeSegment);
    const path = segs.join('/');
    const { name: dbName, docs } = database(p);
    const q = req.query;
    // Clients in REST mode send enums as numbers (`enum-encoding=int`): read bodies with the descriptors.
    const requestType =
      verb !== ''
        ? verbRequestTypes[verb]
        : req.method === 'PATCH' || req.method === 'POST'
          ? 'google.firestore.v1.Document'
          : undefined;
    const body = requestType ? canonical(requestType, req.body, 'body') : req.body;

    if (verb !== '') {
      if (segs.length % 2 === 1) throw new ApiError('NOT_FOUND', `no such method ${req.path}`);
      switch (`${req.method} ${verb}`) {
        case 'POST runQuery':
          return query(p, path, body);
        case 'POST commit': {
          const tx = body.transaction as string | undefined;
          if (tx) {
            const t = transactions.get(tx);
            if (!t)
              throw invalidArgument(
                'transaction',
                'is not an open transaction (it was committed, rolled back or expired)',
              );
            transactions.delete(tx);
            for (const [path1, seen] of t.reads) {
              if ((docs[path1]?.updateTime ?? null) !== seen)
                throw new ApiError(
                  'ABORTED',
                  'Transaction lock timeout: a document the transaction read was changed; retry the transaction.',
                );
            }
          }
          const { results, time } = applyWrites(dbName, docs, (body.writes ?? []) as Json[], true);
          return ok({ writeResults: results, commitTime: time });
        }
        case 'POST batchWrite': {
          const { results, statuses } = applyWrites(dbName, docs, (body.writes ?? []) as Json[], false);
          return ok({ writeResults: results, status: statuses });
        }
        case 'POST beginTransaction': {
          const id = randomBytes(16).toString('base64');
          const ro = Boolean(((body.options ?? {}) as Json).readOnly);
          transactions.set(id, { reads: new Map(), readOnly: ro });
          return ok({ transaction: id });
        }
        case 'POST rollback': {
          transactions.delete(body.transaction as string);
          return ok({});
        }
        case 'POST batchGet': {
          const readTime = commitTime();
          const mask = ((body.mask as Json | undefined)?.fieldPaths ?? undefined) as string[] | undefined;
          let tx = body.transaction as string | undefined;
          if (body.newTransaction) {
            tx = randomBytes(16).toString('base64');
            transactions.set(tx, { reads: new Map(), readOnly: false });
          }
          const out = ((body.documents ?? []) as string[]).map((n, i) => {
            const rel = relative(dbName, n, `documents[${i}]`);
            const doc = docs[rel];
            readTx(tx, rel, doc);
            return doc ? { found: render(dbName, rel, doc, mask), readTime } : { missing: n, readTime };
          });
          if (body.newTransaction && out[0]) (out[0] as Json).transaction = tx;
          return ok(out);
        }
        case 'POST listCollectionIds': {
          const prefix = path === '' ? '' : `${path}/`;
          const ids = new Set<string>();
          for (const k of Object.keys(docs)) if (k.startsWith(prefix)) ids.add(k.slice(prefix.length).split('/')[0]!);
          return ok({ collectionIds: [...ids].sort() });
        }
        default:
          throw new ApiError('NOT_FOUND', `no such method ${req.method} ${req.path}`);
      }
    }

    if (segs.length === 0) throw new ApiError('NOT_FOUND', `no such method ${req.method} ${req.path}`);
    const mask = q.getAll('mask.fieldPaths');
    if (segs.length % 2 === 0) {
      checkDocPath(path, 'name');
      const current = docs[path];
      switch (req.method) {
        case 'GET': {
          readTx(q.get('transaction'), path, current);
          if (!current) throw notFound('Document', `${dbName}/documents/${path}`);
          return ok(render(dbName, path, current, mask.length > 0 ? mask : undefined));
        }
        case 'PATCH': {
          const updateMask = q.getAll('updateMask.fieldPaths');
          const w: Json = { update: { name: `${dbName}/documents/${path}`, fields: body.fields ?? {} } };
          if (updateMask.length > 0) w.updateMask = { fieldPaths: updateMask };
          const pre: Json = {};
          if (q.has('currentDocument.exists')) pre.exists = q.get('currentDocument.exists') === 'true';
          if (q.has('currentDocument.updateTime')) pre.updateTime = q.get('currentDocument.updateTime');
          if (Object.keys(pre).length > 0) w.currentDocument = pre;
          applyWrites(dbName, docs, [w], true);
          return ok(render(dbName, path, docs[path]!, mask.length > 0 ? mask : undefined));
        }
        case 'DELETE': {
          const w: Json = { delete: `${dbName}/documents/${path}` };
          const pre: Json = {};
          if (q.has('currentDocument.exists')) pre.exists = q.get('currentDocument.exists') === 'true';
          if (q.has('currentDocument.updateTime')) pre.updateTime = q.get('currentDocument.updateTime');
          if (Object.keys(pre).length > 0) w.currentDocument = pre;
          applyWrites(dbName, docs, [w], true);
          return ok({});
        }
        default:
          throw new ApiError('NOT_FOUND', `no such method ${req.method} on a document`);
      }
    }
    // A collection: segs is parent/.../collectionId.
    const collection = segs.at(-1)!;
    const parent = segs.slice(0, -1).join('/');
    switch (req.method) {
      case 'GET': {
        const all = candidates(dbName, docs, parent, { collectionId: collection }).sort((a, b) =>
          a.path < b.path ? -1 : 1,
        );
        const size = Math.min(Number(q.get('pageSize') ?? 0) || 300, 10_000);
        const token = q.get('pageToken');
        let start = 0;
        if (token) {
          const after = Buffer.from(token, 'base64url').toString('utf8');
          start = all.findIndex((x) => x.path > after);
          if (start < 0) start = all.length;
        }
        const slice = all.slice(start, start + size);
        const out: Json = {
          documents: slice.map((x) => render(dbName, x.path, x.doc, mask.length > 0 ? mask : undefined)),
        };
        if (start + size < all.length) out.nextPageToken = Buffer.from(slice.at(-1)!.path).toString('base64url');
        return ok(out);
      }
      case 'POST': {
        const id = q.get('documentId') || randomBytes(15).toString('base64url').replace(/[-_]/g, 'x').slice(0, 20);
        const docPath = `${path}/${id}`;
        checkDocPath(docPath, 'document_id');
        applyWrites(
          dbName,
          docs,
          [
            {
              update: { name: `${dbName}/documents/${docPath}`, fields: body.fields ?? {} },
              currentDocument: { exists: false },
            },
          ],
          true,
        );
        return ok(render(dbName, docPath, docs[docPath]!, mask.length > 0 ? mask : undefined));
      }
      default:
        throw new ApiError('NOT_FOUND', `no such method ${req.method} on a collection`);
    }
  };

  /**
   * Deletes documents whose TTL field (an ACTIVE policy's timestamp) has passed, through the same
   * write path as an API delete (so triggers see them). GCP does this within a day of expiry.
   */
  const sweepTtl = (): number => {
    const now = BigInt(ctx.clock.now()) * 1000n;
    let deleted = 0;
    for (const field of Object.values(d.fields)) {
      if ((field.ttlConfig as Json | undefined)?.state !== 'ACTIVE') continue;
      const m = /^(projects\/[^/]+\/databases\/[^/]+)\/collectionGroups\/([^/]+)\/fields\/(.+)$/.exec(
        field.name as string,
      );
      if (!m) continue;
      const [, dbName, group, fieldPath] = m as unknown as [string, string, string, string];
      const docs = d.documents[dbName];
      if (!docs) continue;
      const expired = Object.entries(docs)
        .filter(([path, doc]) => {
          const segs = path.split('/');
          const v = getField(doc.fields as Record<string, Value>, fieldPath);
          return segs.at(-2) === group && typeof v?.timestampValue === 'string' && micros(v.timestampValue) <= now;
        })
        .map(([path]) => ({ delete: `${dbName}/documents/${path}` }));
      if (expired.length === 0) continue;
      applyWrites(dbName, docs, expired, false);
      deleted += expired.length;
    }
    return deleted;
  };

  return {
    routes: [route('firestore', '*', '/v1/projects/{project}/databases/{database}/documents{rest=**}', handle)],
    sweepTtl,
  };
}

/** The request message of each custom method (for reading the body). */
const verbRequestTypes: Record<string, string> = {
  runQuery: 'google.firestore.v1.RunQueryRequest',
  commit: 'google.firestore.v1.CommitRequest',
  batchWrite: 'google.firestore.v1.BatchWriteRequest',
  beginTransaction: 'google.firestore.v1.BeginTransactionRequest',
  rollback: 'google.firestore.v1.RollbackRequest',
  batchGet: 'google.firestore.v1.BatchGetDocumentsRequest',
  listCollectionIds: 'google.firestore.v1.ListCollectionIdsRequest',
};

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalidArgument('name', `"${s}" is not a valid percent-encoded path segment`);
  }
}

function checkDocPath(path: string, field: string): void {
  const segs = path.split('/');
  if (segs.length % 2 !== 0 || segs.some((s) => s === '' || s === '.' || s === '..' || /^__.*__$/.test(s)))
    throw invalidArgument(
      field,
      `"${path}" is not a document path (collection/document pairs, no empty or reserved __x__ ids)`,
    );
}

function applyTransform(fields: Record<string, Value>, t: Json, time: string): Value {
  const path = t.fieldPath as string;
  const current = getField(fields, path);
  let next: Value;
  if (t.setToServerValue === 'REQUEST_TIME') next = { timestampValue: time };
  else if (t.increment) {
    const inc = t.increment as Value;
    const base = current && ('integerValue' in current || 'doubleValue' in current) ? current : { integerValue: '0' };
    if ('integerValue' in base && 'integerValue' in inc)
      next = { integerValue: String(BigInt(base.integerValue as string) + BigInt(inc.integerValue as string)) };
    else
      next = {
        doubleValue: Number(base.integerValue ?? base.doubleValue) + Number(inc.integerValue ?? inc.doubleValue),
      };
  } else if (t.maximum || t.minimum) {
    const other = (t.maximum ?? t.minimum) as Value;
    const isNum = current && ('integerValue' in current || 'doubleValue' in current);
    if (!isNum) next = other;
    else {
      const c = compareValues(current, other);
      next = t.maximum ? (c >= 0 ? current : other) : c <= 0 ? current : other;
    }
  } else if (t.appendMissingElements || t.removeAllFromArray) {
    const arr = [...(((current?.arrayValue as Json | undefined)?.values ?? []) as Value[])];
    const items = (((t.appendMissingElements ?? t.removeAllFromArray) as Json).values ?? []) as Value[];
    const out = t.appendMissingElements
      ? [...arr, ...items.filter((x) => !arr.some((y) => equalValues(x, y)))]
      : arr.filter((x) => !items.some((y) => equalValues(x, y)));
    next = { arrayValue: out.length > 0 ? { values: out } : {} };
  } else throw invalidArgument('field_transforms', `unsupported transform on ${path}`);
  setField(fields, path, next);
  return t.setToServerValue ? next : t.increment || t.maximum || t.minimum ? next : { nullValue: null };
}
