import { randomBytes } from 'node:crypto';
import { BadJson, type SimRequest, type SimResponse, startJsonServer } from '../shared/json-server.ts';

/**
 * A stateful simulator of the parts of RocketChat keelson's flows touch: users who log in over the
 * REST API (`/api/v1/login`, then `X-Auth-Token` / `X-User-Id`), rooms, messages posted with
 * `/api/v1/chat.postMessage` (threads with `tmid`), outgoing-webhook integrations that POST a
 * message to their URLs with their token when it starts with a trigger word (retried like
 * RocketChat retries failed calls), and a way for tests to type, edit and delete messages as a user.
 * Message documents have the shape RocketChat stores in MongoDB's `rocketchat_message`; every write
 * goes through `messageStore` (the MongoDB simulator, for the change-stream flow) when one is given.
 */

export interface RcUser {
  readonly _id: string;
  readonly username: string;
  readonly name: string;
  readonly password: string;
}

/** A message document as RocketChat keeps it in `rocketchat_message`. */
export interface RcMessage {
  _id: string;
  rid: string;
  msg: string;
  ts: Date;
  u: { _id: string; username: string; name: string };
  _updatedAt: Date;
  tmid?: string;
  /** System message type (`uj` user joined, `ul` left, ...); absent for user messages. */
  t?: string;
  editedAt?: Date;
  editedBy?: { _id: string; username: string };
  alias?: string;
  bot?: { i: string };
  mentions: { _id: string; username: string }[];
}

export interface OutgoingIntegration {
  readonly _id: string;
  readonly name: string;
  /** `#room` names, or `all_public_channels`. */
  readonly channel: readonly string[];
  readonly triggerWords: readonly string[];
  readonly urls: readonly string[];
  readonly token: string;
  /** The user it posts its answers as. */
  readonly username: string;
  /** Trigger words anywhere in the message, not only at its start. Default false. */
  readonly triggerWordAnywhere?: boolean;
  enabled: boolean;
  /** Retries after a failed call (RocketChat's default: 6, when retrying failed calls is on). */
  readonly retryCount: number;
}

/** One webhook call made (or given up) by an integration. */
export interface Delivery {
  readonly integration: string;
  readonly messageId: string;
  readonly attempt: number;
  readonly status: number | 'network-error';
}

/** Where message writes go; the MongoDB simulator implements it for the change-stream flow. */
export interface MessageStore {
  insert(message: RcMessage): void;
  replace(message: RcMessage): void;
  remove(id: string): void;
}

export interface RocketChatSimulatorState {
  readonly users: Map<string, RcUser>;
  readonly rooms: Map<string, { _id: string; name: string; t: 'c' | 'p' }>;
  readonly messages: Map<string, RcMessage>;
  readonly integrations: OutgoingIntegration[];
  readonly deliveries: Delivery[];
}

export interface RocketChatSimulatorOptions {
  readonly port?: number;
  /** Users besides `admin` (password `admin-pass`). */
  readonly users?: readonly { username: string; password: string; name?: string }[];
  /** Rooms besides `general` (id `GENERAL`). */
  readonly rooms?: readonly string[];
  readonly messageStore?: MessageStore;
  /** Delay before retry n (1-based). Default RocketChat's powers of ten: 100 ms, 1 s, 10 s, ... */
  readonly retryDelayMs?: (attempt: number) => number;
}

