/**
 * Aircall webhook events. Aircall sends `{resource, event, timestamp, token, data}` for every event
 * type it has (calls, contacts, users, numbers, messages, and the AI events: transcription,
 * summary, sentiment, topics, action items), and disables a webhook that keeps failing, so every
 * event is stored, the unknown and the malformed ones too (marked as such).
 */

/** Resources whose events the knowledge base reads; others are stored all the same. */
export const KNOWN_RESOURCES = [
  'call',
  'contact',
  'user',
  'number',
  'message',
  'transcription',
  'summary',
  'sentiment',
  'topics',
  'action_items',
];

/** What the Worker stores for one delivery. */
export interface AircallDelivery {
  readonly id: string;
  readonly document: Record<string, unknown>;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Hex SHA-256 of a text (WebCrypto). */
async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Problems with an event's shape (none for a well-formed event of any type). */
export function shapeProblems(b: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof b.event !== 'string' || !/^[a-z_]+\.[a-z_.]+$/.test(b.event))
    problems.push('event must be "<resource>.<action>"');
  if (typeof b.timestamp !== 'number' || !Number.isInteger(b.timestamp) || b.timestamp <= 0)
    problems.push('timestamp must be a positive integer (unix seconds)');
  const data = b.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null || (typeof data.id !== 'number' && typeof data.id !== 'string'))
    problems.push('data.id is missing');
  return problems;
}

/**
 * The Firestore document for a delivery and its stable id: `<event>-<data.id>-<timestamp>` for a
 * well-formed event (a redelivery writes the same document), `malformed-<sha256 of the body>` otherwise.
 */
export async function toDelivery(body: Record<string, unknown>, rawBody: string): Promise<AircallDelivery> {
  const { token: _token, ...event } = body;
  const problems = shapeProblems(event);
  const eventName = str(event.event) ?? 'unknown';
  const resource = str(event.resource) ?? eventName.split('.')[0] ?? 'unknown';
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<string, unknown>;
  const document: Record<string, unknown> = {
    source: 'aircall',
    resource,
    event: eventName,
    known: KNOWN_RESOURCES.includes(resource),
    receivedAt: new Date(),
    data,
  };
  if (problems.length > 0) {
    document.problems = problems;
    return { id: `malformed-${(await sha256(rawBody)).slice(0, 32)}`, document };
  }
  document.occurredAt = new Date((event.timestamp as number) * 1000);
  document.objectId = String(data.id);
  if (resource === 'call') {
    document.direction = str(data.direction) ?? null;
    document.status = str(data.status) ?? null;
    document.durationSeconds = typeof data.duration === 'number' ? data.duration : null;
    document.phoneNumber = str(data.raw_digits) ?? null;
  }
  // Firestore document ids cannot contain "/".
  return { id: `${eventName}-${String(data.id)}-${String(event.timestamp)}`.replace(/\//g, '_'), document };
}
