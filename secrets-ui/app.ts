import { createHmac, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SECRET_NAME_PATTERN } from '../providers/sdk/index.ts';
import type { AuditTrail } from './audit.ts';
import { ALPHABETS, type AlphabetName, generateValue, MAX_LENGTH, MIN_LENGTH } from './generate.ts';
import type { Inventory } from './inventory.ts';
import type { KeelsonClient, KeelsonStatus } from './keelson-client.ts';
import type { OidcClient } from './oidc.ts';
import {
  auditTable,
  type ConsumerState,
  layout,
  listPage,
  messagePage,
  type SecretRow,
  STYLESHEET,
  secretPage,
} from './pages.ts';
import type { SecretStore } from './secret-store.ts';
import {
  CookieSealer,
  cookie,
  LOGIN_COOKIE,
  parseCookies,
  randomToken,
  SESSION_COOKIE,
  type Session,
} from './session.ts';

/** Everything the application is built from; `server.ts` makes these from the environment. */
export interface SecretsUiOptions {
  /** `https://secrets.example.com`: the only origin form posts are accepted from. */
  readonly publicUrl: string;
  readonly oidc: OidcClient;
  readonly sessionSecret: string;
  readonly store: SecretStore;
  readonly audit: AuditTrail;
  readonly keelson: KeelsonClient;
  /** The secrets and consumers of the desired state (read again on each page). */
  readonly inventory: () => Inventory;
  /** One JSON object per event; never carries a value. Default: a JSON line on stdout. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** Session lifetime in seconds. Default 8 hours. */
  readonly sessionSeconds?: number;
}

const MAX_VALUE = 64 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    session?: Session;
  }
}

/**
 * The Secrets UI as a Fastify app, built without listening (tests inject or listen on loopback).
 * Every page is rendered on the server; the browser never gets an API that could read a value.
 */
