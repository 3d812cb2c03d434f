/**
 * keelson reads a Compose file as `docker stack deploy` does. One chart, one service per Compose
 * feature, is deployed twice on the test Swarm: by Docker's own stack loader (`docker stack
 * deploy`, the reference) and by keelson (`runPass`). For each feature the ServiceSpec keelson
 * made must equal Docker's, once the differences that are not the feature's are taken out: the
 * stack name, object ids, keelson's ownership labels, the content-hash suffix of keelson's secret
 * and config versions, a default written out on one side and left to Swarm on the other (Swarm
 * reads an absent restart policy as any/5s, etc.), and the one deliberate difference
 * (`update_config.failure_action` defaults to rollback). Docker's stack is removed before
 * keelson deploys, so published ports do not collide. A pass right after is a no-op with zero writes. Every service has `replicas: 0`
 * (or none at all): the specs are the subject, and a task needing a GPU would never start.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../providers/sdk/testing.ts';
import type { DockerService } from '../providers/swarm/client/client.ts';
import { createSwarmProvider, swarmModule } from '../providers/swarm/index.ts';
import { CHECKOUT_TAG, sweep, testClient, testDockerHost } from '../providers/swarm/test-support.ts';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { type PassResult, runPass } from '../reconciler/engine/pass.ts';
import { envSecretSource } from '../reconciler/engine/secrets.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';
import { FileStateStore } from '../reconciler/state/file-store.ts';

const DOCKER = `k${CHECKOUT_TAG}pd`; // the stack docker stack deploy makes
const KEELSON = `k${CHECKOUT_TAG}pk`; // the stack keelson makes
const OWNER = `keelson-parity-${CHECKOUT_TAG}`;
// Ports and subnets of their own, so two checkouts running this file at once do not collide.
const N = Number.parseInt(CHECKOUT_TAG, 16);
const PORT = 200 + (N % 400); // published ports PORT00..PORT82
const KEELSON_SUBNET = `10.${100 + (N % 100)}.1.0/24`;
const DOCKER_SUBNET = `10.${100 + (N % 100)}.2.0/24`;

/** One service per feature: [Compose name, why it is here, its Compose text under `services:`]. */
const CASES: [string, string, string][] = [
  [
    'basics',
    'entrypoint, command, user, working_dir, hostname, init, stop_grace_period',
    `
    entrypoint: ["/bin/sh", "-c"]
    command: sleep 3600
    user: "1000:1000"
    working_dir: /tmp
    hostname: box
    init: true
    stop_grace_period: 1m30s`,
  ],
  [
    'aliases',
    'every service is reachable by its Compose name on each network, plus its own aliases',
    `
    networks:
      back:
        aliases: [api]
      default: {}`,
  ],
  [
    'env',
    'KEY: with no value unsets the variable; numbers become strings',
    `
    environment:
      A: "1"
      N: 5
      UNSET:
      EMPTY: ""`,
  ],
  [
    'envlist',
    'the list form, a bare KEY unsets',
    `
    environment: [A=1, BARE, "B=x=y"]`,
  ],
  [
    'envfile',
    'env_file is read from the chart folder; environment wins over it',
    `
    env_file: app.env
    environment:
      FROM_FILE: overridden`,
  ],
  [
    'logging',
    'logging driver and options',
    `
    logging:
      driver: json-file
      options: { max-size: 10m, max-file: "3" }`,
  ],
  [
    'caps',
    'cap_add and cap_drop, written without CAP_',
    `
    cap_add: [NET_ADMIN, SYS_TIME]
    cap_drop: [MKNOD]`,
  ],
  [
    'sysctls',
    'sysctls as a mapping',
    `
    sysctls:
      net.core.somaxconn: 1024`,
  ],
  [
    'ulimits',
    'one number (soft = hard) and soft/hard',
    `
    ulimits:
      nproc: 500
      nofile: { soft: 1000, hard: 2000 }`,
  ],
  [
    'hosts',
    'extra_hosts',
    `
    extra_hosts: ["db.local:10.0.0.5", "cache.local:10.0.0.6"]`,
  ],
  [
    'dns',
    'dns and dns_search',
    `
    dns: [10.0.0.53, 10.0.0.54]
    dns_search: [example.com]`,
  ],
  [
    'stopping',
    'stop_signal and read_only; expose is accepted and ignored',
    `
    stop_signal: SIGINT
    read_only: true
    expose: ["80"]`,
  ],
  [
    'ports',
    'one number, ranges, long with only target, udp, host mode',
    `
    ports:
      - "80"
      - "${PORT}00-${PORT}01:9000-9001"
      - "${PORT}53:53/udp"
      - { target: 81 }
      - { target: 82, published: ${PORT}82, mode: host }`,
  ],
  [
    'dnsrr',
    'endpoint_mode dnsrr',
    `
    deploy:
      endpoint_mode: dnsrr
      replicas: 0`,
  ],
  [
    'volumes',
    'named volumes (short and long, nocopy, read-only), driver, driver_opts and labels, tmpfs size, a relative bind path',
    `
    volumes:
      - data:/data:ro
      - type: volume
        source: cache
        target: /cache
        volume: { nocopy: true }
      - type: tmpfs
        target: /scratch
        tmpfs: { size: 1000000 }
      - ./files:/files
      - type: bind
        source: ./files
        target: /files2
        read_only: true`,
  ],
  [
    'resources',
    'limits and reservations, pids, generic resources',
    `
    deploy:
      replicas: 0
      resources:
        limits: { cpus: "0.5", memory: 64M, pids: 100 }
        reservations:
          cpus: "0.25"
          memory: 32M
          generic_resources:
            - discrete_resource_spec: { kind: gpu, value: 2 }`,
  ],
  [
    'placement',
    'constraints, spread preferences, max replicas per node',
    `
    deploy:
      replicas: 0
      placement:
        constraints: [node.role == manager, node.labels.zone != b]
        preferences:
          - spread: node.labels.zone
        max_replicas_per_node: 2`,
  ],
  [
    'rollout',
    'restart policy, update and rollback config (failure_action given)',
    `
    deploy:
      replicas: 0
      restart_policy: { condition: on-failure, delay: 3s, max_attempts: 4, window: 1m }
      update_config: { parallelism: 2, delay: 1s, failure_action: continue, monitor: 3s, max_failure_ratio: 0.5, order: start-first }
      rollback_config: { parallelism: 0, order: stop-first }`,
  ],
  [
    'health',
    'healthcheck',
    `
    healthcheck:
      test: ["CMD", "true"]
      interval: 1m
      timeout: 3s
      retries: 2
      start_period: 5s`,
  ],
  [
    'labelled',
    'container labels and service (deploy) labels',
    `
    labels: { app: web }
    deploy:
      replicas: 0
      labels: { tier: front }`,
  ],
  [
    'secrets',
    'a secret and a config, short and long syntax with mode',
    `
    secrets:
      - pw
      - { source: pw, target: /etc/pw, uid: "100", gid: "101", mode: 0400 }
    configs:
      - conf
      - { source: conf, target: /etc/app.conf, mode: 0440 }`,
  ],
];

