import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  specOf,
} from '../../sdk/index.ts';
import { isAlreadyExists, isNotFound } from '../client/errors.ts';
import { isOwnedBy, ownershipLabels, userLabels } from '../ownership.ts';
import {
  compact,
  durationOf,
  durations,
  fieldChanged,
  type GcpRuntime,
  labelledBase,
  numberOf,
  requireKnown,
  shortName,
  signalOf,
  toDuration,
  unowned,
  wanted,
} from './common.ts';
import { labelsField } from './schema-parts.ts';

export const SUBSCRIPTION_KIND = 'gcp.PubSubSubscription';

const duration = (description: string, extra: Record<string, unknown> = {}) =>
  ({ type: 'string', pattern: '^\\d+(\\.\\d+)?s$', description, ...extra }) as const;

export const subscriptionSchema = defineKind({
  kind: SUBSCRIPTION_KIND,
  description:
    'A Pub/Sub subscription (named like the resource): pull, or push with an OIDC token; retry policy, dead-letter topic, filter, ordering.',
  spec: {
    topic: {
      type: 'string',
      required: true,
      referenceable: true,
      replaceOnChange: true,
      description: 'The topic: `{ ref: gcp.PubSubTopic/NAME, output: name }`, or `projects/P/topics/T`.',
    },
    ackDeadlineSeconds: { type: 'integer', minimum: 10, maximum: 600, default: 10 },
    messageRetentionDuration: duration('How long unacknowledged messages are kept. Default 604800s (7 days).', {
      default: '604800s',
    }),
    retainAckedMessages: { type: 'boolean', default: false },
    enableMessageOrdering: { type: 'boolean', default: false, replaceOnChange: true },
    filter: { type: 'string', replaceOnChange: true, description: 'Only messages whose attributes match.' },
    pushConfig: {
      type: 'object',
      description: 'Push delivery; leave out for a pull subscription.',
      properties: {
        pushEndpoint: { type: 'string', required: true, referenceable: true },
        oidcToken: {
          type: 'object',
          properties: {
            serviceAccountEmail: { type: 'string', required: true, referenceable: true },
            audience: { type: 'string', referenceable: true },
          },
        },
      },
    },
    retryPolicy: {
      type: 'object',
      description: 'Backoff between redeliveries (default: immediate redelivery).',
      properties: {
        minimumBackoff: duration('Default 10s.'),
        maximumBackoff: duration('Default 600s.'),
      },
    },
    deadLetterPolicy: {
      type: 'object',
      properties: {
        deadLetterTopic: { type: 'string', required: true, referenceable: true },
        maxDeliveryAttempts: { type: 'integer', minimum: 5, maximum: 100, default: 5 },
      },
    },
    labels: labelsField,
  },
  outputs: {
    name: { type: 'string', computed: true, description: 'Full name, `projects/P/subscriptions/S`.' },
    id: { type: 'string', computed: true },
  },
  replaceOrder: {
    order: 'delete-first',
    why: 'a Pub/Sub subscription is named by its id, unique in the project: the old subscription must go before the new one can take its name',
  },
});

interface Subscription {
  name?: string;
  topic?: string;
  labels?: Record<string, string> | null;
  ackDeadlineSeconds?: number;
  messageRetentionDuration?: unknown;
  retainAckedMessages?: boolean;
  enableMessageOrdering?: boolean;
  filter?: string;
  pushConfig?: {
    pushEndpoint?: string;
    oidcToken?: { serviceAccountEmail?: string; audience?: string } | null;
  } | null;
  retryPolicy?: { minimumBackoff?: unknown; maximumBackoff?: unknown } | null;
  deadLetterPolicy?: { deadLetterTopic?: string; maxDeliveryAttempts?: number } | null;
}

const MASK: Record<string, string> = {
  ackDeadlineSeconds: 'ack_deadline_seconds',
  messageRetentionDuration: 'message_retention_duration',
  retainAckedMessages: 'retain_acked_messages',
  pushConfig: 'push_config',
  retryPolicy: 'retry_policy',
  deadLetterPolicy: 'dead_letter_policy',
  labels: 'labels',
};

