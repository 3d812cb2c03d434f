import { alreadyExists, invalidArgument, notFound, raise } from './api-error.ts';
import { checkServiceAccount } from './api-iam.ts';
import type { SimContext } from './context.ts';
import { canonical } from './proto-types.ts';
import type { PubSubBroker } from './pubsub-broker.ts';
import { compileFilter } from './pubsub-filter.ts';
import { applyMask, checkId, checkLabels, durationSeconds, maskPaths, page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { Json } from './state.ts';

const ID = /^(?!goog)[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$/;
const ID_HINT =
  'must be 3-255 characters, start with a letter, use letters, digits and - _ . ~ + %, and not start with "goog"';

/** Pub/Sub v1 topics and subscriptions (admin), publish, pull, acknowledge, modifyAckDeadline. */
export function pubsubRoutes(ctx: SimContext, broker: PubSubBroker): Route[] {
  const d = ctx.state.data;
  const topicName = (p: Record<string, string>) => `projects/${p.project}/topics/${p.topic}`;
  const subName = (p: Record<string, string>) => `projects/${p.project}/subscriptions/${p.sub}`;
  const topic = (name: string) => d.topics[name] ?? raise(notFound('Topic', name));
  const sub = (name: string) => d.subscriptions[name] ?? raise(notFound('Subscription', name));
  const save = <T>(v: T): T => {
    ctx.state.changed();
    return v;
  };

  const checkSubscription = (s: Json, field: string): void => {
    checkLabels(s.labels, `${field}.labels`);
    const ack = s.ackDeadlineSeconds;
    if (ack !== undefined && (Number(ack) < 10 || Number(ack) > 600))
      throw invalidArgument(`${field}.ack_deadline_seconds`, 'must be between 10 and 600');
    const dlp = s.deadLetterPolicy as Json | undefined;
    if (dlp) {
      const max = dlp.maxDeliveryAttempts;
      if (max !== undefined && (Number(max) < 5 || Number(max) > 100))
        throw invalidArgument(`${field}.dead_letter_policy.max_delivery_attempts`, 'must be between 5 and 100');
      if (typeof dlp.deadLetterTopic !== 'string' || !/^projects\/[^/]+\/topics\/[^/]+$/.test(dlp.deadLetterTopic))
        throw invalidArgument(`${field}.dead_letter_policy.dead_letter_topic`, 'must be projects/P/topics/T');
    }
    const retry = s.retryPolicy as Json | undefined;
    if (retry) {
      const min = durationSeconds(retry.minimumBackoff, 10);
      const max = durationSeconds(retry.maximumBackoff, 600);
      if (min < 0 || min > 600 || max < 0 || max > 600 || min > max)
        throw invalidArgument(`${field}.retry_policy`, 'backoffs must be between 0s and 600s, minimum <= maximum');
    }
    if (typeof s.filter === 'string' && s.filter !== '') compileFilter(s.filter);
    const push = s.pushConfig as Json | undefined;
    if (push?.pushEndpoint !== undefined && !/^https?:\/\//.test(String(push.pushEndpoint)))
      throw invalidArgument(`${field}.push_config.push_endpoint`, 'must be an http(s) URL');
    checkServiceAccount(
      ctx,
      (push?.oidcToken as Json | undefined)?.serviceAccountEmail,
      `${field}.push_config.oidc_token.service_account_email`,
    );
  };

  const withSubscriptionDefaults = (s: Json): Json => ({
    ...s,
    ackDeadlineSeconds: s.ackDeadlineSeconds ?? 10,
    messageRetentionDuration: s.messageRetentionDuration ?? '604800s',
    expirationPolicy: s.expirationPolicy ?? { ttl: '2678400s' },
    pushConfig: s.pushConfig ?? {},
    state: 'ACTIVE',
  });

  return [
    route('pubsub', 'PUT', '/v1/projects/{project}/topics/{topic}', (req) => {
      const name = topicName(req.params);
      checkId(req.params.topic, 'name', ID, ID_HINT);
      if (d.topics[name]) throw alreadyExists('Topic', name);
      const body = canonical('google.pubsub.v1.Topic', req.body, 'topic');
      checkLabels(body.labels);
      checkTopicRetention(body);
      d.topics[name] = save({ ...body, name, state: 'ACTIVE' });
      return ok(d.topics[name]);
    }),
    route('pubsub', 'GET', '/v1/projects/{project}/topics/{topic}', (req) => ok(topic(topicName(req.params)))),
    route('pubsub', 'PATCH', '/v1/projects/{project}/topics/{topic}', (req) => {
      const name = topicName(req.params);
      const current = topic(name);
      const body = canonical('google.pubsub.v1.UpdateTopicRequest', req.body, 'body');
      const paths = maskPaths(body.updateMask);
      if (!paths) throw invalidArgument('update_mask', 'is required');
      const next = applyMask(current, (body.topic ?? {}) as Json, paths, [
        'labels',
        'messageRetentionDuration',
        'messageStoragePolicy',
        'kmsKeyName',
        'schemaSettings',
      ]);
      checkLabels(next.labels);
      checkTopicRetention(next);
      d.topics[name] = save(next);
      return ok(next);
    }),
    route('pubsub', 'DELETE', '/v1/projects/{project}/topics/{topic}', (req) => {
      const name = topicName(req.params);
      topic(name);
      delete d.topics[name];
      for (const s of Object.values(d.subscriptions)) if (s.topic === name) s.topic = '_deleted-topic_';
      return save(ok({}));
    }),
    route('pubsub', 'GET', '/v1/projects/{project}/topics', (req) => {
      const prefix = `projects/${req.params.project}/topics/`;
      const items = Object.keys(d.topics)
        .filter((k) => k.startsWith(prefix))
        .sort()
        .map((k) => d.topics[k]);
      return ok(page(items, req.query, 'topics', 100, 1000));
    }),
    route('pubsub', 'GET', '/v1/projects/{project}/topics/{topic}/subscriptions', (req) => {
      const name = topicName(req.params);
      topic(name);
      const names = Object.values(d.subscriptions)
        .filter((s) => s.topic === name)
        .map((s) => s.name as string)
        .sort();
      return ok(page(names, req.query, 'subscriptions', 100, 1000));
    }),
    route('pubsub', 'POST', '/v1/projects/{project}/topics/{topic}:publish', (req) => {
      const name = topicName(req.params);
      topic(name);
      const body = canonical('google.pubsub.v1.PublishRequest', req.body, 'body');
      const messages = (body.messages ?? []) as Json[];
      if (messages.length === 0) throw invalidArgument('messages', 'at least one message is required');
      if (messages.length > 1000) throw invalidArgument('messages', 'at most 1000 messages per request');
      messages.forEach((m, i) => {
        if (!m.data && Object.keys((m.attributes ?? {}) as Json).length === 0)
          throw invalidArgument(`messages[${i}]`, 'a message needs data or at least one attribute');
      });
      const ids = broker.publish(
        name,
        messages.map((m) => ({
          data: m.data as string | undefined,
          attributes: m.attributes as Record<string, string> | undefined,
          orderingKey: m.orderingKey as string | undefined,
        })),
      );
      return ok({ messageIds: ids });
    }),

    route('pubsub', 'PUT', '/v1/projects/{project}/subscriptions/{sub}', (req) => {
      const name = subName(req.params);
      checkId(req.params.sub, 'name', ID, ID_HINT);
      if (d.subscriptions[name]) throw alreadyExists('Subscription', name);
      const body = canonical('google.pubsub.v1.Subscription', req.body, 'subscription');
      if (typeof body.topic !== 'string' || body.topic === '') throw invalidArgument('topic', 'is required');
      topic(body.topic);
      checkSubscription(body, 'subscription');
      d.subscriptions[name] = save(withSubscriptionDefaults({ ...body, name }));
      return ok(d.subscriptions[name]);
    }),
    route('pubsub', 'GET', '/v1/projects/{project}/subscriptions/{sub}', (req) => ok(sub(subName(req.params)))),
    route('pubsub', 'PATCH', '/v1/projects/{project}/subscriptions/{sub}', (req) => {
      const name = subName(req.params);
      const current = sub(name);
      const body = canonical('google.pubsub.v1.UpdateSubscriptionRequest', req.body, 'body');
      const paths = maskPaths(body.updateMask);
      if (!paths) throw invalidArgument('update_mask', 'is required');
      const next = applyMask(current, (body.subscription ?? {}) as Json, paths, [
        'labels',
        'ackDeadlineSeconds',
        'pushConfig',
        'retainAckedMessages',
        'messageRetentionDuration',
        'expirationPolicy',
        'deadLetterPolicy',
        'retryPolicy',
        'enableExactlyOnceDelivery',
        'bigqueryConfig',
        'cloudStorageConfig',
        'detached',
      ]);
      checkSubscription(next, 'subscription');
      d.subscriptions[name] = save(withSubscriptionDefaults(next));
      return ok(d.subscriptions[name]);
    }),
    route('pubsub', 'DELETE', '/v1/projects/{project}/subscriptions/{sub}', (req) => {
      const name = subName(req.params);
      sub(name);
      delete d.subscriptions[name];
      delete d.eventarc[name];
      broker.removeSubscription(name);
      return save(ok({}));
    }),
    route('pubsub', 'GET', '/v1/projects/{project}/subscriptions', (req) => {
      const prefix = `projects/${req.params.project}/subscriptions/`;
      const items = Object.keys(d.subscriptions)
        .filter((k) => k.startsWith(prefix))
        .sort()
        .map((k) => d.subscriptions[k]);
      return ok(page(items, req.query, 'subscriptions', 100, 1000));
    }),
    route('pubsub', 'POST', '/v1/projects/{project}/subscriptions/{sub}:modifyPushConfig', (req) => {
      const name = subName(req.params);
      const current = sub(name);
      const body = canonical('google.pubsub.v1.ModifyPushConfigRequest', req.body, 'body');
      const next = { ...current, pushConfig: body.pushConfig ?? {} };
      checkSubscription(next, 'subscription');
      d.subscriptions[name] = save(next);
      return ok({});
    }),
    route('pubsub', 'POST', '/v1/projects/{project}/subscriptions/{sub}:pull', (req) => {
      const name = subName(req.params);
      sub(name);
      const body = canonical('google.pubsub.v1.PullRequest', req.body, 'body');
      const max = Number(body.maxMessages ?? 0);
      if (max <= 0) throw invalidArgument('max_messages', 'must be greater than 0');
      return ok({ receivedMessages: broker.pull(name, max) });
    }),
    route('pubsub', 'POST', '/v1/projects/{project}/subscriptions/{sub}:acknowledge', (req) => {
      const name = subName(req.params);
      sub(name);
      const body = canonical('google.pubsub.v1.AcknowledgeRequest', req.body, 'body');
      const ids = (body.ackIds ?? []) as string[];
      if (ids.length === 0) throw invalidArgument('ack_ids', 'at least one ack id is required');
      broker.acknowledge(name, ids);
      return ok({});
    }),
    route('pubsub', 'POST', '/v1/projects/{project}/subscriptions/{sub}:modifyAckDeadline', (req) => {
      const name = subName(req.params);
      sub(name);
      const body = canonical('google.pubsub.v1.ModifyAckDeadlineRequest', req.body, 'body');
      const seconds = Number(body.ackDeadlineSeconds ?? 0);
      if (seconds < 0 || seconds > 600) throw invalidArgument('ack_deadline_seconds', 'must be between 0 and 600');
      broker.modifyAckDeadline(name, (body.ackIds ?? []) as string[], seconds);
      return ok({});
    }),
    route('pubsub', 'POST', '/v1/projects/{project}/subscriptions/{sub}:detach', (req) => {
      const name = subName(req.params);
      const s = sub(name);
      s.detached = true;
      broker.removeSubscription(name);
      return save(ok({}));
    }),
  ];
}

/** A topic keeps messages between 10 minutes and 31 days. */
function checkTopicRetention(topic: Json): void {
  if (topic.messageRetentionDuration === undefined) return;
  const seconds = durationSeconds(topic.messageRetentionDuration, -1);
  if (seconds < 600 || seconds > 31 * 86_400)
    throw invalidArgument(
      'topic.message_retention_duration',
      'must be between 10 minutes (600s) and 31 days (2678400s)',
    );
}
