/** The Aircall webhook events this Worker stores (Aircall sends `resource.action` names). */
export const ACCEPTED_RESOURCES = ['call', 'contact', 'user', 'number', 'message'] as const;

/** An Aircall webhook body: `{resource, event, timestamp, token, data}`. */
export interface AircallEvent {
  readonly resource: (typeof ACCEPTED_RESOURCES)[number];
  readonly event: string;
  /** Unix seconds. */
  readonly timestamp: number;
  readonly token: string;
  readonly data: { readonly id: number | string } & Record<string, unknown>;
}

/** Checks the shape of a parsed body; returns every problem found, or the event. */
export function parseAircallEvent(body: unknown): { event: AircallEvent } | { problems: string[] } {
  const problems: string[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { problems: ['body must be a JSON object'] };
  const b = body as Record<string, unknown>;
  if (!ACCEPTED_RESOURCES.includes(b.resource as never))
    problems.push(`resource must be one of ${ACCEPTED_RESOURCES.join(', ')}`);
  if (typeof b.event !== 'string' || !b.event.startsWith(`${String(b.resource)}.`)) {
    problems.push('event must be "<resource>.<action>"');
  }
  if (typeof b.timestamp !== 'number' || !Number.isInteger(b.timestamp) || b.timestamp <= 0) {
    problems.push('timestamp must be a positive integer (unix seconds)');
  }
  if (typeof b.token !== 'string') problems.push('token is missing');
  const data = b.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null || (typeof data.id !== 'number' && typeof data.id !== 'string')) {
    problems.push('data.id is missing');
  }
  return problems.length > 0 ? { problems } : { event: body as AircallEvent };
}

/** The Firestore document for an event: flat fields for queries, plus the original data. */
export function toDocument(event: AircallEvent): Record<string, unknown> {
  const d = event.data;
  const doc: Record<string, unknown> = {
    source: 'aircall',
    resource: event.resource,
    event: event.event,
    occurredAt: new Date(event.timestamp * 1000),
    receivedAt: new Date(),
    objectId: String(d.id),
    data: d,
  };
  if (event.resource === 'call') {
    doc.direction = typeof d.direction === 'string' ? d.direction : null;
    doc.status = typeof d.status === 'string' ? d.status : null;
    doc.durationSeconds = typeof d.duration === 'number' ? d.duration : null;
    doc.phoneNumber = typeof d.raw_digits === 'string' ? d.raw_digits : null;
  }
  return doc;
}

/** Stable id: the same event delivered twice writes the same document. */
export function documentId(event: AircallEvent): string {
  return `${event.event}-${String(event.data.id)}-${event.timestamp}`;
}
