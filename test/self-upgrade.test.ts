/**
 * Upgrading keelson by `git push` of a new image tag, on the test Swarm. keelson runs as a Swarm
 * service (image from scripts/build-image.sh, state and lease on a folder mounted into its tasks,
 * the desired state in a bare Git repository read over file://, the engine's socket mounted) whose
 * desired state is its own service, with the chart's rollout settings: start-first, rollback on
 * failure, a /healthz health check, KEELSON_SELF_SERVICE and a lease holder per task.
 *
 * - push :2: keelson updates its own service without waiting for it; the new task starts as a
 *   standby, turns healthy, Swarm stops the old one, which gives the lease up; the new task takes
 *   it over, finds the update done and records it. The image was sent once.
 * - push :bad (keelson exits at once): the new task never turns healthy, Swarm rolls back, the
 *   leader never changed; keelson reports the rollback on /status and /metrics and, pass after
 *   pass, does not send :bad again.
 * - push :2 back: converged with nothing to send, nothing left to report.
 * - push :3: Git changed the service, so it is sent, and the upgrade runs again.
 *
 * Every wait is for a state (the bound only ends a hung test). The updates of the service are
 * counted from the engine's events, so any re-apply, by whichever task, would show.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { testDockerHost } from '../providers/swarm/test-support.ts';
import { until } from './daemon-support.ts';

const root = resolve(import.meta.dirname, '..');
const SERVICE = 'upg-keelson';
const KEY = `swarm.Service/${SERVICE}`;
const IMAGE = 'keelson-upgrade';
const BOUND = 240_000;

let host = '';
let dir = '';

function docker(args: string[], input?: string): string {
  return execFileSync('docker', args, {
    env: { ...process.env, DOCKER_HOST: host },
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
}

function git(args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
    cwd: join(dir, 'work'),
  }).toString();
}

/** keelson's own service as the desired state declares it, with the image `tag`. */
function selfService(tag: string): string {
  const socket = host.replace('unix://', '');
  const doc = {
    kind: 'swarm.Service',
    name: SERVICE,
    spec: {
      image: `${IMAGE}:${tag}`,
      // root for the engine's socket (root-owned here, as on the hosts)
      user: '0',
      env: {
        KEELSON_SOURCE_URL: `file://${dir}/repo.git`,
        KEELSON_SOURCE_PATH: 'desired-state',
        KEELSON_STATE_PATH: `${dir}/state/state.json`,
        KEELSON_OWNER: 'upg',
        KEELSON_LEASE_HOLDER: '{{.Node.Hostname}}/{{.Task.Name}}',
        KEELSON_SELF_SERVICE: '{{.Service.Name}}',
        KEELSON_LEASE_TTL_SECONDS: '6',
        KEELSON_LEASE_RENEW_SECONDS: '2',
        KEELSON_POLL_INTERVAL_SECONDS: '2',
        KEELSON_HTTP_PORT: '8080',
        DOCKER_HOST: 'unix:///var/run/docker.sock',
      },
      mounts: [
        { type: 'bind', source: dir, target: dir },
        { type: 'bind', source: socket, target: '/var/run/docker.sock' },
      ],
      stopGracePeriod: '30s',
      healthcheck: {
        test: [
          'CMD',
          '/usr/local/bin/node',
          '-e',
          "fetch('http://127.0.0.1:'+(process.env.KEELSON_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))",
        ],
        interval: '2s',
        timeout: '5s',
        retries: 3,
        startPeriod: '60s',
      },
      deploy: {
        replicas: 1,
        updateConfig: { parallelism: 1, failureAction: 'rollback', monitor: '5s', order: 'start-first' },
        rollbackConfig: { parallelism: 1, order: 'start-first' },
      },
    },
  };
  return stringify(doc);
}