export interface RocketChatSimulator {
  readonly url: string;
  readonly state: RocketChatSimulatorState;
  /** A user types a message in a room (by name), as the RocketChat client would send it. */
  say(username: string, room: string, text: string, options?: { tmid?: string }): RcMessage;
  edit(messageId: string, text: string): RcMessage;
  remove(messageId: string): void;
  /** A system message (`uj`: the user joined the room). */
  join(username: string, room: string): RcMessage;
  addOutgoingIntegration(
    spec: Omit<OutgoingIntegration, '_id' | 'enabled' | 'retryCount'> & { retryCount?: number },
  ): OutgoingIntegration;
  /** Messages of a thread, oldest first. */
  thread(tmid: string): RcMessage[];
  /** Resolves when every webhook call started so far has finished (including its retries). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const ID_CHARS = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';
const randomId = (length = 17) => [...randomBytes(length)].map((b) => ID_CHARS[b % ID_CHARS.length]).join('');

const fail = (status: number, error: string): SimResponse => ({ status, body: { success: false, error } });

export async function startRocketChatSimulator(options: RocketChatSimulatorOptions = {}): Promise<RocketChatSimulator> {
  const state: RocketChatSimulatorState = {
    users: new Map(),
    rooms: new Map([['GENERAL', { _id: 'GENERAL', name: 'general', t: 'c' }]]),
    messages: new Map(),
    integrations: [],
    deliveries: [],
  };
  const tokens = new Map<string, string>(); // authToken -> user id
  const pending = new Set<Promise<void>>();
  const retryDelay = options.retryDelayMs ?? ((n: number) => 10 ** n * 10);

  const addUser = (username: string, password: string, name = username) => {
    const user = { _id: randomId(), username, name, password };
    state.users.set(user._id, user);
    return user;
  };
  addUser('admin', 'admin-pass', 'Administrator');
  for (const u of options.users ?? []) addUser(u.username, u.password, u.name);
  for (const name of options.rooms ?? []) {
    const _id = randomId();
    state.rooms.set(_id, { _id, name, t: 'c' });
  }
  let url = '';

  const userByName = (username: string) => {
    const user = [...state.users.values()].find((u) => u.username === username);
    if (!user) throw new Error(`no RocketChat user ${username}`);
    return user;
  };
  const roomBy = (nameOrId: string) =>
    state.rooms.get(nameOrId) ?? [...state.rooms.values()].find((r) => r.name === nameOrId.replace(/^#/, ''));

  function write(message: RcMessage, kind: 'insert' | 'replace') {
    state.messages.set(message._id, message);
    if (kind === 'insert') options.messageStore?.insert(structuredClone(message));
    else options.messageStore?.replace(structuredClone(message));
  }

  /**
   * One webhook call per URL, as RocketChat's triggerHandler makes it: success is 200, 201 or 202
   * with a non-empty body; a 500 or 410 with a body is not retried (410 disables the integration);
   * anything else (an empty body included) is retried after the delay. A JSON `{text}` answer is
   * posted in the room as the integration's user, marked as a bot message.
   */
  function deliver(integration: OutgoingIntegration, message: RcMessage, triggerWord: string | undefined) {
    const room = state.rooms.get(message.rid);
    const payload = {
      token: integration.token,
      bot: Boolean(message.bot),
      ...(triggerWord ? { trigger_word: triggerWord } : {}),
      channel_id: message.rid,
      channel_name: room?.name,
      message_id: message._id,
      timestamp: message.ts.toISOString(),
      user_id: message.u._id,
      user_name: message.u.username,
      text: message.msg,
      siteUrl: url,
      ...(message.alias ? { alias: message.alias } : {}),
      ...(message.editedAt ? { isEdited: true } : {}),
      ...(message.tmid ? { tmid: message.tmid } : {}),
    };
    const callUrl = async (target: string) => {
      for (let attempt = 1; ; attempt++) {
        if (!integration.enabled) return;
        let status: number | 'network-error' = 'network-error';
        let content = '';
        let contentType = '';
        try {
          const response = await fetch(target, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(payload),
          });
          status = response.status;
          contentType = (response.headers.get('content-type') ?? '').split(';')[0] ?? '';
          content = await response.text();
        } catch {
          status = 'network-error';
        }
        state.deliveries.push({ integration: integration._id, messageId: message._id, attempt, status });
        if (status === 'network-error') return; // RocketChat logs a failed fetch and does not retry it
        if (content && [200, 201, 202].includes(status)) {
          let reply: { text?: unknown } | null = null;
          if (
            ['application/json', 'text/javascript', 'application/javascript', 'application/x-javascript'].includes(
              contentType,
            )
          ) {
            try {
              reply = JSON.parse(content) as { text?: unknown };
            } catch {
              reply = null;
            }
          }
          if (typeof reply?.text === 'string' && reply.text.trim() !== '')
            post(userByName(integration.username), message.rid, reply.text, { bot: { i: integration._id } });
          return;
        }
        if (content && status === 410) {
          integration.enabled = false;
          return;
        }
        if (content && status === 500) return;
        if (attempt > integration.retryCount) return;
        await new Promise((r) => setTimeout(r, retryDelay(attempt)));
      }
    };
    for (const target of integration.urls) {
      const p = callUrl(target).finally(() => pending.delete(p));
      pending.add(p);
    }
  }

  function trigger(message: RcMessage) {
    if (message.t) return;
    const room = state.rooms.get(message.rid);
    for (const integration of state.integrations) {
      if (!integration.enabled) continue;
      const inChannel = integration.channel.some(
        (c) => c === 'all_public_channels' || c === `#${room?.name}` || c === `#${room?._id}`,
      );
      if (!inChannel) continue;
      const word = integration.triggerWords.find((w) =>
        integration.triggerWordAnywhere ? message.msg.includes(w) : message.msg.startsWith(w),
      );
      if (integration.triggerWords.length > 0 && word === undefined) continue;
      deliver(integration, message, word);
    }
  }

  function post(
    user: RcUser,
    rid: string,
    text: string,
    extra: { tmid?: string; alias?: string; bot?: { i: string } },
  ): RcMessage {
    const now = new Date();
    const mentions = [...text.matchAll(/@([\w.-]+)/g)]
      .map((m) => [...state.users.values()].find((u) => u.username === m[1]))
      .filter((u): u is RcUser => u !== undefined)
      .map((u) => ({ _id: u._id, username: u.username }));
    const message: RcMessage = {
      _id: randomId(),
      rid,
      msg: text,
      ts: now,
      u: { _id: user._id, username: user.username, name: user.name },
      _updatedAt: now,
      mentions,
      ...(extra.tmid ? { tmid: extra.tmid } : {}),
      ...(extra.alias ? { alias: extra.alias } : {}),
      ...(extra.bot ? { bot: extra.bot } : {}),
    };
    write(message, 'insert');
    trigger(message);
    return message;
  }

  const rest = (m: RcMessage) => ({
    ...m,
    ts: m.ts.toISOString(),
    _updatedAt: m._updatedAt.toISOString(),
    editedAt: m.editedAt?.toISOString(),
  });

  function route(req: SimRequest): SimResponse {
    if (req.method === 'GET' && req.path === '/api/info')
      return { status: 200, body: { version: '6.12.1', success: true } };
    if (req.method === 'POST' && req.path === '/api/v1/login') {
      const body = (req.json() ?? {}) as { user?: string; username?: string; password?: string };
      const name = body.user ?? body.username;
      const user = [...state.users.values()].find((u) => u.username === name);
      if (!user || user.password !== body.password)
        return { status: 401, body: { status: 'error', error: 'Unauthorized', message: 'Unauthorized' } };
      const authToken = randomBytes(24).toString('base64url');
      tokens.set(authToken, user._id);
      return {
        status: 200,
        body: {
          status: 'success',
          data: { userId: user._id, authToken, me: { _id: user._id, username: user.username, name: user.name } },
        },
      };
    }
    const token = String(req.headers['x-auth-token'] ?? '');
    const userId = String(req.headers['x-user-id'] ?? '');
    const user = tokens.get(token) === userId ? state.users.get(userId) : undefined;
    if (!user) return { status: 401, body: { status: 'error', message: 'You must be logged in to do this.' } };

    if (req.method === 'GET' && req.path === '/api/v1/me')
      return { status: 200, body: { _id: user._id, username: user.username, success: true } };
    if (req.method === 'POST' && req.path === '/api/v1/chat.postMessage') {
      const body = (req.json() ?? {}) as {
        roomId?: string;
        channel?: string;
        text?: string;
        tmid?: string;
        alias?: string;
      };
      const room = roomBy(body.roomId ?? body.channel ?? '');
      if (!room) return fail(400, '[invalid-channel]');
      if (typeof body.text !== 'string' || body.text === '')
        return fail(400, "The 'text' param is required [error-invalid-params]");
      if (body.tmid !== undefined) {
        const parent = state.messages.get(body.tmid);
        if (!parent || parent.rid !== room._id) return fail(400, 'Invalid thread [error-invalid-message]');
      }
      const message = post(user, room._id, body.text, {
        ...(body.tmid ? { tmid: body.tmid } : {}),
        ...(body.alias ? { alias: body.alias } : {}),
      });
      return {
        status: 200,
        body: { ts: message.ts.getTime(), channel: room.name, message: rest(message), success: true },
      };
    }
    if (req.method === 'GET' && req.path === '/api/v1/chat.getMessage') {
      const m = state.messages.get(req.query.get('msgId') ?? '');
      return m
        ? { status: 200, body: { message: rest(m), success: true } }
        : fail(400, 'Message not found [error-not-allowed]');
    }
    if (req.method === 'GET' && req.path === '/api/v1/chat.getThreadMessages') {
      const tmid = req.query.get('tmid') ?? '';
      const messages = [...state.messages.values()].filter((m) => m.tmid === tmid).map(rest);
      return {
        status: 200,
        body: { messages, count: messages.length, offset: 0, total: messages.length, success: true },
      };
    }
    if (req.method === 'POST' && req.path === '/api/v1/integrations.create') {
      const body = (req.json() ?? {}) as Record<string, unknown>;
      if (body.type !== 'webhook-outgoing') return fail(400, 'Invalid integration type. [error-invalid-type]');
      const integration = addOutgoing({
        name: String(body.name ?? 'outgoing'),
        channel: String(body.channel ?? '')
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
        triggerWords: Array.isArray(body.triggerWords) ? (body.triggerWords as string[]) : [],
        urls: Array.isArray(body.urls) ? (body.urls as string[]) : [],
        token: String(body.token ?? randomId(24)),
        username: String(body.username ?? user.username),
      });
      return {
        status: 200,
        body: { integration: { ...integration, type: 'webhook-outgoing', event: 'sendMessage' }, success: true },
      };
    }
    return { status: 404, body: { success: false, error: `Unknown route ${req.method} ${req.path}` } };
  }

  function addOutgoing(spec: Omit<OutgoingIntegration, '_id' | 'enabled' | 'retryCount'> & { retryCount?: number }) {
    const integration: OutgoingIntegration = {
      ...spec,
      _id: randomId(),
      enabled: true,
      retryCount: spec.retryCount ?? 6,
    };
    state.integrations.push(integration);
    return integration;
  }

  const server = await startJsonServer((req) => {
    try {
      return route(req);
    } catch (e) {
      if (e instanceof BadJson) return fail(400, `Invalid JSON: ${e.message}`);
      throw e;
    }
  }, options.port ?? 0);
  url = server.url;

  return {
    url: server.url,
    state,
    say(username, room, text, opts = {}) {
      const r = roomBy(room);
      if (!r) throw new Error(`no RocketChat room ${room}`);
      return post(userByName(username), r._id, text, opts);
    },
    edit(messageId, text) {
      const m = state.messages.get(messageId);
      if (!m) throw new Error(`no message ${messageId}`);
      const now = new Date();
      const edited: RcMessage = {
        ...m,
        msg: text,
        editedAt: now,
        editedBy: { _id: m.u._id, username: m.u.username },
        _updatedAt: now,
      };
      write(edited, 'replace');
      return edited;
    },
    remove(messageId) {
      state.messages.delete(messageId);
      options.messageStore?.remove(messageId);
    },
    join(username, room) {
      const r = roomBy(room);
      const user = userByName(username);
      if (!r) throw new Error(`no RocketChat room ${room}`);
      const now = new Date();
      const message: RcMessage = {
        _id: randomId(),
        rid: r._id,
        t: 'uj',
        msg: user.username,
        ts: now,
        u: { _id: user._id, username: user.username, name: user.name },
        _updatedAt: now,
        mentions: [],
      };
      write(message, 'insert');
      return message;
    },
    addOutgoingIntegration: addOutgoing,
    thread: (tmid) =>
      [...state.messages.values()].filter((m) => m.tmid === tmid).sort((a, b) => a.ts.getTime() - b.ts.getTime()),
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    close: server.close,
  };
}
