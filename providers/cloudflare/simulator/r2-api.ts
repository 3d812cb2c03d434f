import { fail, ok } from './envelope.ts';
import type { Router } from './router.ts';
import { now, type SimBucket, type SimState } from './state.ts';

const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const LOCATIONS = new Set(['apac', 'eeur', 'enam', 'weur', 'wnam', 'oc']);

/** R2 buckets (cursor-paginated list, create, get, delete that refuses non-empty buckets) and lifecycle rules. */
export function registerR2Api(router: Router, state: SimState): void {
  const base = '/accounts/:account/r2/buckets';

  router.on('GET', base, (req) => {
    const perPage = Math.min(1000, Math.max(1, Number(req.query.get('per_page') ?? 20) || 20));
    const cursor = req.query.get('cursor');
    const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : (req.query.get('start_after') ?? '');
    const contains = req.query.get('name_contains');
    const names = [...state.buckets.keys()]
      .filter((n) => n > after && (contains === null || n.includes(contains)))
      .sort();
    const page = names.slice(0, perPage);
    const more = names.length > perPage;
    const info: Record<string, unknown> = { per_page: perPage };
    if (more) info.cursor = Buffer.from(page[page.length - 1] as string, 'utf8').toString('base64url');
    return ok({ buckets: page.map((n) => bucketBody(state.buckets.get(n) as SimBucket)) }, info);
  });

  router.on('POST', base, (req) => {
    const body = (req.json ?? {}) as Record<string, unknown>;
    const name = String(body.name ?? '');
    if (!BUCKET_NAME.test(name)) return fail(400, 10005, 'The specified bucket name is not valid.');
    if (state.buckets.has(name))
      return fail(409, 10004, 'The bucket you tried to create already exists, and you own it.');
    const hint = typeof body.locationHint === 'string' ? body.locationHint.toLowerCase() : 'enam';
    if (!LOCATIONS.has(hint)) return fail(400, 10086, `The location hint ${hint} is not valid.`);
    const bucket: SimBucket = { name, location: hint, creation_date: now(), lifecycle: [], objects: new Map() };
    state.buckets.set(name, bucket);
    return ok(bucketBody(bucket));
  });

  router.on('GET', `${base}/:bucket`, (req) => {
    const bucket = state.buckets.get(req.params.bucket as string);
    return bucket ? ok(bucketBody(bucket)) : missing();
  });

  router.on('DELETE', `${base}/:bucket`, (req) => {
    const bucket = state.buckets.get(req.params.bucket as string);
    if (!bucket) return missing();
    if (bucket.objects.size > 0) return fail(409, 10008, 'The bucket you tried to delete is not empty.');
    state.buckets.delete(bucket.name);
    return ok({});
  });

  router.on('GET', `${base}/:bucket/lifecycle`, (req) => {
    const bucket = state.buckets.get(req.params.bucket as string);
    return bucket ? ok({ rules: bucket.lifecycle }) : missing();
  });

  router.on('PUT', `${base}/:bucket/lifecycle`, (req) => {
    const bucket = state.buckets.get(req.params.bucket as string);
    if (!bucket) return missing();
    const rules = ((req.json ?? {}) as { rules?: unknown }).rules ?? [];
    if (!Array.isArray(rules)) return fail(400, 10040, 'The lifecycle rules are not valid.');
    for (const rule of rules as Record<string, unknown>[]) {
      const conditions = rule.conditions as { prefix?: unknown } | undefined;
      if (typeof rule.id !== 'string' || typeof rule.enabled !== 'boolean' || typeof conditions?.prefix !== 'string') {
        return fail(
          400,
          10040,
          'The lifecycle rules are not valid: every rule needs id, enabled and conditions.prefix.',
        );
      }
    }
    bucket.lifecycle = structuredClone(rules as Record<string, unknown>[]);
    return ok({});
  });
}

function bucketBody(bucket: SimBucket): Record<string, unknown> {
  return {
    name: bucket.name,
    creation_date: bucket.creation_date,
    location: bucket.location,
    storage_class: 'Standard',
  };
}

function missing() {
  return fail(404, 10006, 'The specified bucket does not exist.');
}