function composeFile(): string {
  const services = CASES.map(([name, , body]) => {
    // replicas: 0 unless the case sets deploy itself (then it says replicas: 0 too)
    const deploy = body.includes('deploy:') ? '' : '\n    deploy:\n      replicas: 0';
    return `  ${name}:\n    image: keelson-test/busybox:1${body}${deploy}`;
  }).join('\n');
  return `services:
${services}
networks:
  back:
    ipam:
      config:
        - subnet: \${SUBNET}
volumes:
  data: {}
  cache:
    driver: local
    driver_opts: { type: tmpfs, device: tmpfs }
    labels: { purpose: cache }
secrets:
  pw:
    file: ./secrets/pw
    x-keelson-secret-ref: parity-pw
configs:
  conf:
    file: ./app.conf
`;
}

describe('Compose files read as docker stack deploy reads them', { timeout: 240_000 }, () => {
  const host = testDockerHost();
  const client = testClient();
  const provider = createSwarmProvider({ dockerHost: host, taskStartMs: 30_000 });
  const registry = new ProviderRegistry([swarmModule], [provider]);
  const root = mkdtempSync(join(tmpdir(), 'keelson-parity-'));
  const chart = join(root, 'charts/parity');
  const store = new FileStateStore(join(root, 'state.json'));
  let docker = new Map<string, DockerService>();
  let dockerNetworks: Awaited<ReturnType<typeof client.listNetworks>> = [];
  let keelson = new Map<string, DockerService>();
  let first: PassResult;

  const pass = () => {
    const loaded = loadDesiredState(join(root, 'desired'), registry, { root });
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    return runPass({
      resources: loaded.resources,
      revision: 'r1',
      registry,
      store,
      owner: OWNER,
      mode: 'apply',
      secrets: envSecretSource({ KEELSON_SECRET_PARITY_PW: 'hunter2' }),
      log: silentLogger,
    });
  };

  async function specs(stack: string): Promise<Map<string, DockerService>> {
    const all = await client.listServices({ label: [`com.docker.stack.namespace=${stack}`] });
    return new Map(all.map((s) => [s.Spec.Name.slice(stack.length + 1), s]));
  }

  beforeAll(async () => {
    await sweep(client, KEELSON);
    await sweep(client, DOCKER);
    mkdirSync(join(chart, 'files'), { recursive: true });
    mkdirSync(join(root, 'desired'), { recursive: true });
    writeFileSync(join(chart, 'docker-compose.yml'), composeFile());
    writeFileSync(join(chart, 'app.env'), '# comment\nFROM_FILE=file\nONLY_FILE=yes\n');
    writeFileSync(join(chart, 'app.conf'), 'listen 80;\n');
    mkdirSync(join(chart, 'secrets'));
    writeFileSync(join(chart, 'secrets/pw'), 'hunter2');
    writeFileSync(
      join(root, 'desired/stack.yaml'),
      `kind: swarm.Stack\nname: ${KEELSON}\nspec:\n  chart: parity\n  values: { SUBNET: ${KEELSON_SUBNET} }\n`,
    );
    execFileSync(
      'docker',
      ['stack', 'deploy', '--resolve-image', 'never', '-c', join(chart, 'docker-compose.yml'), DOCKER],
      { env: { ...process.env, DOCKER_HOST: host, SUBNET: DOCKER_SUBNET }, stdio: 'pipe' },
    );
    docker = await specs(DOCKER);
    dockerNetworks = await client.listNetworks({});
    await sweep(client, DOCKER);
    first = await pass();
    keelson = await specs(KEELSON);
  });

  afterAll(async () => {
    try {
      execFileSync('docker', ['stack', 'rm', DOCKER], { env: { ...process.env, DOCKER_HOST: host }, stdio: 'pipe' });
    } catch {}
    await sweep(client, KEELSON);
    await sweep(client, DOCKER);
    rmSync(root, { recursive: true, force: true });
  });

  it('applies the chart in one pass', () => {
    expect(first.errors).toEqual([]);
    expect([...keelson.keys()].sort()).toEqual(CASES.map(([n]) => n).sort());
  });

  /** A spec with what is not the feature's taken out (see the header). */
  async function comparable(s: DockerService, stack: string): Promise<unknown> {
    const networks = [...dockerNetworks, ...(await client.listNetworks({}))];
    const byId = new Map(networks.map((n) => [n.Id, n.Name]));
    const spec = structuredClone(s.Spec) as Record<string, unknown>;
    const labels = Object.fromEntries(
      Object.entries((spec.Labels ?? {}) as Record<string, string>).filter(([k]) => !k.startsWith('keelson.io/')),
    );
    spec.Labels = labels;
    const task = spec.TaskTemplate as Record<string, unknown>;
    task.Networks = ((task.Networks ?? []) as { Target: string; Aliases?: string[] }[])
      .map((n) => ({ ...n, Target: byId.get(n.Target) ?? n.Target, Aliases: [...(n.Aliases ?? [])].sort() }))
      .sort((a, b) => a.Target.localeCompare(b.Target));
    const c = task.ContainerSpec as Record<string, unknown>;
    for (const key of ['Secrets', 'Configs'] as const) {
      // a set: the order of the files has no meaning to Swarm
      c[key] = ((c[key] ?? []) as Record<string, unknown>[])
        .map((x) => ({
          File: x.File as { Name: string },
          Name: String(x.SecretName ?? x.ConfigName).replace(/-[0-9a-f]{12}$/, ''),
        }))
        .sort((a, b) => a.File.Name.localeCompare(b.File.Name));
    }
    // Swarm's reading of what is left out
    const rollout = { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' };
    spec.UpdateConfig = { ...rollout, ...(spec.UpdateConfig as object) };
    spec.RollbackConfig = { ...rollout, ...(spec.RollbackConfig as object) };
    delete (spec.UpdateConfig as Record<string, unknown>).FailureAction;
    task.RestartPolicy = { Condition: 'any', Delay: 5e9, MaxAttempts: 0, Window: 0, ...(task.RestartPolicy as object) };
    const resources = (task.Resources ?? {}) as Record<string, unknown>;
    task.Resources = { Limits: {}, Reservations: {}, ...resources };
    c.Init ??= false;
    c.StopGracePeriod ??= 10e9;
    // spaces around a constraint's operator mean nothing to Swarm; keelson writes none
    const placement = task.Placement as { Constraints?: string[] } | undefined;
    if (placement?.Constraints) placement.Constraints = placement.Constraints.map((x) => x.replace(/\s+/g, '')).sort();
    const privileges = c.Privileges as Record<string, unknown> | undefined;
    if (privileges && !privileges.CredentialSpec && !privileges.SELinuxContext && !privileges.NoNewPrivileges)
      delete c.Privileges;
    const endpoint = spec.EndpointSpec as { Ports?: { PublishedPort?: number; TargetPort: number }[] } | undefined;
    endpoint?.Ports?.sort((a, b) => (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0) || a.TargetPort - b.TargetPort);
    return JSON.parse(JSON.stringify(spec).replaceAll(`${stack}_`, 'STACK_').replaceAll(`"${stack}"`, '"STACK"'));
  }

  it.each(CASES)('%s: %s', async (name) => {
    const ours = keelson.get(name);
    const theirs = docker.get(name);
    expect(theirs, `docker stack deploy made no service ${name}`).toBeDefined();
    expect(ours, `keelson made no service ${name}`).toBeDefined();
    expect(await comparable(ours as DockerService, KEELSON)).toEqual(await comparable(theirs as DockerService, DOCKER));
  });

  it('differs only where keelson is deliberately safer: an update rolls back by default', () => {
    // absent: Swarm's default, pause
    const failureAction = (s?: DockerService) =>
      (s?.Spec.UpdateConfig as { FailureAction?: string } | undefined)?.FailureAction ?? 'pause';
    expect(failureAction(keelson.get('basics'))).toBe('rollback');
    expect(failureAction(docker.get('basics'))).toBe('pause');
    // given explicitly, both take it as written
    expect(failureAction(keelson.get('rollout'))).toBe('continue');
  });

  it('makes the networks as Docker does, subnet included', async () => {
    const networks = [...dockerNetworks, ...(await client.listNetworks({}))];
    const back = (stack: string) => networks.find((n) => n.Name === `${stack}_back`);
    const shape = (n?: (typeof networks)[number]) => ({
      driver: n?.Driver,
      subnets: n?.IPAM?.Config?.map((c) => c.Subnet),
      labels: Object.fromEntries(Object.entries(n?.Labels ?? {}).filter(([k]) => !k.startsWith('keelson.io/'))),
    });
    expect(shape(back(KEELSON))).toEqual({
      driver: 'overlay',
      subnets: [KEELSON_SUBNET],
      labels: { 'com.docker.stack.namespace': KEELSON },
    });
    expect(shape(back(DOCKER))).toEqual({
      driver: 'overlay',
      subnets: [DOCKER_SUBNET],
      labels: { 'com.docker.stack.namespace': DOCKER },
    });
  });

  it('plans no change right after, and writes nothing', async () => {
    const writes = provider.client.writeCount();
    const again = await pass();
    expect(again.errors).toEqual([]);
    expect(again.plan.changes.filter((c) => c.action !== 'no-op').map((c) => c.key)).toEqual([]);
    expect(provider.client.writeCount() - writes).toBe(0);
  });
});
