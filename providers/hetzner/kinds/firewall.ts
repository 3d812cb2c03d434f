import {
  defineKind,
  deleteIgnoringMissing,
  type FieldChange,
  type HandlerContext,
  KeelsonError,
  type KindSpec,
  type ObservedResource,
  type ObserveQuery,
  type ResolvedResource,
  type ResourceHandler,
  specOf,
} from '../../sdk/index.ts';
import type { HcloudFirewall, HcloudFirewallRule, HcloudFirewallTarget } from '../client/api-types.ts';
import { userLabelsOf } from '../ownership.ts';
import { without } from './network.ts';
import {
  asId,
  deleteById,
  fieldChanged,
  findOrClaimNamed,
  getOne,
  type HetznerRuntime,
  labelsFor,
  observedBase,
  postAction,
  relevant,
  signalOf,
} from './runtime.ts';

export const firewallSchema = defineKind({
  kind: 'hetzner.Firewall',
  description:
    "A firewall with its rules, applied to servers or label selectors. Hetzner has no delete protection for firewalls: use keelson's `protect: true`.",
  spec: {
    rules: {
      type: 'array',
      set: true,
      default: [],
      description: 'Rules (default none: all inbound traffic is dropped once applied).',
      items: {
        type: 'object',
        properties: {
          direction: { type: 'string', enum: ['in', 'out'], required: true },
          protocol: { type: 'string', enum: ['tcp', 'udp', 'icmp', 'esp', 'gre'], required: true },
          port: { type: 'string', description: 'Port or range `80`, `2377-2380`, `any`; tcp and udp only.' },
          sourceIps: { type: 'array', items: { type: 'string' }, default: [], description: 'CIDRs, for `in` rules.' },
          destinationIps: {
            type: 'array',
            items: { type: 'string' },
            default: [],
            description: 'CIDRs, for `out` rules.',
          },
          description: { type: 'string' },
        },
      },
    },
    applyTo: {
      type: 'array',
      set: true,
      default: [],
      description: 'Where the firewall applies (default nowhere).',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string', enum: ['server', 'label_selector'], required: true },
          server: { type: 'integer', referenceable: true, description: 'Server id, for type server.' },
          labelSelector: { type: 'string', description: 'Label selector, for type label_selector.' },
        },
      },
    },
    labels: { type: 'map', values: { type: 'string' }, default: {}, description: 'User labels (default none).' },
  },
  outputs: { id: { type: 'integer' } },
});

type FirewallSpec = KindSpec<typeof firewallSchema>;
type Rule = FirewallSpec['rules'][number];
type Target = FirewallSpec['applyTo'][number];

function ruleOf(r: HcloudFirewallRule): Rule {
  return {
    direction: r.direction,
    // What the API returns is one of the protocols it accepts.
    protocol: r.protocol as Rule['protocol'],
    ...(r.port ? { port: r.port } : {}),
    sourceIps: [...r.source_ips],
    destinationIps: [...r.destination_ips],
    ...(r.description ? { description: r.description } : {}),
  };
}

function apiRule(r: Rule): Record<string, unknown> {
  return {
    direction: r.direction,
    // What the API returns is one of the protocols it accepts.
    protocol: r.protocol as Rule['protocol'],
    ...(r.port ? { port: r.port } : {}),
    source_ips: r.direction === 'in' ? r.sourceIps : [],
    destination_ips: r.direction === 'out' ? r.destinationIps : [],
    ...(r.description ? { description: r.description } : {}),
  };
}

function targetOf(t: HcloudFirewallTarget): Target {
  return t.type === 'server'
    ? { type: 'server', server: t.server.id }
    : { type: 'label_selector', labelSelector: t.label_selector.selector };
}

function apiTarget(t: Target): HcloudFirewallTarget {
  return t.type === 'server'
    ? { type: 'server', server: { id: Number(t.server) } }
    : { type: 'label_selector', label_selector: { selector: String(t.labelSelector) } };
}

/** `hetzner.Firewall`: rules are set as a whole (`set_rules`); targets are applied and removed one by one. */
export class FirewallHandler implements ResourceHandler {
  readonly #rt: HetznerRuntime;
  constructor(rt: HetznerRuntime) {
    this.#rt = rt;
  }

