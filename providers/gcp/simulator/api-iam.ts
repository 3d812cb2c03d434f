import { ApiError, alreadyExists, invalidArgument, notFound } from './api-error.ts';
import type { SimContext } from './context.ts';
import { applyMask, checkId, etagOf, maskPaths, page } from './resource-helpers.ts';
import { ok, type Route, route, type SimRequest } from './router.ts';
import type { Json } from './state.ts';

const ACCOUNT_ID = /^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/;
const MEMBER =
  /^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|deleted:user|deleted:serviceAccount|deleted:group):.+|principal(Set)?:\/\/.+|projectOwner:.+|projectEditor:.+|projectViewer:.+)$/;

/** Which roles each kind of resource takes (basic roles fit everything). */
const roleFamilies: Record<string, readonly string[]> = {
  project: ['roles/'],
  topic: ['roles/pubsub.'],
  subscription: ['roles/pubsub.'],
  secret: ['roles/secretmanager.'],
  function: ['roles/cloudfunctions.', 'roles/run.invoker'],
  runService: ['roles/run.'],
  serviceAccount: ['roles/iam.'],
};

/** IAM v1 service accounts; IAM policies of the project (Resource Manager v3) and of resources. */
export function iamRoutes(ctx: SimContext): Route[] {
  const d = ctx.state.data;
  const email = (id: string) => `${id}@${ctx.projectId}.iam.gserviceaccount.com`;
  const account = (p: Record<string, string>) => {
    const key = p.account ?? '';
    const found = d.serviceAccounts[key] ?? Object.values(d.serviceAccounts).find((a) => a.uniqueId === key);
    if (!found) throw notFound('ServiceAccount', `projects/${p.project}/serviceAccounts/${key}`);
    return found;
  };

  /** The stored key of a resource's policy and its kind, or a 404 when the resource does not exist. */
  const resolve = (resource: string): { key: string; kind: string } => {
    let m = /^projects\/([^/]+)$/.exec(resource);
    if (m) {
      if (m[1] !== ctx.projectId && m[1] !== ctx.projectNumber)
        throw new ApiError('PERMISSION_DENIED', `The caller does not have permission on project ${m[1]}`);
      return { key: `projects/${ctx.projectId}`, kind: 'project' };
    }
    const existing = (kind: string, map: Record<string, Json>, key: string) => {
      if (!map[key]) throw notFound(kind, key);
      return { key, kind };
    };
    if (/^projects\/[^/]+\/topics\/[^/]+$/.test(resource)) return existing('topic', d.topics, resource);
    if (/^projects\/[^/]+\/subscriptions\/[^/]+$/.test(resource))
      return existing('subscription', d.subscriptions, resource);
    m = /^projects\/[^/]+\/secrets\/([^/]+)$/.exec(resource);
    if (m) return existing('secret', d.secrets, `projects/${ctx.projectNumber}/secrets/${m[1]}`);
    if (/^projects\/[^/]+\/locations\/[^/]+\/functions\/[^/]+$/.test(resource))
      return existing('function', d.functions, resource);
    if (/^projects\/[^/]+\/locations\/[^/]+\/services\/[^/]+$/.test(resource)) {
      // A 2nd-gen function runs as the Cloud Run service of its name (its serviceConfig.service):
      // its invoker policy (roles/run.invoker) is set on that service, as `gcloud functions
      // add-invoker-policy-binding` does.
      const fn = resource.replace('/services/', '/functions/');
      if (!d.runServices[resource] && d.functions[fn]) return { key: resource, kind: 'runService' };
      return existing('runService', d.runServices, resource);
    }
    m = /^projects\/[^/]+\/serviceAccounts\/([^/]+)$/.exec(resource);
    if (m) {
      const a = account({ project: ctx.projectId, account: m[1]! });
      return { key: `projects/${ctx.projectId}/serviceAccounts/${a.email as string}`, kind: 'serviceAccount' };
    }
    throw new ApiError('NOT_FOUND', `The simulator keeps no IAM policy for ${resource}`);
  };

  const policyOf = (key: string): Json => d.policies[key] ?? { version: 1, etag: 'ACAB' };

  const getPolicy = (resource: string) => ok(policyOf(resolve(resource).key));

  const setPolicy = (resource: string, body: Json) => {
    const { key, kind } = resolve(resource);
    const policy = (body.policy ?? {}) as Json;
    const current = policyOf(key);
    if (policy.etag !== undefined && policy.etag !== '' && policy.etag !== current.etag)
      throw new ApiError(
        'ABORTED',
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      );
    const bindings = (policy.bindings ?? []) as Json[];
    const seen = new Set<string>();
    bindings.forEach((b, i) => {
      const role = b.role;
      if (typeof role !== 'string' || !/^(roles\/|projects\/[^/]+\/roles\/|organizations\/[^/]+\/roles\/)/.test(role))
        throw invalidArgument(`policy.bindings[${i}].role`, `"${String(role)}" is not a role`);
      const basic = ['roles/owner', 'roles/editor', 'roles/viewer'].includes(role);
      if (!basic && role.startsWith('roles/') && !roleFamilies[kind]!.some((f) => role.startsWith(f)))
        throw invalidArgument(`policy.bindings[${i}].role`, `Role ${role} is not supported for this resource.`);
      const members = (b.members ?? []) as string[];
      for (const member of members) {
        if (!MEMBER.test(member)) throw invalidArgument(`policy.bindings[${i}].members`, `Invalid member: ${member}`);
        const sa = /^serviceAccount:(.+@(.+)\.iam\.gserviceaccount\.com)$/.exec(member);
        if (sa && sa[2] === ctx.projectId && !d.serviceAccounts[sa[1]!])
          throw invalidArgument(`policy.bindings[${i}].members`, `Service account ${sa[1]} does not exist.`);
      }
      const k = `${role}|${JSON.stringify(b.condition ?? null)}`;
      if (seen.has(k)) throw invalidArgument(`policy.bindings[${i}]`, `role ${role} appears twice`);
      seen.add(k);
    });
    const next: Json = {
      version: policy.version ?? 1,
      bindings: bindings.filter((b) => ((b.members ?? []) as string[]).length > 0),
    };
    next.etag = Buffer.from(etagOf([next, ctx.state.next()]).slice(0, 12)).toString('base64');
    if ((next.bindings as Json[]).length === 0) delete next.bindings;
    d.policies[key] = next;
    ctx.state.changed();
    return ok(next);
  };

  const resourceOf = (req: SimRequest) => req.params.resource!;

  return [
    route('iam', 'POST', '/v1/projects/{project}/serviceAccounts', (req) => {
      const id = checkId(
        req.body.accountId as string,
        'account_id',
        ACCOUNT_ID,
        'must be 6-30 characters: lowercase letters, digits and hyphens, starting with a letter',
      );
      const e = email(id);
      const name = `projects/${ctx.projectId}/serviceAccounts/${e}`;
      if (d.serviceAccounts[e]) throw alreadyExists('ServiceAccount', name);
      const given = (req.body.serviceAccount ?? {}) as Json;
      const uniqueId = String(100_000_000_000_000_000_000n + BigInt(ctx.state.next()) * 7919n);
      const a: Json = {
        name,
        projectId: ctx.projectId,
        uniqueId,
        email: e,
        displayName: given.displayName ?? '',
        description: given.description ?? '',
        etag: Buffer.from(etagOf([e, uniqueId]).slice(0, 8)).toString('base64'),
        oauth2ClientId: uniqueId,
      };
      if (a.displayName === '') delete a.displayName;
      if (a.description === '') delete a.description;
      d.serviceAccounts[e] = a;
      ctx.state.changed();
      return ok(a);
    }),
    route('iam', 'GET', '/v1/projects/{project}/serviceAccounts', (req) => {
      const items = Object.keys(d.serviceAccounts)
        .sort()
        .map((k) => d.serviceAccounts[k]);
      return ok(page(items, req.query, 'accounts', 20, 100));
    }),
    route('iam', 'GET', '/v1/projects/{project}/serviceAccounts/{account}', (req) => ok(account(req.params))),
    route('iam', 'PATCH', '/v1/projects/{project}/serviceAccounts/{account}', (req) => {
      const a = account(req.params);
      const paths = maskPaths(req.body.updateMask);
      if (!paths) throw invalidArgument('update_mask', 'is required');
      const next = applyMask(a, (req.body.serviceAccount ?? {}) as Json, paths, ['displayName', 'description']);
      next.etag = Buffer.from(etagOf(next).slice(0, 8)).toString('base64');
      d.serviceAccounts[a.email as string] = next;
      ctx.state.changed();
      return ok(next);
    }),
    route('iam', 'DELETE', '/v1/projects/{project}/serviceAccounts/{account}', (req) => {
      const a = account(req.params);
      delete d.serviceAccounts[a.email as string];
      delete d.policies[`projects/${ctx.projectId}/serviceAccounts/${a.email as string}`];
      // As on GCP, bindings keep a deleted account as `deleted:serviceAccount:EMAIL?uid=ID`.
      const member = `serviceAccount:${a.email as string}`;
      for (const policy of Object.values(d.policies)) {
        for (const b of (policy.bindings ?? []) as Json[]) {
          b.members = ((b.members ?? []) as string[]).map((m) =>
            m === member ? `deleted:${member}?uid=${a.uniqueId as string}` : m,
          );
        }
      }
      ctx.state.changed();
      return ok({});
    }),
    route('cloudresourcemanager', 'GET', '/v3/projects/{project}', (req) => {
      resolve(`projects/${req.params.project}`);
      return ok({
        name: `projects/${ctx.projectNumber}`,
        parent: 'organizations/100000000001',
        projectId: ctx.projectId,
        state: 'ACTIVE',
        displayName: ctx.projectId,
        createTime: '2024-01-01T00:00:00Z',
        etag: 'W/"sim"',
      });
    }),
    route('cloudresourcemanager', 'POST', '/v3/projects/{project}:getIamPolicy', (req) =>
      getPolicy(`projects/${req.params.project}`),
    ),
    route('cloudresourcemanager', 'POST', '/v3/projects/{project}:setIamPolicy', (req) =>
      setPolicy(`projects/${req.params.project}`, req.body),
    ),
    route('cloudresourcemanager', 'POST', '/v1/projects/{project}:getIamPolicy', (req) =>
      getPolicy(`projects/${req.params.project}`),
    ),
    route('cloudresourcemanager', 'POST', '/v1/projects/{project}:setIamPolicy', (req) =>
      setPolicy(`projects/${req.params.project}`, req.body),
    ),
    route('iam', '*', '/{version}/{resource=**}:getIamPolicy', (req) => getPolicy(resourceOf(req))),
    route('iam', 'POST', '/{version}/{resource=**}:setIamPolicy', (req) => setPolicy(resourceOf(req), req.body)),
    route('iam', 'POST', '/{version}/{resource=**}:testIamPermissions', (req) => {
      resolve(resourceOf(req));
      return ok({ permissions: (req.body.permissions ?? []) as string[] });
    }),
  ];
}