export function buildSecretsUi(options: SecretsUiOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: MAX_VALUE * 2 });
  const sealer = new CookieSealer(options.sessionSecret);
  const origin = new URL(options.publicUrl).origin;
  const https = origin.startsWith('https:');
  const ttl = options.sessionSeconds ?? 8 * 3600;
  const log =
    options.log ?? ((event) => process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...event })}\n`));

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.header(
      'content-security-policy',
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    reply.header('x-content-type-options', 'nosniff');
    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on our own form posts.
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
    reply.header('cache-control', 'no-store');
    if (https) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
  });

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).header('content-type', 'text/html; charset=utf-8').send(body);
  const refuse = (reply: FastifyReply, name: string) =>
    html(
      reply,
      403,
      messagePage(
        'Not allowed',
        `You are signed in as ${name}, who is not a member of the group "${options.oidc.settings.group}". Only its members can see or change secrets. Ask an administrator to add you to the group if you need access.`,
        { href: '/auth/login', text: 'Sign in as someone else' },
      ),
    );

  // Every request but the public ones re-reads the session and asks the identity provider again
  // whether its holder is still in the group.
  const open = new Set(['/app.css', '/healthz', '/auth/login', '/auth/callback']);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] as string;
    if (open.has(path)) return;
    const payload = await sealer.open(parseCookies(request.headers.cookie).get(SESSION_COOKIE), 'session');
    if (!payload) {
      if (request.method === 'GET') return reply.redirect('/auth/login', 302);
      return html(reply, 403, messagePage('Refused', 'This request has no valid session. Open the page again.'));
    }
    let session = payload as unknown as Session;
    let member: boolean | undefined;
    try {
      member = (await options.oidc.identity(session.accessToken, session.sub)).member;
    } catch {
      // The access token expired or was revoked: one refresh, which fails when the session was
      // ended at the provider.
      if (session.refreshToken) {
        try {
          const fresh = await options.oidc.refresh(session.refreshToken);
          session = { ...session, ...fresh };
          member = (await options.oidc.identity(session.accessToken, session.sub)).member;
          reply.header(
            'set-cookie',
            cookie(SESSION_COOKIE, await sealer.seal({ ...session }, 'session', ttl), {
              maxAge: ttl,
              sameSite: 'Strict',
            }),
          );
        } catch (error) {
          member = undefined;
          const e = error as { message: string; error?: string; error_description?: string };
          log({
            event: 'session ended',
            user: session.name,
            reason: e.error ? `${e.error}: ${e.error_description ?? ''}` : e.message,
          });
        }
      }
    }
    if (member === undefined) {
      reply.header('set-cookie', cookie(SESSION_COOKIE, '', { maxAge: 0, sameSite: 'Strict' }));
      if (request.method === 'GET') return reply.redirect('/auth/login', 302);
      return html(reply, 403, messagePage('Refused', 'Your session has ended. Sign in again.'));
    }
    if (!member) {
      log({ event: 'refused', user: session.name, path });
      return refuse(reply, session.name);
    }
    request.session = session;
  });

  app.get('/app.css', async (_request, reply) =>
    reply.header('content-type', 'text/css; charset=utf-8').send(STYLESHEET),
  );
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/auth/login', async (_request, reply) => {
    const { url, transaction } = await options.oidc.start();
    reply.header(
      'set-cookie',
      cookie(LOGIN_COOKIE, await sealer.seal({ ...transaction }, 'login', 600), { maxAge: 600, sameSite: 'Lax' }),
    );
    return reply.redirect(url, 302);
  });

  app.get('/auth/callback', async (request, reply) => {
    const cookies = parseCookies(request.headers.cookie);
    const tx = await sealer.open(cookies.get(LOGIN_COOKIE), 'login');
    reply.header('set-cookie', cookie(LOGIN_COOKIE, '', { maxAge: 0, sameSite: 'Lax' }));
    if (!tx)
      return html(
        reply,
        400,
        messagePage('Sign-in failed', 'The sign-in took too long or was not started here.', {
          href: '/auth/login',
          text: 'Sign in again',
        }),
      );
    let result: Awaited<ReturnType<OidcClient['finish']>>;
    try {
      result = await options.oidc.finish(new URL(request.url, origin), {
        verifier: String(tx.verifier),
        state: String(tx.state),
        nonce: String(tx.nonce),
      });
    } catch (error) {
      log({ event: 'sign-in failed', reason: (error as Error).message });
      return html(
        reply,
        400,
        messagePage('Sign-in failed', `The identity provider's answer was not accepted: ${(error as Error).message}`, {
          href: '/auth/login',
          text: 'Sign in again',
        }),
      );
    }
    const { identity } = result;
    if (!identity.member) {
      log({ event: 'refused', user: identity.name, path: '/auth/callback' });
      return refuse(reply, identity.name);
    }
    const session: Session = {
      sub: identity.sub,
      name: identity.name,
      accessToken: result.accessToken,
      ...(result.refreshToken ? { refreshToken: result.refreshToken } : {}),
      csrf: randomToken(),
    };
    reply.header('set-cookie', [
      cookie(LOGIN_COOKIE, '', { maxAge: 0, sameSite: 'Lax' }),
      cookie(SESSION_COOKIE, await sealer.seal({ ...session }, 'session', ttl), { maxAge: ttl, sameSite: 'Strict' }),
    ]);
    log({ event: 'signed in', user: identity.name });
    // A same-site step before the first page: the SameSite=Strict session cookie is not sent on a
    // redirect chain that started at the identity provider.
    return html(
      reply,
      200,
      layout({
        title: 'Signed in',
        refresh: 0,
        refreshTo: '/',
        body: '<p><a href="/">Continue to the secrets</a></p>',
      }),
    );
  });

  app.post('/auth/logout', async (request, reply) => {
    const problem = checkForm(request, origin, false);
    if (problem) return html(reply, 403, messagePage('Refused', problem));
    reply.header('set-cookie', cookie(SESSION_COOKIE, '', { maxAge: 0, sameSite: 'Strict' }));
    return html(reply, 200, messagePage('Signed out', 'You are signed out.', { href: '/auth/login', text: 'Sign in' }));
  });

  const rows = async (): Promise<{ rows: SecretRow[]; problems: readonly string[] }> => {
    const inventory = options.inventory();
    const status = await options.keelson.status().catch((error: Error) => error);
    const out = await Promise.all(
      inventory.secrets.map(async (s) => {
        const current = await options.store.latest(s.name);
        const keelsonVersion = status instanceof Error ? undefined : status.versions[s.name];
        return {
          name: s.name,
          current,
          keelsonVersion,
          consumers: s.consumers.map((c) => ({
            ...c,
            status: consumerState(c.key, c.via, s.name, current?.version, status),
          })),
        };
      }),
    );
    return { rows: out, problems: inventory.problems };
  };

  const user = (request: FastifyRequest) => request.session as Session;

  app.get('/', async (request, reply) => {
    const { rows: list, problems } = await rows();
    const pending = list.some((r) => r.consumers.some((c) => c.status.state === 'pending'));
    return html(
      reply,
      200,
      layout({
        title: 'Secrets',
        user: user(request).name,
        csrf: user(request).csrf,
        body: listPage(list, problems),
        ...(pending ? { refresh: 2 } : {}),
      }),
    );
  });

  app.get('/audit', async (request, reply) => {
    const entries = await options.audit.list(200);
    return html(
      reply,
      200,
      layout({ title: 'Audit trail', user: user(request).name, csrf: user(request).csrf, body: auditTable(entries) }),
    );
  });

  app.get<{ Params: { name: string }; Querystring: { rotated?: string } }>('/secrets/:name', async (request, reply) => {
    const { rows: list } = await rows();
    const row = list.find((r) => r.name === request.params.name);
    if (!row)
      return html(
        reply,
        404,
        messagePage('Not found', 'The desired state references no secret of this name.', {
          href: '/',
          text: 'All secrets',
        }),
      );
    const session = user(request);
    const audit = (await options.audit.list(200)).filter((e) => e.secret === row.name);
    const pending = row.consumers.some((c) => c.status.state === 'pending');
    const rotated = request.query.rotated;
    const notice =
      rotated && /^\d+$/.test(rotated)
        ? `Version ${rotated} written. keelson was asked to reconcile; consumers turn green as they get it.`
        : undefined;
    return html(
      reply,
      200,
      layout({
        title: `Secret ${row.name}`,
        user: session.name,
        csrf: session.csrf,
        ...(pending ? { refresh: 2 } : {}),
        body: secretPage({
          row,
          audit,
          csrf: session.csrf,
          formId: formId(session.csrf),
          ...(notice ? { notice } : {}),
        }),
      }),
    );
  });

  app.post<{ Params: { name: string }; Body: Record<string, string> }>(
    '/secrets/:name/rotate',
    async (request, reply) => {
      const session = user(request);
      const name = request.params.name;
      const problem = checkForm(request, origin, true);
      if (problem) {
        log({ event: 'refused form', user: session.name, secret: name, reason: problem });
        return html(reply, 403, messagePage('Refused', problem));
      }
      const known = SECRET_NAME_PATTERN.test(name) && options.inventory().secrets.some((s) => s.name === name);
      if (!known)
        return html(reply, 404, messagePage('Not found', 'The desired state references no secret of this name.'));
      const body = request.body ?? {};
      let value: string;
      let how: string;
      if (body.mode === 'typed') {
        value = body.value ?? '';
        how = 'typed';
        if (value.length === 0 || value.length > MAX_VALUE)
          return html(
            reply,
            400,
            messagePage('Not written', `Type a value of 1 to ${MAX_VALUE} characters, or choose a generated one.`, {
              href: `/secrets/${encodeURIComponent(name)}`,
              text: 'Back',
            }),
          );
      } else {
        const length = Number(body.length);
        const alphabet = body.alphabet as AlphabetName;
        if (
          !Object.hasOwn(ALPHABETS, alphabet) ||
          !Number.isInteger(length) ||
          length < MIN_LENGTH ||
          length > MAX_LENGTH
        )
          return html(
            reply,
            400,
            messagePage(
              'Not written',
              `Choose a length from ${MIN_LENGTH} to ${MAX_LENGTH} and one of the alphabets.`,
              { href: `/secrets/${encodeURIComponent(name)}`, text: 'Back' },
            ),
          );
        value = generateValue(length, alphabet);
        how = `generated (${length}, ${alphabet})`;
      }
      // Claimed only now that the post is well-formed, so a typo does not burn the form.
      if (!(await options.audit.claimForm(String(body.form))))
        return html(
          reply,
          409,
          messagePage(
            'Already submitted',
            'This form was already submitted. Open the secret again to make another change.',
            { href: `/secrets/${encodeURIComponent(name)}`, text: 'Open the secret' },
          ),
        );
      let version: string;
      try {
        version = (await options.store.addVersion(name, value)).version;
      } catch (error) {
        log({ event: 'rotation failed', user: session.name, secret: name, reason: (error as Error).message });
        return html(
          reply,
          502,
          messagePage('Not written', `The secret store refused the new version: ${(error as Error).message}`),
        );
      }
      value = '';
      const pass = await options.keelson.requestPass();
      const keelson = pass.ok ? 'reconcile requested' : pass.error;
      await options.audit.record({
        secret: name,
        actor: session.name,
        action: 'rotate',
        how,
        version,
        at: new Date().toISOString(),
        keelson,
      });
      log({ event: 'rotated', user: session.name, secret: name, version, how, keelson });
      return reply.redirect(`/secrets/${encodeURIComponent(name)}?rotated=${version}`, 303);
    },
  );

  /** A form id valid only for this session: random part + HMAC with the session's CSRF token. */
  function formId(csrf: string): string {
    const id = randomToken();
    return `${id}.${createHmac('sha256', csrf).update(id).digest('base64url')}`;
  }

  /** Why a form post is refused (forged or cross-site), or undefined when it is acceptable. */
  function checkForm(request: FastifyRequest, expectedOrigin: string, needsFormId: boolean): string | undefined {
    const refused = 'The form was not sent from this application (cross-site or forged request).';
    const headerOrigin = request.headers.origin;
    if (headerOrigin !== undefined && headerOrigin !== expectedOrigin) return refused;
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return refused;
    const body = (request.body ?? {}) as Record<string, string>;
    const session = request.session;
    if (!session || !equal(String(body.csrf ?? ''), session.csrf)) return refused;
    if (!needsFormId) return undefined;
    const [id, mac] = String(body.form ?? '').split('.');
    if (!id || !mac || !equal(mac, createHmac('sha256', session.csrf).update(id).digest('base64url'))) return refused;
    return undefined;
  }

  return app;
}