function push(tag: string): string {
  writeFileSync(join(dir, 'work', 'desired-state', 'keelson.yaml'), selfService(tag));
  git(['add', '-A']);
  git(['commit', '-qm', `keelson ${tag}`]);
  git(['push', '-q', 'origin', 'HEAD:main']);
  return git(['rev-parse', 'HEAD']).trim();
}

interface State {
  lastGood?: { revision: string };
  applied: Record<string, { revision: string }>;
}
const state = (): State | undefined => {
  try {
    return JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8')) as State;
  } catch {
    return undefined;
  }
};
const lease = (): { holder: string; generation: number; expiresAt: number } | undefined =>
  existsSync(join(dir, 'state', 'state.json.lease'))
    ? JSON.parse(readFileSync(join(dir, 'state', 'state.json.lease'), 'utf8'))
    : undefined;

/** The service as the engine has it. */
function inspect(): { image: string; updateState: string | undefined } {
  const s = JSON.parse(docker(['service', 'inspect', SERVICE]))[0];
  return { image: s.Spec.TaskTemplate.ContainerSpec.Image, updateState: s.UpdateStatus?.State };
}

/** Images of the service's running tasks. */
function running(): string[] {
  return docker([
    'service',
    'ps',
    SERVICE,
    '--filter',
    'desired-state=running',
    '--format',
    '{{.Image}} {{.CurrentState}}',
  ])
    .trim()
    .split('\n')
    .filter((l) => / Running /.test(` ${l} `))
    .map((l) => l.split(' ')[0] ?? '');
}

/**
 * The engine's service events, read as they happen (its event log keeps only the newest few
 * hundred, and the test engine is shared, so asking for them afterwards could miss some).
 */
let events: ChildProcess | undefined;
let eventLines = '';

/**
 * Spec writes to the service since the test began: the engine's `update` events other than its
 * own update-state changes (a rollback is one of those).
 */
function specWrites(): { from?: string; to?: string }[] {
  // Whole lines only: the last one may still be arriving.
  return eventLines
    .slice(0, eventLines.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: Record<string, string> } })
    .filter(
      (e) =>
        e.Actor.Attributes.name === SERVICE &&
        e.Action === 'update' &&
        e.Actor.Attributes['updatestate.new'] === undefined,
    )
    .map((e) => ({ from: e.Actor.Attributes['image.old'], to: e.Actor.Attributes['image.new'] }));
}

/** The running container of the task holding the lease (holder: node/task-name). */
function leaderContainer(): string | undefined {
  const task = lease()?.holder.split('/')[1];
  return docker([
    'ps',
    '--filter',
    `label=com.docker.swarm.service.name=${SERVICE}`,
    '--format',
    '{{.ID}} {{.Label "com.docker.swarm.task.name"}}',
  ])
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .find(([, name]) => name === task)?.[0];
}

/** GET a path of the leader's HTTP server, from inside its task (its own network namespace). */
function fromLeader(path: string): string | undefined {
  const id = leaderContainer();
  if (!id) return undefined;
  try {
    return docker([
      'exec',
      id,
      '/usr/local/bin/node',
      '-e',
      `fetch('http://127.0.0.1:8080${path}').then(r=>r.text()).then(t=>process.stdout.write(t))`,
    ]);
  } catch {
    return undefined;
  }
}

interface Status {
  passes: number;
  revision?: string;
  lastErrors: { code: string; resource?: string; message: string }[];
  lease?: { role: string; holder: string };
}
const status = (): Status | undefined => {
  const text = fromLeader('/status');
  return text ? (JSON.parse(text) as Status) : undefined;
};

function removeService(): void {
  if (docker(['service', 'ls', '-q', '--filter', `name=${SERVICE}`]).trim()) docker(['service', 'rm', SERVICE]);
}