/**
 * Refuses a service account of this project that does not exist (GCP checks that the caller may act
 * as it, which fails for a missing one). Accounts of other projects and Google's default ones pass.
 */
export function checkServiceAccount(ctx: SimContext, email: unknown, field: string): void {
  if (typeof email !== 'string' || email === '') return;
  if (email.endsWith(`@${ctx.projectId}.iam.gserviceaccount.com`) && !ctx.state.data.serviceAccounts[email])
    throw invalidArgument(field, `Service account ${email} does not exist.`);
}

/** Whether `member` holds `role` on `resource` or on the project (for invoker checks). */
export function holdsRole(ctx: SimContext, resource: string, member: string, roles: readonly string[]): boolean {
  for (const key of [resource, `projects/${ctx.projectId}`]) {
    const bindings = (ctx.state.data.policies[key]?.bindings ?? []) as Json[];
    if (bindings.some((b) => roles.includes(b.role as string) && ((b.members ?? []) as string[]).includes(member)))
      return true;
  }
  return false;
}

/** The project's starting policy: one owner. */
export function seedProjectPolicy(ctx: SimContext): void {
  const key = `projects/${ctx.projectId}`;
  ctx.state.data.policies[key] ??= {
    version: 1,
    etag: 'BwYAAAAAAAA=',
    bindings: [{ role: 'roles/owner', members: ['user:owner@keelson.example'] }],
  };
}
