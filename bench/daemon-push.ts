/**
 * git push to converged through the signed webhook on the local Swarm: 20 pushes of a small
 * change (a service label), each timed from `git push` until the daemon reports the new revision
 * reconciled. Prints p50/p95; asserts nothing. Needs a Docker Engine (started like the tests do).
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { swarmModule } from '../providers/swarm/index.ts';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { createLogger } from '../reconciler/observability/logger.ts';

const NAME = 'kbench-push';
const PUSHES = 20;
const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@b',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@b',
};

const service = (label: number) => `kind: swarm.Service
name: ${NAME}
spec:
  image: keelson-test/busybox:1
  args: [sleep, '3600']
  init: true
  stopGracePeriod: 1s
  labels: { bench: '${label}' }
  deploy:
    replicas: 1
    restartPolicy: { delay: 1s }
    updateConfig: { monitor: 1s }
`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export async function run(): Promise<void> {
  const { ensureLocalSwarm } = await import('../scripts/local-swarm.ts');
  const swarm = await ensureLocalSwarm();
  const root = mkdtempSync(join(tmpdir(), 'keelson-bench-push-'));
  const bare = join(root, 'infra.git');
  const work = join(root, 'work');
  const git = (args: string[], cwd = work) =>
    execFileSync('git', args, { cwd, env: GIT_ENV, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  git(['init', '-q', '--bare', '-b', 'main', bare], root);
  git(['clone', '-q', bare, work], root);
  git(['checkout', '-q', '-b', 'main']);
  mkdirSync(join(work, 'desired-state'));
  const push = (label: number): string => {
    writeFileSync(join(work, 'desired-state', 'svc.yaml'), service(label));
    git(['commit', '-q', '-am', `label ${label}`]);
    git(['push', '-q', 'origin', 'HEAD:main']);
    return git(['rev-parse', 'HEAD']);
  };
  writeFileSync(join(work, 'desired-state', 'svc.yaml'), service(0));
  git(['add', '-A']);
  push(0);

  const loaded = loadConfig({
    env: {
      KEELSON_SOURCE_URL: `file://${bare}`,
      KEELSON_SOURCE_PATH: 'desired-state',
      KEELSON_CHECKOUT_DIR: join(root, 'checkout'),
      KEELSON_STATE_PATH: join(root, 'state.json'),
      KEELSON_HTTP_HOST: '127.0.0.1',
      KEELSON_HTTP_PORT: '0',
      KEELSON_POLL_INTERVAL_SECONDS: '3600',
      KEELSON_WEBHOOK_SECRET: 'bench',
      KEELSON_WEBHOOK_RATE_PER_MINUTE: '600',
      KEELSON_OWNER: 'keelson-bench',
      KEELSON_LOG_LEVEL: 'silent',
    },
    cwd: root,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const daemon = new Daemon(loaded.config, createLogger('silent'), {
    modules: [swarmModule],
    env: { DOCKER_HOST: swarm.dockerHost },
  });
  const base = (await daemon.start()).replace('0.0.0.0', '127.0.0.1');
  const converged = (sha: string) =>
    daemon.status.data.revision === sha &&
    daemon.status.data.conditions.some((c) => c.type === 'Reconciled' && c.status === 'True');
  const wait = async (sha: string) => {
    const deadline = Date.now() + 120_000;
    while (!(converged(sha) && daemon.loop.passes > 0 && !busy())) {
      if (Date.now() > deadline) throw new Error(`revision ${sha} did not converge within 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  let passesAtPush = 0;
  const busy = () => daemon.status.data.passes <= passesAtPush;
  await wait(git(['rev-parse', 'HEAD']));

  const times: number[] = [];
  const phases: Record<string, number>[] = [];
  try {
    for (let i = 1; i <= PUSHES; i++) {
      passesAtPush = daemon.status.data.passes;
      const t0 = performance.now();
      const sha = push(i);
      const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
      const res = await fetch(`${base}/hooks/git`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': `sha256=${createHmac('sha256', 'bench').update(body).digest('hex')}`,
        },
        body,
      });
      await res.arrayBuffer();
      await wait(sha);
      times.push(performance.now() - t0);
      phases.push({ ...daemon.step.lastTimings });
    }
  } finally {
    await daemon.stop();
    execFileSync('docker', ['service', 'rm', NAME], {
      env: { ...process.env, DOCKER_HOST: swarm.dockerHost },
      stdio: 'ignore',
    });
  }
  const sorted = [...times].sort((a, b) => a - b);
  printPhases(phases, times);
  console.log(
    `git push -> converged via webhook (label change, local Swarm, ${PUSHES} pushes): p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, max ${sorted[sorted.length - 1]?.toFixed(0)} ms`,
  );
}

/**
 * Where a push's time goes: the median of each phase of the pass that converged it (fetch, load,
 * then the engine's steps; `settle` is inside `apply`), and what is left of the total (git push,
 * webhook, scheduling).
 */
function printPhases(phases: readonly Record<string, number>[], totals: readonly number[]): void {
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const order = [
    'fetch',
    'load',
    'open',
    'observe',
    'journal',
    'plan',
    'apply',
    'settle',
    'stabilise',
    'record',
    'report',
  ];
  const names = [...new Set([...order, ...phases.flatMap((p) => Object.keys(p))])].filter((n) =>
    phases.some((p) => p[n] !== undefined),
  );
  const rest = phases.map((p, i) => {
    const counted = Object.entries(p)
      .filter(([k]) => k !== 'settle')
      .reduce((a, [, v]) => a + v, 0);
    return (totals[i] ?? 0) - counted;
  });
  console.log('where a push goes (median ms per phase of the converging pass):');
  for (const n of names)
    console.log(
      `  ${n.padEnd(10)} ${med(phases.map((p) => p[n] ?? 0))
        .toFixed(1)
        .padStart(7)}`,
    );
  console.log(`  ${'other'.padEnd(10)} ${med(rest).toFixed(1).padStart(7)}   (git push, webhook, scheduling)`);
}

if (import.meta.main) await run();
