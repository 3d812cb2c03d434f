import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExpandIO } from '../../sdk/index.ts';
import { ChartError, expandChart, shellSplit } from './compose-stack.ts';

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
      networks: [{ name: 'shop_backend', aliases: ['jobs'] }],
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
    expect(docs[1]?.spec.networks).toEqual([{ name: 's_default' }]);
  });

  it('reports every problem of a chart with its file, line and column', () => {
    const problems = problemsOf(() => expandChart({ stack: 'b', chart: fixture('broken'), values: {} }, io));
    const file = 'test/fixtures/charts/broken/docker-compose.yml';
    expect(problems).toEqual([
      `${file}:4:5: service "api" needs an image`,
      `${file}:4:12: required variable IMAGE is missing a value: set IMAGE to the api image`,
      `${file}:6:14: variable TOKNE is not set: give it in the stack's values or the chart's values.yaml, or write \${TOKNE:-default}`,
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