  normalize(spec: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...spec };
    if (Array.isArray(spec.applyTo)) {
      out.applyTo = (spec.applyTo as Record<string, unknown>[]).map((t) =>
        t.type === 'server'
          ? { type: 'server', server: asId(t.server) }
          : { type: t.type, labelSelector: t.labelSelector },
      );
    }
    if (Array.isArray(spec.rules)) {
      // Hetzner keeps only the IPs that match the direction.
      out.rules = (spec.rules as Rule[]).map((r) => ({
        ...r,
        sourceIps: r.direction === 'in' ? (r.sourceIps ?? []) : [],
        destinationIps: r.direction === 'out' ? (r.destinationIps ?? []) : [],
      }));
    }
    return out;
  }

  #observed(ctx: HandlerContext, f: HcloudFirewall): ObservedResource {
    const key = `${firewallSchema.kind}/${f.name}`;
    const running = this.#rt.actions.running(key);
    const failure = this.#rt.actions.failure(key);
    return {
      ...observedBase(firewallSchema.kind, f, ctx, {}),
      spec: { rules: f.rules.map(ruleOf), applyTo: f.applied_to.map(targetOf), labels: userLabelsOf(f.labels) },
      outputs: { id: f.id },
      ready: !running,
      ...(running ? { message: 'an action is running' } : failure ? { message: failure } : {}),
    };
  }

  async observe(ctx: HandlerContext, query: ObserveQuery): Promise<ObservedResource[]> {
    await this.#rt.actions.refresh(ctx.signal);
    const firewalls = await this.#rt.client.list<HcloudFirewall>('/firewalls', 'firewalls', {
      what: 'list firewalls',
      ...signalOf(ctx),
    });
    return relevant(firewalls, ctx, query).map((f) => this.#observed(ctx, f));
  }

  #get(ctx: HandlerContext, id: string | number, key: string): Promise<HcloudFirewall> {
    return getOne<HcloudFirewall>(this.#rt.client, ctx, 'firewalls', 'firewall', id, key);
  }

  async create(ctx: HandlerContext, desired: ResolvedResource): Promise<ObservedResource> {
    const c = this.#rt.client;
    const spec = specOf(firewallSchema, desired);
    const { item } = await findOrClaimNamed<HcloudFirewall>(this.#rt, ctx, desired, 'firewalls', {
      create: async () => {
        const answer = await c.request<{ firewall: HcloudFirewall; actions?: never[] }>('POST', '/firewalls', {
          body: {
            name: desired.name,
            labels: labelsFor(ctx, desired),
            rules: (spec.rules ?? []).map(apiRule),
            apply_to: (spec.applyTo ?? []).map(apiTarget),
          },
          what: `create ${desired.key}`,
          resource: desired.key,
          ...signalOf(ctx),
        });
        this.#rt.actions.track(desired.key, `create ${desired.key}`, answer.actions ?? []);
        return answer.firewall;
      },
      claim: (found) => this.#putLabels(ctx, desired, found.id),
    });
    return this.#observed(ctx, item);
  }

  async #putLabels(ctx: HandlerContext, desired: ResolvedResource, id: number | string): Promise<HcloudFirewall> {
    return (
      await this.#rt.client.request<{ firewall: HcloudFirewall }>('PUT', `/firewalls/${id}`, {
        body: { labels: labelsFor(ctx, desired) },
        what: `update labels of ${desired.key}`,
        resource: desired.key,
        ...signalOf(ctx),
      })
    ).firewall;
  }

  async update(
    ctx: HandlerContext,
    desired: ResolvedResource,
    observed: ObservedResource,
    changes: readonly FieldChange[],
  ): Promise<ObservedResource> {
    const id = observed.id;
    const key = desired.key;
    const want = specOf(firewallSchema, desired);
    const have = specOf(firewallSchema, observed);
    const act = (command: string, body: unknown) =>
      postAction(this.#rt, ctx, key, `/firewalls/${id}/actions/${command}`, body, `${command} on ${key}`, true);
    if (!observed.owned || fieldChanged(changes, 'labels')) await this.#putLabels(ctx, desired, id);
    if (fieldChanged(changes, 'rules')) await act('set_rules', { rules: want.rules.map(apiRule) });
    if (fieldChanged(changes, 'applyTo')) {
      const remove = without(have.applyTo, want.applyTo);
      if (remove.length > 0) await act('remove_from_resources', { remove_from: remove.map(apiTarget) });
      const add = without(want.applyTo, have.applyTo);
      if (add.length > 0) await act('apply_to_resources', { apply_to: add.map(apiTarget) });
    }
    return this.#observed(ctx, await this.#get(ctx, id, key));
  }

  async delete(ctx: HandlerContext, observed: ObservedResource): Promise<void> {
    // Hetzner cannot protect a firewall: keelson's own protection label is the only guard.
    if (observed.protect) {
      throw new KeelsonError(`cannot delete ${observed.key}: it is protected (keelson.io/protect)`, {
        code: 'PROTECTED',
        class: 'terminal',
        resource: observed.key,
      });
    }
    const targets = specOf(firewallSchema, observed).applyTo ?? [];
    if (targets.length > 0) {
      await deleteIgnoringMissing(() =>
        postAction(
          this.#rt,
          ctx,
          observed.key,
          `/firewalls/${observed.id}/actions/remove_from_resources`,
          { remove_from: targets.map(apiTarget) },
          `detach ${observed.key} before deleting it`,
          true,
        ),
      );
    }
    await deleteById(this.#rt, ctx, 'firewalls', observed.id, observed.key);
  }

  async settle(ctx: HandlerContext, applied: ObservedResource): Promise<void> {
    await this.#rt.actions.settle(applied.key, this.#rt.actionTimeoutMs, ctx.signal);
  }
}