function equal(a: string, b: string): boolean {
  const x = createHmac('sha256', 'cmp').update(a).digest();
  const y = createHmac('sha256', 'cmp').update(b).digest();
  return timingSafeEqual(x, y);
}

/**
 * One consumer against keelson's status: an error keelson reports for it (or for the secret object
 * it reads through) is shown as is; otherwise it is current when keelson's last completed pass used
 * the store's newest version (Secret Manager's, or the directory store's version file). keelson's
 * env source has no versions, so it cannot say.
 */
export function consumerState(
  key: string,
  via: readonly string[],
  name: string,
  current: string | undefined,
  status: KeelsonStatus | Error,
): ConsumerState {
  if (status instanceof Error) return { state: 'unknown', why: `keelson's status is unavailable: ${status.message}` };
  const error = status.lastErrors.find(
    (e) => e.resource === key || (e.resource !== undefined && via.includes(e.resource)),
  );
  if (error) return { state: 'failed', error: error.message };
  // Secret Manager versions, or the directory store's version files (keelson's dir source reads them).
  if (status.source !== 'secret-manager' && status.source !== 'dir')
    return { state: 'unknown', why: `keelson's ${status.source} source reports no versions` };
  if (!current) return { state: 'unknown', why: 'no version written yet' };
  const pin = status.pinned[name];
  if (pin && pin !== 'latest' && pin !== current)
    return { state: 'unknown', why: `keelson is pinned to version ${pin} (KEELSON_SECRET_MANAGER_VERSIONS)` };
  return status.versions[name] === current ? { state: 'current' } : { state: 'pending' };
}