/** Pub/Sub subscriptions: one paged list per observe. */
export class PubSubSubscriptionHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #path(name: string): string {
    return `${this.#rt.api.project}/subscriptions/${name}`;
  }

  #topicPath(topic: unknown): unknown {
    return typeof topic === 'string' && !topic.includes('/') ? `${this.#rt.api.project}/topics/${topic}` : topic;
  }

  /** A short topic name means a topic of this project. */
  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...spec, topic: this.#topicPath(spec.topic) };
    const dl = spec.deadLetterPolicy as Record<string, unknown> | undefined;
    if (dl) out.deadLetterPolicy = { ...dl, deadLetterTopic: this.#topicPath(dl.deadLetterTopic) };
    return out;
  }

  #observed(ctx: HandlerContext, s: Subscription): ObservedResource {
    const name = shortName(s.name);
    const push = s.pushConfig?.pushEndpoint
      ? {
          pushEndpoint: s.pushConfig.pushEndpoint,
          ...(s.pushConfig.oidcToken?.serviceAccountEmail
            ? {
                oidcToken: compact({
                  serviceAccountEmail: s.pushConfig.oidcToken.serviceAccountEmail,
                  audience: s.pushConfig.oidcToken.audience || undefined,
                }),
              }
            : {}),
        }
      : undefined;
    const retry =
      s.retryPolicy && (s.retryPolicy.minimumBackoff || s.retryPolicy.maximumBackoff)
        ? compact({
            minimumBackoff: durationOf(s.retryPolicy.minimumBackoff),
            maximumBackoff: durationOf(s.retryPolicy.maximumBackoff),
          })
        : undefined;
    const deadLetter = s.deadLetterPolicy?.deadLetterTopic
      ? {
          deadLetterTopic: s.deadLetterPolicy.deadLetterTopic,
          maxDeliveryAttempts: s.deadLetterPolicy.maxDeliveryAttempts || 5,
        }
      : undefined;
    return {
      ...labelledBase(SUBSCRIPTION_KIND, name, s.name ?? name, s.labels, ctx, this.#rt),
      spec: compact({
        topic: s.topic,
        ackDeadlineSeconds: numberOf(s.ackDeadlineSeconds) || 10,
        messageRetentionDuration: durationOf(s.messageRetentionDuration) ?? '604800s',
        retainAckedMessages: s.retainAckedMessages === true,
        enableMessageOrdering: s.enableMessageOrdering === true,
        filter: s.filter || undefined,
        pushConfig: push,
        retryPolicy: retry,
        deadLetterPolicy: deadLetter,
        labels: userLabels(s.labels),
      }),
      outputs: { name: s.name, id: name },
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const api = this.#rt.api;
    const subs = await api.list<Subscription>(
      'list Pub/Sub subscriptions',
      api.clients.subscriber(),
      'listSubscriptions',
      { project: api.project },
      signalOf(ctx),
    );
    const names = new Set(query.names);
    return subs.filter((s) => wanted(names, shortName(s.name), s.labels, ctx.owner)).map((s) => this.#observed(ctx, s));
  }

  #body(ctx: HandlerContext, desired: ResolvedResource): Record<string, unknown> {
    const spec = specOf(subscriptionSchema, desired);
    const dl = spec.deadLetterPolicy;
    return compact<Record<string, unknown>>({
      name: this.#path(desired.name),
      topic: this.#topicPath(spec.topic),
      labels: ownershipLabels(spec.labels, ctx.owner, desired.protect),
      ackDeadlineSeconds: spec.ackDeadlineSeconds,
      messageRetentionDuration: toDuration(spec.messageRetentionDuration),
      retainAckedMessages: spec.retainAckedMessages,
      enableMessageOrdering: spec.enableMessageOrdering,
      filter: spec.filter,
      // Never expire for inactivity (Google's default deletes an idle subscription after 31 days).
      expirationPolicy: {},
      pushConfig: spec.pushConfig ?? {},
      retryPolicy: spec.retryPolicy
        ? durations({ ...spec.retryPolicy }, ['minimumBackoff', 'maximumBackoff'])
        : undefined,
      deadLetterPolicy: dl ? { ...dl, deadLetterTopic: this.#topicPath(dl.deadLetterTopic) } : undefined,
    });
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    requireKnown(desired);
    const api = this.#rt.api;
    try {
      const [sub] = await api.call<[Subscription]>(
        `create subscription ${desired.name}`,
        desired.key,
        (gax) => api.clients.subscriber().createSubscription(this.#body(ctx, desired), gax),
        { idempotent: false, ...signalOf(ctx) },
      );
      return this.#observed(ctx, sub);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    const [existing] = await api.call<[Subscription]>(`read subscription ${desired.name}`, desired.key, (gax) =>
      api.clients.subscriber().getSubscription({ subscription: this.#path(desired.name) }, gax),
    );
    if (isOwnedBy(existing.labels, ctx.owner)) return this.#observed(ctx, existing);
    if (!desired.adopt) throw unowned(desired, 'subscription', desired.name);
    return this.update(
      ctx,
      desired,
      this.#observed(ctx, existing),
      Object.keys(MASK).map((path) => ({ path }) as FieldChange),
    );
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    _observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    requireKnown(desired);
    const api = this.#rt.api;
    const paths = ['labels'];
    for (const [field, path] of Object.entries(MASK))
      if (field !== 'labels' && fieldChanged(changes, field)) paths.push(path);
    const [sub] = await api.call<[Subscription]>(
      `update subscription ${desired.name}`,
      desired.key,
      (gax) =>
        api.clients
          .subscriber()
          .updateSubscription({ subscription: this.#body(ctx, desired), updateMask: { paths } }, gax),
      signalOf(ctx),
    );
    return this.#observed(ctx, sub);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const api = this.#rt.api;
    await deleteIgnoringMissing(
      () =>
        api.call(
          `delete subscription ${observed.name}`,
          observed.key,
          (gax) => api.clients.subscriber().deleteSubscription({ subscription: this.#path(observed.name) }, gax),
          signalOf(ctx),
        ),
      isNotFound,
    );
  }
}