beforeAll(() => {
  host = testDockerHost();
  removeService();
  // :1 from the build script, :2 the same image under another tag, :bad a root filesystem whose
  // entrypoint exits 1 at once (as a keelson that cannot start).
  execFileSync('bash', [join(root, 'scripts/build-image.sh'), `${IMAGE}:1`], {
    env: { ...process.env, DOCKER_HOST: host },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  docker(['tag', `${IMAGE}:1`, `${IMAGE}:2`]);
  docker(['tag', `${IMAGE}:1`, `${IMAGE}:3`]);
  const rootfs = mkdtempSync('/tmp/upg-bad-');
  try {
    mkdirSync(join(rootfs, 'bin'));
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    execFileSync(
      'bash',
      [
        '-c',
        'tar -C "$1" -cf - . | docker import --change "$2" - "$3" >/dev/null',
        'import',
        rootfs,
        'ENTRYPOINT ["/bin/busybox", "sh", "-c", "echo keelson cannot start >&2; exit 1"]',
        `${IMAGE}:bad`,
      ],
      { env: { ...process.env, DOCKER_HOST: host }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  dir = mkdtempSync('/tmp/upg-');
  mkdirSync(join(dir, 'state'));
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(dir, 'repo.git')]);
  execFileSync('git', ['clone', '-q', join(dir, 'repo.git'), join(dir, 'work')], { stdio: 'ignore' });
  mkdirSync(join(dir, 'work', 'desired-state'));
  events = spawn('docker', ['events', '--filter', 'type=service', '--format', '{{json .}}'], {
    env: { ...process.env, DOCKER_HOST: host },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  events.stdout?.on('data', (b: Buffer) => {
    eventLines += b.toString();
  });
}, 400_000);

afterAll(() => {
  events?.kill();
  if (!host) return;
  try {
    removeService();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

describe('keelson upgrades itself by git push', () => {
  it('moves to a new tag through a standby, holds a tag Swarm rolled back, and moves on when Git changes', async () => {
    // The image carries the health check too (docker import --change), for a plain `docker run`.
    expect(docker(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', `${IMAGE}:1`])).toContain('/healthz');
    // Bootstrap: `keelson apply` creates the service (it waits for it: the CLI is not the service).
    const first = push('1');
    execFileSync(
      process.execPath,
      [join(root, 'bin/keelson.js'), 'apply', join(dir, 'work', 'desired-state'), '--auto-approve', '--no-color'],
      {
        env: {
          ...process.env,
          DOCKER_HOST: host,
          KEELSON_STATE_PATH: join(dir, 'state', 'state.json'),
          KEELSON_OWNER: 'upg',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // The service's keelson takes the lease and finds itself converged.
    await until(
      () => {
        const s = status();
        return s?.revision === first && s.lease?.role === 'leader';
      },
      'keelson :1 to lead',
      BOUND,
    );
    const one = lease();
    expect(one?.holder).toMatch(new RegExp(`/${SERVICE}\\.1\\.`));
    expect(specWrites()).toEqual([]);

    // :2 -> the service ends on :2, the lease moves to the new task, the update is recorded once done.
    const second = push('2');
    await until(
      () => {
        const l = lease();
        const s = state();
        return (
          l &&
          l.holder !== one?.holder &&
          l.expiresAt > Date.now() &&
          s?.lastGood?.revision === second &&
          s.applied[KEY]?.revision === second &&
          inspect().updateState === 'completed' &&
          running().join() === `${IMAGE}:2`
        );
      },
      'the new task to lead on :2 with the update recorded',
      BOUND,
    );
    expect(lease()?.generation).toBeGreaterThan(one?.generation ?? 0);
    expect(inspect().image).toBe(`${IMAGE}:2`);
    const afterTwo = await until(() => status(), 'the new leader to answer');
    expect(afterTwo.lease).toMatchObject({ role: 'leader', holder: lease()?.holder });
    expect(afterTwo.lastErrors).toEqual([]);
    // Sent once, by the old leader; the new one did not send it again.
    expect(specWrites()).toEqual([{ from: `${IMAGE}:1`, to: `${IMAGE}:2` }]);
    // The old leader was stopped, not killed: it finished and gave the lease up, exit code 0.
    const old = docker([
      'ps',
      '-a',
      '--filter',
      `label=com.docker.swarm.task.name=${one?.holder.split('/')[1]}`,
      '--format',
      '{{.ID}}',
    ]).trim();
    expect(docker(['inspect', '--format', '{{.State.ExitCode}}', old]).trim()).toBe('0');
    const oldLog = execFileSync('docker', ['logs', old], { env: { ...process.env, DOCKER_HOST: host } }).toString();
    // It recognised its own service and did not wait for the rollout that replaced it.
    expect(oldLog).toContain(`not waiting for service ${SERVICE}: it runs this keelson`);
    expect(oldLog).toContain('shutting down: no new pass');
    expect(oldLog).toContain('"msg":"stopped"');

    // :bad -> keelson exits at once: never healthy, Swarm rolls back, the leader stays.
    const two = lease();
    const bad = push('bad');
    const held = await until(
      () => {
        const s = status();
        return s?.lastErrors.some((e) => e.code === 'ROLLBACK' && e.resource === KEY) ? s : undefined;
      },
      'keelson to report the rolled-back update',
      BOUND,
    );
    expect(held.revision).toBe(bad);
    expect(held.lastErrors.find((e) => e.code === 'ROLLBACK')?.message).toMatch(
      /rolled back.*Swarm rolled the update back: task upg-keelson\.1 exited with code 1.*does not send it again until the resource changes in Git/,
    );
    expect(inspect()).toEqual({ image: `${IMAGE}:2`, updateState: 'rollback_completed' });
    expect(lease()?.holder).toBe(two?.holder);
    expect(fromLeader('/metrics')).toMatch(/keelson_rolled_back_resources\{provider="swarm",kind="swarm\.Service"\} 1/);
    // Three more passes on the same commit: :bad is not sent again.
    await until(() => (status()?.passes ?? 0) >= held.passes + 3, 'three more passes', BOUND);
    expect(status()?.lastErrors.map((e) => e.code)).toEqual(['ROLLBACK']);
    const writes = specWrites();
    // The rollback is Swarm's own (an update-state event), not a write.
    expect(writes).toEqual([
      { from: `${IMAGE}:1`, to: `${IMAGE}:2` },
      { from: `${IMAGE}:2`, to: `${IMAGE}:bad` },
    ]);
    // Not drift: the rolled-back spec was never recorded as applied.
    expect(state()?.applied[KEY]?.revision).toBe(second);

    // :2 back in Git -> converged with nothing to send; the report clears.
    const fixed = push('2');
    await until(
      () => {
        const s = status();
        return s?.revision === fixed && s.lastErrors.length === 0 ? s : undefined;
      },
      'keelson to converge the fix',
      BOUND,
    );
    expect(fromLeader('/metrics')).toMatch(/keelson_rolled_back_resources\{provider="swarm",kind="swarm\.Service"\} 0/);
    expect(specWrites()).toEqual(writes);
    expect(lease()?.holder).toBe(two?.holder);

    // A new tag after the hold is sent (Git changed the service), and the upgrade runs again from
    // a task that itself came from one.
    const third = push('3');
    await until(
      () => {
        const l = lease();
        const s = state();
        return (
          l &&
          l.holder !== two?.holder &&
          l.expiresAt > Date.now() &&
          s?.applied[KEY]?.revision === third &&
          inspect().updateState === 'completed' &&
          running().join() === `${IMAGE}:3`
        );
      },
      'the upgrade to :3',
      BOUND,
    );
    expect(specWrites()).toEqual([...writes, { from: `${IMAGE}:2`, to: `${IMAGE}:3` }]);
    expect((await until(() => status(), 'the :3 leader to answer')).lastErrors).toEqual([]);
  }, 900_000);
});
