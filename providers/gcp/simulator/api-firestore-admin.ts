import { randomBytes } from 'node:crypto';
import { ApiError, alreadyExists, failedPrecondition, invalidArgument, notFound, raise } from './api-error.ts';
import type { SimContext } from './context.ts';
import { type Operations, render, typeUrl } from './operations.ts';
import { canonical } from './proto-types.ts';
import { applyMask, etagOf, maskPaths, page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { Json } from './state.ts';

const DB_ID = /^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$/;

/** The `(default)` database as GCP answers for a new Native-mode database. */
export function newDatabase(ctx: SimContext, name: string, given: Json): Json {
  const now = ctx.timestamp();
  return {
    name,
    uid: randomBytes(16)
      .toString('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'),
    createTime: now,
    updateTime: now,
    locationId: given.locationId ?? ctx.region,
    type: given.type ?? 'FIRESTORE_NATIVE',
    concurrencyMode: given.concurrencyMode ?? 'PESSIMISTIC',
    versionRetentionPeriod:
      given.pointInTimeRecoveryEnablement === 'POINT_IN_TIME_RECOVERY_ENABLED' ? '604800s' : '3600s',
    earliestVersionTime: now,
    appEngineIntegrationMode: given.appEngineIntegrationMode ?? 'DISABLED',
    keyPrefix: '',
    pointInTimeRecoveryEnablement: given.pointInTimeRecoveryEnablement ?? 'POINT_IN_TIME_RECOVERY_DISABLED',
    deleteProtectionState: given.deleteProtectionState ?? 'DELETE_PROTECTION_DISABLED',
    databaseEdition: given.databaseEdition ?? 'STANDARD',
    etag: etagOf([name, now]),
  };
}

/**
 * Firestore Admin v1: databases (create/update/delete are long-running), composite indexes (create is
 * long-running: CREATING → READY; GCP appends `__name__`), fields with TTL policies (long-running).
 */
export function firestoreAdminRoutes(ctx: SimContext, ops: Operations): Route[] {
  const d = ctx.state.data;
  const dbName = (p: Record<string, string>) => `projects/${p.project}/databases/${p.database}`;
  const db = (p: Record<string, string>) => d.databases[dbName(p)] ?? raise(notFound('Database', dbName(p)));
  const opName = (database: string) => `${database}/operations/${randomBytes(12).toString('base64url')}`;

  ops.register('firestore.createDatabase', (op) => {
    const current = d.databases[op.target];
    if (!current) throw new ApiError('ABORTED', 'database was deleted while being created');
    delete current.__creating;
    return { '@type': typeUrl('google.firestore.admin.v1.Database'), ...current };
  });
  ops.register('firestore.updateDatabase', (op) => {
    const current = d.databases[op.target] ?? raise(notFound('Database', op.target));
    Object.assign(current, op.input?.next as Json);
    current.updateTime = ctx.timestamp();
    current.etag = etagOf([current, ctx.clock.now()]);
    return { '@type': typeUrl('google.firestore.admin.v1.Database'), ...current };
  });
  ops.register('firestore.deleteDatabase', (op) => {
    const current = d.databases[op.target] ?? raise(notFound('Database', op.target));
    delete d.databases[op.target];
    delete d.documents[op.target];
    for (const k of Object.keys(d.indexes)) if (k.startsWith(`${op.target}/`)) delete d.indexes[k];
    for (const k of Object.keys(d.fields)) if (k.startsWith(`${op.target}/`)) delete d.fields[k];
    return { '@type': typeUrl('google.firestore.admin.v1.Database'), ...current };
  });
  ops.register('firestore.createIndex', (op) => {
    const index = d.indexes[op.target] ?? raise(new ApiError('ABORTED', 'index was deleted while being built'));
    index.state = 'READY';
    op.metadata = {
      ...op.metadata,
      state: 'SUCCESSFUL',
      progressDocuments: { completedWork: '0', estimatedWork: '0' },
    };
    return { '@type': typeUrl('google.firestore.admin.v1.Index'), ...index };
  });
  ops.register('firestore.updateField', (op) => {
    const field = d.fields[op.target] ?? raise(notFound('Field', op.target));
    const ttl = field.ttlConfig as Json | undefined;
    if (ttl) ttl.state = 'ACTIVE';
    op.metadata = { ...op.metadata, state: 'SUCCESSFUL' };
    return { '@type': typeUrl('google.firestore.admin.v1.Field'), ...field };
  });

  const showDb = (x: Json): Json => {
    const { __creating: _c, ...rest } = x;
    return rest;
  };

  const checkDbBody = (body: Json) => {
    if (body.type !== undefined && body.type !== 'FIRESTORE_NATIVE' && body.type !== 'DATASTORE_MODE')
      throw invalidArgument('database.type', `"${String(body.type)}" is not FIRESTORE_NATIVE or DATASTORE_MODE`);
  };

  const indexRoutes = '/v1/projects/{project}/databases/{database}/collectionGroups/{group}';

  return [
    route('firestore', 'POST', '/v1/projects/{project}/databases', (req) => {
      const id = req.query.get('databaseId') ?? '';
      if (!DB_ID.test(id))
        throw invalidArgument('database_id', `"${id}" must be "(default)" or 4-63 lowercase letters, digits and "-"`);
      const name = `projects/${req.params.project}/databases/${id}`;
      if (d.databases[name]) throw alreadyExists('Database', name);
      const body = canonical('google.firestore.admin.v1.Database', req.body, 'database');
      checkDbBody(body);
      if (!body.locationId) throw invalidArgument('database.location_id', 'is required');
      if (!body.type) throw invalidArgument('database.type', 'is required');
      d.databases[name] = { ...newDatabase(ctx, name, body), __creating: true };
      const op = ops.start({
        name: opName(name),
        kind: 'firestore.createDatabase',
        target: name,
        metadata: { '@type': typeUrl('google.firestore.admin.v1.CreateDatabaseMetadata') },
      });
      return ok(render(op));
    }),
    route('firestore', 'GET', '/v1/projects/{project}/databases', (req) => {
      const prefix = `projects/${req.params.project}/databases/`;
      return ok({
        databases: Object.keys(d.databases)
          .filter((k) => k.startsWith(prefix))
          .sort()
          .map((k) => showDb(d.databases[k]!)),
      });
    }),
    route('firestore', 'GET', '/v1/projects/{project}/databases/{database}', (req) => ok(showDb(db(req.params)))),
    route('firestore', 'PATCH', '/v1/projects/{project}/databases/{database}', (req) => {
      const current = db(req.params);
      const body = canonical('google.firestore.admin.v1.Database', req.body, 'database');
      checkDbBody(body);
      const paths = maskPaths(req.query.get('updateMask')) ?? Object.keys(body).filter((k) => k !== 'name');
      const next = applyMask({}, body, paths, [
        'pointInTimeRecoveryEnablement',
        'deleteProtectionState',
        'concurrencyMode',
        'appEngineIntegrationMode',
        'type',
        'tags',
      ]);
      if (next.pointInTimeRecoveryEnablement === 'POINT_IN_TIME_RECOVERY_ENABLED')
        next.versionRetentionPeriod = '604800s';
      if (next.pointInTimeRecoveryEnablement === 'POINT_IN_TIME_RECOVERY_DISABLED')
        next.versionRetentionPeriod = '3600s';
      const op = ops.start({
        name: opName(current.name as string),
        kind: 'firestore.updateDatabase',
        target: current.name as string,
        metadata: { '@type': typeUrl('google.firestore.admin.v1.UpdateDatabaseMetadata') },
        input: { next },
      });
      return ok(render(op));
    }),
    route('firestore', 'DELETE', '/v1/projects/{project}/databases/{database}', (req) => {
      const current = db(req.params);
      if (current.deleteProtectionState === 'DELETE_PROTECTION_ENABLED')
        throw failedPrecondition(`Database ${current.name as string} has delete protection enabled; disable it first.`);
      const etag = req.query.get('etag');
      if (etag && etag !== current.etag)
        throw new ApiError('ABORTED', 'The etag does not match the current etag of the database.');
      const op = ops.start({
        name: opName(current.name as string),
        kind: 'firestore.deleteDatabase',
        target: current.name as string,
        metadata: { '@type': typeUrl('google.firestore.admin.v1.DeleteDatabaseMetadata') },
      });
      return ok(render(op));
    }),

    route('firestore', 'POST', `${indexRoutes}/indexes`, (req) => {
      const database = db(req.params).name as string;
      const body = canonical('google.firestore.admin.v1.Index', req.body, 'index');
      const fields = (body.fields ?? []) as Json[];
      if (fields.length < 2 && !fields.some((f) => f.vectorConfig))
        throw invalidArgument('index.fields', 'a composite index needs at least two fields');
      fields.forEach((f, i) => {
        if (typeof f.fieldPath !== 'string' || f.fieldPath === '')
          throw invalidArgument(`index.fields[${i}].field_path`, 'is required');
        if ([f.order, f.arrayConfig, f.vectorConfig].filter((x) => x !== undefined).length !== 1)
          throw invalidArgument(`index.fields[${i}]`, 'exactly one of order, array_config, vector_config');
      });
      const queryScope = body.queryScope ?? 'COLLECTION';
      const last = [...fields].reverse().find((f) => f.order !== undefined);
      const withName = fields.some((f) => f.fieldPath === '__name__')
        ? fields
        : [...fields, { fieldPath: '__name__', order: (last?.order as string | undefined) ?? 'ASCENDING' }];
      const parent = `${database}/collectionGroups/${req.params.group}`;
      const key = JSON.stringify([queryScope, body.apiScope ?? 'ANY_API', withName]);
      for (const [k, x] of Object.entries(d.indexes)) {
        if (k.startsWith(`${parent}/indexes/`) && JSON.stringify([x.queryScope, x.apiScope, x.fields]) === key)
          throw alreadyExists('Index', k);
      }
      const name = `${parent}/indexes/${randomBytes(9).toString('base64url').replace(/[-_]/g, 'A')}`;
      d.indexes[name] = {
        name,
        queryScope,
        apiScope: body.apiScope ?? 'ANY_API',
        fields: withName,
        state: 'CREATING',
        density: body.density ?? 'SPARSE_ALL',
      };
      const op = ops.start({
        name: opName(database),
        kind: 'firestore.createIndex',
        target: name,
        metadata: {
          '@type': typeUrl('google.firestore.admin.v1.IndexOperationMetadata'),
          startTime: ctx.timestamp(),
          index: name,
          state: 'INITIALIZING',
        },
      });
      return ok(render(op));
    }),
    route('firestore', 'GET', `${indexRoutes}/indexes`, (req) => {
      const database = db(req.params).name as string;
      const prefix =
        req.params.group === '-'
          ? `${database}/collectionGroups/`
          : `${database}/collectionGroups/${req.params.group}/indexes/`;
      const items = Object.keys(d.indexes)
        .filter((k) => k.startsWith(prefix))
        .sort()
        .map((k) => d.indexes[k]);
      return ok(page(items, req.query, 'indexes', 100, 1000));
    }),
    route('firestore', 'GET', `${indexRoutes}/indexes/{index}`, (req) => {
      const name = `${db(req.params).name as string}/collectionGroups/${req.params.group}/indexes/${req.params.index}`;
      return ok(d.indexes[name] ?? raise(notFound('Index', name)));
    }),
    route('firestore', 'DELETE', `${indexRoutes}/indexes/{index}`, (req) => {
      const name = `${db(req.params).name as string}/collectionGroups/${req.params.group}/indexes/${req.params.index}`;
      if (!d.indexes[name]) throw notFound('Index', name);
      delete d.indexes[name];
      ctx.state.changed();
      return ok({});
    }),

    route('firestore', 'GET', `${indexRoutes}/fields/{field}`, (req) => {
      const database = db(req.params).name as string;
      const name = `${database}/collectionGroups/${req.params.group}/fields/${req.params.field}`;
      return ok(d.fields[name] ?? defaultField(database, name));
    }),
    route('firestore', 'GET', `${indexRoutes}/fields`, (req) => {
      const database = db(req.params).name as string;
      const prefix =
        req.params.group === '-'
          ? `${database}/collectionGroups/`
          : `${database}/collectionGroups/${req.params.group}/fields/`;
      let items = Object.keys(d.fields)
        .filter((k) => k.startsWith(prefix))
        .sort()
        .map((k) => d.fields[k]!);
      const filter = req.query.get('filter') ?? '';
      if (/ttlConfig:\*/.test(filter)) items = items.filter((f) => f.ttlConfig !== undefined);
      if (/indexConfig\.usesAncestorConfig:false/.test(filter))
        items = items.filter((f) => (f.indexConfig as Json | undefined)?.usesAncestorConfig === false);
      return ok(page(items, req.query, 'fields', 100, 1000));
    }),
    route('firestore', 'PATCH', `${indexRoutes}/fields/{field}`, (req) => {
      const database = db(req.params).name as string;
      const name = `${database}/collectionGroups/${req.params.group}/fields/${req.params.field}`;
      const body = canonical('google.firestore.admin.v1.Field', req.body, 'field');
      const paths = maskPaths(req.query.get('updateMask')) ?? Object.keys(body).filter((k) => k !== 'name');
      if (ops.busy(name)) throw new ApiError('FAILED_PRECONDITION', `A field operation on ${name} is already running.`);
      const current = d.fields[name] ?? defaultField(database, name);
      const next = applyMask(current, body, paths, ['ttlConfig', 'indexConfig']);
      const before = current.ttlConfig !== undefined;
      const after = next.ttlConfig !== undefined;
      if (after) next.ttlConfig = { state: before ? ((current.ttlConfig as Json).state ?? 'ACTIVE') : 'CREATING' };
      if (next.indexConfig && paths.includes('indexConfig')) {
        const ic = next.indexConfig as Json;
        ic.usesAncestorConfig = false;
        delete ic.ancestorField;
      }
      d.fields[name] = next;
      const metadata: Json = {
        '@type': typeUrl('google.firestore.admin.v1.FieldOperationMetadata'),
        startTime: ctx.timestamp(),
        field: name,
        state: 'PROCESSING',
      };
      if (before !== after) metadata.ttlConfigDelta = { changeType: after ? 'ADD' : 'REMOVE' };
      const op = ops.start({ name: opName(database), kind: 'firestore.updateField', target: name, metadata });
      return ok(render(op));
    }),
  ];
}

function defaultField(database: string, name: string): Json {
  return {
    name,
    indexConfig: {
      usesAncestorConfig: true,
      ancestorField: `${database}/collectionGroups/__default__/fields/*`,
      indexes: [
        {
          queryScope: 'COLLECTION',
          fields: [{ fieldPath: name.split('/').at(-1), order: 'ASCENDING' }],
          state: 'READY',
        },
        {
          queryScope: 'COLLECTION',
          fields: [{ fieldPath: name.split('/').at(-1), order: 'DESCENDING' }],
          state: 'READY',
        },
        {
          queryScope: 'COLLECTION',
          fields: [{ fieldPath: name.split('/').at(-1), arrayConfig: 'CONTAINS' }],
          state: 'READY',
        },
      ],
    },
  };
}
