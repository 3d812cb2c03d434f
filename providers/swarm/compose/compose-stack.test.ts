import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExpandIO } from '../../sdk/index.ts';
import { ChartError, type ChartProblem, expandChart, formatProblem, shellSplit } from './compose-stack.ts';

const root = resolve(import.meta.dirname, '../../..');
const io: ExpandIO = { root, readFile: (p) => readFileSync(resolve(root, p), 'utf8') };
const fixture = (chart: string) => `test/fixtures/charts/${chart}`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ChartError) return error.message.split('\n');
    throw error;
  }
  throw new Error('expected a ChartError');
}

describe('expandChart', () => {
  it('expands services, networks, secrets and configs with docker stack deploy names and interpolated values', () => {
    const docs = expandChart(
      { stack: 'shop', chart: fixture('busybox-app'), values: { WEB_REPLICAS: 3, GREETING: 'hi' } },
      io,
    );
    expect(docs.map((d) => `${d.kind}/${d.name}`)).toEqual([
      'swarm.Network/shop_backend',
      'swarm.Secret/shop_db_password',
      'swarm.Config/shop_app_conf',
      'swarm.Service/shop_web',
      'swarm.Service/shop_worker',
    ]);
    const web = docs.find((d) => d.name === 'shop_web');
    expect(web?.spec).toMatchObject({
      image: 'keelson-test/busybox:1',
      // an exec-form command keeps its words; ${WEB_PORT} is a number in values.yaml but a string inside a list of strings
      args: ['httpd', '-f', '-p', '8080', '-h', '/tmp'],
      env: { GREETING: 'hi', LOG_LEVEL: 'info' },
      labels: { tier: 'front', 'com.docker.stack.namespace': 'shop' },
      containerLabels: { app: 'web', 'com.docker.stack.namespace': 'shop' },
      networks: [{ name: 'shop_backend' }],
      secrets: [{ source: { ref: 'swarm.Secret/shop_db_password', output: 'name' }, target: 'db_password' }],
      configs: [{ source: { ref: 'swarm.Config/shop_app_conf', output: 'name' }, target: '/etc/app.conf' }],
      // the whole scalar is one variable: its value keeps its type (a number)
      deploy: { replicas: 3, restartPolicy: { delay: '1s' }, updateConfig: { monitor: '2s' } },
    });
    expect(web?.dependsOn).toEqual([
      'swarm.Config/shop_app_conf',
      'swarm.Network/shop_backend',
      'swarm.Secret/shop_db_password',
    ]);
    const worker = docs.find((d) => d.name === 'shop_worker');
    // a string command is split like a shell would; the short secret syntax targets the secret's name
    expect(worker?.spec).toMatchObject({
      args: ['sleep', '3600'],
      // the Compose name is an alias on every network, as docker stack deploy gives it
      networks: [{ name: 'shop_backend', aliases: ['jobs', 'worker'] }],
      secrets: [{ target: 'db_password' }],
      deploy: { resources: { limits: { memory: '32M' } } },
    });
    // the secret's value comes from the secret source, named by a value; the config file is interpolated
    expect(docs.find((d) => d.name === 'shop_db_password')?.spec.data).toEqual({ secretRef: 'db-password' });
    expect(docs.find((d) => d.name === 'shop_app_conf')?.spec.data).toBe('greeting=hi\nport=8080\n');
  });

  it('puts services that name no network on <stack>_default, as docker stack deploy does', () => {
    const files: Record<string, string> = {
      'charts/mini/docker-compose.yml': 'services:\n  a:\n    image: x\n  b:\n    image: y\n',
    };
    const docs = expandChart(
      { stack: 's', chart: 'mini', values: {} },
      { root: '/', readFile: (p) => files[p] ?? fail(p) },
    );
    expect(docs.map((d) => `${d.kind}/${d.name}`)).toEqual([
      'swarm.Network/s_default',
      'swarm.Service/s_a',
      'swarm.Service/s_b',
    ]);
    expect(docs[1]?.spec.networks).toEqual([{ name: 's_default', aliases: ['a'] }]);
  });

  it('reports every problem of a chart with its file, line and column', () => {
    const problems = problemsOf(() => expandChart({ stack: 'b', chart: fixture('broken'), values: {} }, io));
    const file = 'test/fixtures/charts/broken/docker-compose.yml';
    expect(problems).toEqual([
      `${file}:4:5: service "api" needs an image`,
      `${file}:4:12: required variable IMAGE is missing a value: set IMAGE to the api image`,
      `${file}:8:7: expected a whole number, got "many"`,
      `${file}:9:16: network "missing" is not defined in the top-level networks: section`,
      `${file}:10:5: service "api": unsupported key "restart_policy"`,
      expect.stringMatching(new RegExp(`^${file}:12:3: secret "key" needs a value from the secret source`)),
    ]);
  });

  it('names a chart that does not exist', () => {
    expect(problemsOf(() => expandChart({ stack: 'x', chart: 'nope', values: {} }, io))).toEqual([
      `charts/nope/docker-compose.yml: chart "nope" not found (no charts/nope/docker-compose.yml under ${root})`,
    ]);
  });

  it('reports a YAML syntax error with its line', () => {
    const files: Record<string, string> = { 'charts/bad/docker-compose.yml': 'services:\n  a:\n    image: [x\n' };
    const problems = problemsOf(() =>
      expandChart({ stack: 's', chart: 'bad', values: {} }, { root: '/', readFile: (p) => files[p] ?? fail(p) }),
    );
    expect(problems[0]).toMatch(/^charts\/bad\/docker-compose\.yml:\d+:\d+: /);
  });
});

