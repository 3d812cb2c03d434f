/**
 * What the knowledge base keeps of each kind of source: one text per source object, with a short
 * heading that goes into every chunk so a passage still says what it is about.
 */

export type SourceKind =
  | 'call'
  | 'call-transcription'
  | 'call-summary'
  | 'contact'
  | 'sms'
  | 'reservation'
  | 'conversation'
  | 'listing'
  | 'guest'
  | 'task'
  | 'message'
  | 'question'
  /** A summary of a long text, made by the sync app. */
  | 'summary';

/** One source object to index. `sourceId` is stable across events about the same object. */
export interface KnowledgeItem {
  readonly sourceId: string;
  readonly source: SourceKind;
  readonly heading: string;
  readonly text: string;
  /** When the source last changed (ms): an older event never overwrites newer points. */
  readonly version: number;
  /** Extra payload (the room of a chat message, the document path of a Firestore source). */
  readonly payload: Record<string, string>;
}

export type Extraction =
  | { readonly type: 'index'; readonly item: KnowledgeItem }
  /** Nothing to index in it (a ringing call, a payment): acknowledged, not an error. */
  | { readonly type: 'nothing'; readonly reason: string }
  /** A permanent problem with the document: logged with its path and acknowledged. */
  | { readonly type: 'invalid'; readonly problem: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const lines = (...parts: (string | undefined | false)[]) =>
  parts.filter((p): p is string => typeof p === 'string' && p !== '').join('\n');
const time = (v: unknown): number => {
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isFinite(t) ? t : 0;
};

/** An Aircall event document (`aircall-events/*`, written by the aircall-webhook Worker). */
function aircall(doc: Record<string, unknown>, path: string): Extraction {
  const event = str(doc.event);
  const data = obj(doc.data);
  if (!event) return { type: 'invalid', problem: 'field "event" is missing' };
  const [resource] = event.split('.');
  const version = time(doc.occurredAt);
  const payload = { document: path };
  if (resource === 'call') {
    const contact = obj(data.contact);
    const name = lines(str(contact.first_name), str(contact.last_name)).replace('\n', ' ');
    const comments = list(data.comments)
      .map((c) => str(obj(c).content))
      .filter(Boolean) as string[];
    const tags = list(data.tags)
      .map((t) => str(obj(t).name))
      .filter(Boolean) as string[];
    const user = str(obj(data.user).name);
    const text = lines(
      `${str(data.direction) ?? 'A'} call ${str(data.raw_digits) ? `with ${str(data.raw_digits)}` : ''}${name ? ` (${name})` : ''}${user ? `, answered by ${user}` : ''}, status ${str(data.status) ?? 'unknown'}${typeof data.duration === 'number' ? `, ${data.duration} seconds` : ''}.`,
      comments.length > 0 && `Notes: ${comments.join(' ')}`,
      tags.length > 0 && `Tags: ${tags.join(', ')}`,
    );
    return {
      type: 'index',
      item: {
        sourceId: `aircall:call/${String(data.id)}`,
        source: 'call',
        heading: `Aircall call ${String(data.id)}`,
        text,
        version,
        payload,
      },
    };
  }
  if (resource === 'contact') {
    const name = lines(str(data.first_name), str(data.last_name)).replace('\n', ' ');
    const phones = list(data.phone_numbers)
      .map((p) => str(obj(p).value))
      .filter(Boolean);
    const emails = list(data.emails)
      .map((p) => str(obj(p).value))
      .filter(Boolean);
    const text = lines(
      `Contact ${name || 'without a name'}${str(data.company_name) ? ` at ${str(data.company_name)}` : ''}.`,
      phones.length > 0 && `Phone: ${phones.join(', ')}`,
      emails.length > 0 && `Email: ${emails.join(', ')}`,
      str(data.information) && `Information: ${str(data.information)}`,
    );
    return {
      type: 'index',
      item: {
        sourceId: `aircall:contact/${String(data.id)}`,
        source: 'contact',
        heading: `Aircall contact ${name}`,
        text,
        version,
        payload,
      },
    };
  }
  if (resource === 'message') {
    const body = str(data.body) ?? str(data.content) ?? str(data.text);
    if (!body) return { type: 'nothing', reason: `${event} has no text` };
    const text =
      `${str(data.direction) ?? ''} SMS ${str(data.external_number) ? `with ${str(data.external_number)}` : ''}: ${body}`.trim();
    return {
      type: 'index',
      item: {
        sourceId: `aircall:message/${String(data.id)}`,
        source: 'sms',
        heading: 'Aircall message',
        text,
        version,
        payload,
      },
    };
  }
  if (resource === 'transcription') {
    const content = obj(data.content);
    const utterances = list(content.utterances).map((u) => {
      const o = obj(u);
      return `${str(o.participant_type) ?? 'speaker'}: ${str(o.text) ?? ''}`;
    });
    const text = utterances.length > 0 ? utterances.join('\n') : (str(data.content) ?? '');
    if (!text) return { type: 'nothing', reason: `${event} has no utterances` };
    const callId = String(data.call_id ?? data.id);
    return {
      type: 'index',
      item: {
        sourceId: `aircall:transcription/${callId}`,
        source: 'call-transcription',
        heading: `Transcript of Aircall call ${callId}`,
        text,
        version,
        payload,
      },
    };
  }
  if (resource === 'summary') {
    const text = str(data.content) ?? str(obj(data.content).summary);
    if (!text) return { type: 'nothing', reason: `${event} has no content` };
    const callId = String(data.call_id ?? data.id);
    return {
      type: 'index',
      item: {
        sourceId: `aircall:summary/${callId}`,
        source: 'call-summary',
        heading: `Summary of Aircall call ${callId}`,
        text,
        version,
        payload,
      },
    };
  }
  return { type: 'nothing', reason: `${event} events carry no text for the knowledge base` };
}

/** A Guesty event document (`guesty-events/*`, written by the guesty-webhook Worker). */
function guesty(doc: Record<string, unknown>, path: string): Extraction {
  const event = str(doc.event);
  const p = obj(doc.payload);
  if (!event) return { type: 'invalid', problem: 'field "event" is missing' };
  const version = time(doc.receivedAt);
  const payload = { document: path };
  if (event === 'reservation.messageReceived' || event === 'reservation.messageSent') {
    const message = obj(p.message);
    const conversation = obj(p.conversation);
    const body = str(message.body) ?? str(message.text);
    if (!body) return { type: 'nothing', reason: `${event} has no message body` };
    const id = str(message._id) ?? str(message.id) ?? path;
    const guest = str(obj(conversation.meta).guestName) ?? str(obj(p.guest).fullName);
    const text = `${event.endsWith('Received') ? `Guest${guest ? ` ${guest}` : ''} wrote` : 'We wrote'}: ${body}`;
    return {
      type: 'index',
      item: {
        sourceId: `guesty:conversation-message/${id}`,
        source: 'conversation',
        heading: `Guesty conversation ${str(conversation._id) ?? ''}`.trim(),
        text,
        version,
        payload,
      },
    };
  }
  const [resource] = event.split('.');
  if (resource === 'reservation') {
    const r = obj(p.reservation);
    const id = str(r._id);
    if (!id) return { type: 'invalid', problem: 'payload.reservation._id is missing' };
    const guest = str(obj(r.guest).fullName);
    const listing = str(obj(r.listing).title) ?? str(obj(r.listing).nickname);
    const text = lines(
      `Reservation ${str(r.confirmationCode) ?? id}${guest ? ` for ${guest}` : ''}${listing ? ` at ${listing}` : ''}, status ${str(r.status) ?? 'unknown'}.`,
      (str(r.checkIn) || str(r.checkInDateLocalized)) &&
        `Check-in ${str(r.checkInDateLocalized) ?? str(r.checkIn)}, check-out ${str(r.checkOutDateLocalized) ?? str(r.checkOut)}.`,
      typeof r.guestsCount === 'number' && `${r.guestsCount} guests.`,
      str(r.notes) && `Notes: ${str(r.notes)}`,
    );
    return {
      type: 'index',
      item: {
        sourceId: `guesty:reservation/${id}`,
        source: 'reservation',
        heading: `Guesty reservation ${str(r.confirmationCode) ?? id}`,
        text,
        version,
        payload,
      },
    };
  }
  if (resource === 'listing') {
    const l = obj(p.listing);
    const id = str(l._id);
    if (!id) return { type: 'invalid', problem: 'payload.listing._id is missing' };
    const description = obj(l.publicDescription);
    const text = lines(
      `Listing ${str(l.title) ?? str(l.nickname) ?? id}${str(obj(l.address).full) ? `, ${str(obj(l.address).full)}` : ''}.`,
      str(description.summary),
      str(description.space),
      str(description.houseRules) && `House rules: ${str(description.houseRules)}`,
    );
    return {
      type: 'index',
      item: {
        sourceId: `guesty:listing/${id}`,
        source: 'listing',
        heading: `Guesty listing ${str(l.title) ?? id}`,
        text,
        version,
        payload,
      },
    };
  }
  if (resource === 'guest') {
    const g = obj(p.guest);
    const id = str(g._id);
    if (!id) return { type: 'invalid', problem: 'payload.guest._id is missing' };
    const text = lines(`Guest ${str(g.fullName) ?? id}.`, str(g.notes) && `Notes: ${str(g.notes)}`);
    return {
      type: 'index',
      item: {
        sourceId: `guesty:guest/${id}`,
        source: 'guest',
        heading: `Guesty guest ${str(g.fullName) ?? id}`,
        text,
        version,
        payload,
      },
    };
  }
  if (resource === 'task') {
    const t = obj(p.task);
    const id = str(t._id);
    if (!id) return { type: 'invalid', problem: 'payload.task._id is missing' };
    const text = lines(`Task ${str(t.title) ?? id}, status ${str(t.status) ?? 'unknown'}.`, str(t.description));
    return {
      type: 'index',
      item: {
        sourceId: `guesty:task/${id}`,
        source: 'task',
        heading: `Guesty task ${str(t.title) ?? id}`,
        text,
        version,
        payload,
      },
    };
  }
  return { type: 'nothing', reason: `${event} events carry no text for the knowledge base` };
}

/** A question answered in RocketChat (`llm-queries/*`, written by the llm-query Worker). */
function question(doc: Record<string, unknown>, path: string): Extraction {
  const q = str(doc.question);
  const a = str(doc.answer);
  if (!q) return { type: 'invalid', problem: 'field "question" is missing' };
  if (!a || doc.status === 'answering') return { type: 'nothing', reason: 'not answered yet' };
  if (doc.status === 'failed') return { type: 'nothing', reason: 'the question was not answered' };
  const id = path.split('/').at(-1) ?? path;
  return {
    type: 'index',
    item: {
      sourceId: `qa:${id}`,
      source: 'question',
      heading: 'Question answered in RocketChat',
      text: `Q: ${q}\nA: ${a}`,
      version: time(doc.at),
      payload: { document: path, ...(str(doc.roomId) ? { room: str(doc.roomId) as string } : {}) },
    },
  };
}

/** Collections the function indexes, by collection id (the last collection in the path). */
const BY_COLLECTION: Record<string, (doc: Record<string, unknown>, path: string) => Extraction> = {
  'aircall-events': aircall,
  'guesty-events': guesty,
  'llm-queries': question,
};

/** The knowledge in a Firestore document, given its path below `documents/`. */
export function extractFromDocument(path: string, fields: Record<string, unknown>): Extraction {
  const collection = path.split('/').at(-2) ?? '';
  const extract = BY_COLLECTION[collection];
  if (!extract) return { type: 'nothing', reason: `collection ${collection} is not indexed` };
  // A document the Workers split for size keeps its large fields in parts the event does not carry.
  if (Array.isArray(fields.splitFields))
    return { type: 'nothing', reason: 'split for size: the sync app indexes it from its parts' };
  return extract(fields, path);
}

/** A RocketChat message document (from `rocketchat_message`, published by the listener). */
export function extractFromChatMessage(message: Record<string, unknown>): Extraction {
  const id = str(message._id);
  const rid = str(message.rid);
  if (!id || !rid) return { type: 'invalid', problem: 'message _id or rid is missing' };
  if (str(message.t)) return { type: 'nothing', reason: `system message (${String(message.t)})` };
  const text = str(message.msg);
  if (!text) return { type: 'nothing', reason: 'message has no text' };
  const user = str(obj(message.u).username) ?? 'someone';
  return {
    type: 'index',
    item: {
      sourceId: `rocketchat:${id}`,
      source: 'message',
      heading: `RocketChat message from ${user}`,
      text,
      version: Math.max(time(message._updatedAt), time(message.editedAt), time(message.ts)),
      payload: { room: rid, ...(str(message.tmid) ? { thread: str(message.tmid) as string } : {}) },
    },
  };
}
