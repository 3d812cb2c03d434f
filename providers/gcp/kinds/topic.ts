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
  fieldChanged,
  type GcpRuntime,
  labelledBase,
  shortName,
  signalOf,
  toDuration,
  unowned,
  wanted,
} from './common.ts';
import { labelsField } from './schema-parts.ts';

export const TOPIC_KIND = 'gcp.PubSubTopic';

export const topicSchema = defineKind({
  kind: TOPIC_KIND,
  description: 'A Pub/Sub topic (named like the resource), schema-less; owned through its `keelson-owner` label.',
  spec: {
    labels: labelsField,
    messageRetentionDuration: {
      type: 'string',
      pattern: '^\\d+s$',
      description: 'How long published messages are kept, e.g. `86400s` (10 minutes to 31 days). Default: not kept.',
    },
  },
  outputs: {
    name: { type: 'string', computed: true, description: 'Full name, `projects/P/topics/T`.' },
    id: { type: 'string', computed: true },
  },
});

interface Topic {
  name?: string;
  labels?: Record<string, string> | null;
  messageRetentionDuration?: unknown;
}

/** Pub/Sub topics: one paged list per observe; created with `PUT`, updated with an update mask. */
export class PubSubTopicHandler implements ResourceHandler {
  readonly #rt: GcpRuntime;

  constructor(rt: GcpRuntime) {
    this.#rt = rt;
  }

  #path(name: string): string {
    return `${this.#rt.api.project}/topics/${name}`;
  }

  #observed(ctx: HandlerContext, topic: Topic): ObservedResource {
    const name = shortName(topic.name);
    return {
      ...labelledBase(TOPIC_KIND, name, topic.name ?? name, topic.labels, ctx, this.#rt),
      spec: compact({
        labels: userLabels(topic.labels),
        messageRetentionDuration: durationOf(topic.messageRetentionDuration),
      }),
      outputs: { name: topic.name, id: name },
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    const api = this.#rt.api;
    const topics = await api.list<Topic>(
      'list Pub/Sub topics',
      api.clients.publisher(),
      'listTopics',
      {
        project: api.project,
      },
      signalOf(ctx),
    );
    const names = new Set(query.names);
    return topics
      .filter((t) => wanted(names, shortName(t.name), t.labels, ctx.owner))
      .map((t) => this.#observed(ctx, t));
  }

  async #get(_ctx: HandlerContext, desired: ResolvedResource): Promise<Topic> {
    const api = this.#rt.api;
    const [topic] = await api.call<[Topic]>(`read topic ${desired.name}`, desired.key, (gax) =>
      api.clients.publisher().getTopic({ topic: this.#path(desired.name) }, gax),
    );
    return topic;
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const api = this.#rt.api;
    const body = compact({
      name: this.#path(desired.name),
      labels: ownershipLabels(specOf(topicSchema, desired).labels, ctx.owner, desired.protect),
      messageRetentionDuration: toDuration(specOf(topicSchema, desired).messageRetentionDuration),
    });
    try {
      const [topic] = await api.call<[Topic]>(
        `create topic ${desired.name}`,
        desired.key,
        (gax) => api.clients.publisher().createTopic(body, gax),
        { idempotent: false, ...signalOf(ctx) },
      );
      return this.#observed(ctx, topic);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    // It exists: ours from an earlier attempt whose answer was lost, or someone else's.
    const existing = await this.#get(ctx, desired);
    if (isOwnedBy(existing.labels, ctx.owner)) return this.#observed(ctx, existing);
    if (!desired.adopt) throw unowned(desired, 'topic', desired.name);
    return this.update(ctx, desired, this.#observed(ctx, existing), [{ path: 'labels' } as FieldChange]);
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    _observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const api = this.#rt.api;
    const paths = ['labels'];
    if (fieldChanged(changes, 'messageRetentionDuration')) paths.push('message_retention_duration');
    const topic = compact({
      name: this.#path(desired.name),
      labels: ownershipLabels(specOf(topicSchema, desired).labels, ctx.owner, desired.protect),
      messageRetentionDuration: toDuration(specOf(topicSchema, desired).messageRetentionDuration),
    });
    const [updated] = await api.call<[Topic]>(
      `update topic ${desired.name}`,
      desired.key,
      (gax) => api.clients.publisher().updateTopic({ topic, updateMask: { paths } }, gax),
      signalOf(ctx),
    );
    return this.#observed(ctx, updated);
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    const api = this.#rt.api;
    await deleteIgnoringMissing(
      () =>
        api.call(
          `delete topic ${observed.name}`,
          observed.key,
          (gax) => api.clients.publisher().deleteTopic({ topic: this.#path(observed.name) }, gax),
          signalOf(ctx),
        ),
      isNotFound,
    );
  }
}