describe('shellSplit', () => {
  it.each([
    ['sleep 3600', ['sleep', '3600']],
    [`sh -c 'echo "a b"'`, ['sh', '-c', 'echo "a b"']],
    ['a\\ b "c\\"d"', ['a b', 'c"d']],
    ['', []],
  ])('%s', (line, words) => {
    expect(shellSplit(line)).toEqual(words);
  });

  it('says when quotes do not balance', () => {
    expect(shellSplit(`echo 'oops`)).toBeUndefined();
  });
});

function fail(path: string): never {
  throw new Error(`ENOENT: ${path}`);
}

describe('what docker stack deploy refuses, keelson refuses too, before anything is created', () => {
  const expandText = (text: string, warn?: (p: ChartProblem) => void) =>
    expandChart(
      { stack: 's', chart: 'c', values: {} },
      { root: '/repo', readFile: (p) => (p === 'charts/c/docker-compose.yml' ? text : fail(p)), warn },
    );
  const file = 'charts/c/docker-compose.yml';

  it.each([
    [
      'a network with a driver local to one engine (Swarm services cannot join it)',
      'services:\n  a:\n    image: x\n    networks: [lan]\nnetworks:\n  lan:\n    driver: bridge\n',
      `${file}:7:5: network "lan": driver bridge is local to one engine`,
    ],
    [
      'a boolean environment value (Docker: "must be a string, number or null")',
      'services:\n  a:\n    image: x\n    environment:\n      DEBUG: true\n',
      `${file}:5:7: environment DEBUG: true is a boolean, and docker stack deploy refuses it`,
    ],
    [
      'limits.pids in a file whose version predates it (3.9)',
      'version: "3.8"\nservices:\n  a:\n    image: x\n    deploy:\n      resources:\n        limits: { pids: 10 }\n',
      `${file}:7:19: limits.pids needs Compose file version 3.9 or later`,
    ],
    [
      'a bind path from the home of a user keelson does not have',
      'services:\n  a:\n    image: x\n    volumes: ["~/data:/data"]\n',
      `${file}:4:15: bind mount "~/data": ~ is the deploying user's home`,
    ],
    [
      'a port range whose two sides differ in size',
      'services:\n  a:\n    image: x\n    ports: ["8000-8002:9000-9001"]\n',
      `${file}:4:13: port "8000-8002:9000-9001": the published and target ranges differ in size`,
    ],
  ])('%s', (_why, text, problem) => {
    expect(problemsOf(() => expandText(text))[0]).toContain(problem);
  });

  it.each([
    [
      'an unset variable reads as empty, as Docker reads it, with a warning at its place',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is Compose syntax
      'services:\n  a:\n    image: x\n    environment:\n      TOKEN: ${TOKNE}\n',
      `${file}:5:14: variable TOKNE is not set: read as an empty string`,
    ],
    [
      'a secret only keelson can read makes the chart undeployable with plain docker stack deploy',
      'services:\n  a:\n    image: x\n    secrets: [k]\nsecrets:\n  k:\n    x-keelson-secret-ref: key\n',
      `${file}:6:3: secret "k" has only x-keelson-secret-ref`,
    ],
    [
      'dns_opt, which keelson applies and Docker’s stack loader refuses',
      'services:\n  a:\n    image: x\n    dns_opt: [ndots:2]\n',
      `${file}:4:5: dns_opt is applied by keelson, but docker stack deploy refuses it`,
    ],
  ])('warns: %s', (_why, text, warning) => {
    const warnings: string[] = [];
    expandText(text, (p) => warnings.push(formatProblem(p)));
    expect(warnings).toEqual([expect.stringContaining(warning)]);
  });

  it('names a secret or config by its name: as written, not prefixed with the stack (as Docker does)', () => {
    const docs = expandText(`services:
  a:
    image: x
    secrets: [pw]
    configs: [conf]
secrets:
  pw:
    name: shared-db-password
    file: ./secrets/pw
    x-keelson-secret-ref: db-password
configs:
  conf:
    name: shared-conf
    content: "x=1"
`);
    expect(docs.filter((d) => d.kind !== 'swarm.Service' && d.kind !== 'swarm.Network').map((d) => d.name)).toEqual([
      'shared-db-password',
      'shared-conf',
    ]);
    expect(docs.find((d) => d.name === 's_a')?.spec).toMatchObject({
      secrets: [{ source: { ref: 'swarm.Secret/shared-db-password', output: 'name' }, target: 'pw' }],
      configs: [{ source: { ref: 'swarm.Config/shared-conf', output: 'name' }, target: 'conf' }],
    });
  });

  it('reads Compose as Docker does: unset env, port ranges, relative binds, volume options, aliases', () => {
    const docs = expandText(`services:
  web:
    image: x
    environment: { A: "1", GONE: , N: 5 }
    ports: ["80", "8000-8001:9000-9001/udp", { target: 81 }]
    volumes:
      - ./files:/files:ro
      - type: volume
        source: data
        target: /data
        volume: { nocopy: true }
      - type: tmpfs
        target: /tmp
        tmpfs: { size: 64M }
    deploy:
      resources:
        reservations:
          generic_resources: [{ discrete_resource_spec: { kind: gpu, value: 2 } }]
volumes:
  data:
    driver: local
    driver_opts: { type: tmpfs }
    labels: { keep: "yes" }
networks:
  default:
    ipam: { config: [{ subnet: 10.9.0.0/24 }] }
`);
    const web = docs.find((d) => d.name === 's_web')?.spec;
    expect(web).toMatchObject({
      env: { A: '1', GONE: null, N: '5' },
      labels: { 'com.docker.stack.image': 'x', 'com.docker.stack.namespace': 's' },
      ports: [
        { target: 80, published: 0 },
        { target: 9000, published: 8000, protocol: 'udp' },
        { target: 9001, published: 8001, protocol: 'udp' },
        { target: 81, published: 0 },
      ],
      networks: [{ name: 's_default', aliases: ['web'] }],
      mounts: [
        { type: 'bind', source: '/repo/charts/c/files', target: '/files', readOnly: true },
        {
          type: 'volume',
          source: 's_data',
          noCopy: true,
          volumeDriver: 'local',
          volumeOptions: { type: 'tmpfs' },
          volumeLabels: { keep: 'yes', 'com.docker.stack.namespace': 's' },
        },
        { type: 'tmpfs', target: '/tmp', tmpfsSize: '64M' },
      ],
      deploy: { resources: { reservations: { genericResources: [{ kind: 'gpu', value: 2 }] } } },
    });
    expect(docs.find((d) => d.name === 's_default')?.spec).toMatchObject({
      ipam: { config: [{ subnet: '10.9.0.0/24' }] },
    });
  });
});
