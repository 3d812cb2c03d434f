/**
 * Settling fails fast and says what it is waiting for, on the real engine: a task that cannot
 * start, with a spent restart policy, fails the apply with the task's error as soon as Swarm gives
 * up (the time bound is set to ten minutes, so only the fail-fast path can end the test in
 * time); a one-shot task that completes is converged; a health check with a long interval
 * makes a healthy rollout wait for it instead of timing out (the start allowance is one second,
 * so the old bound would have expired first). Progress lines are logged while waiting. A change
 * that restarts no task (a service label) settles on the first look: its task started running
 * long ago by the engine's clock, so there is no second to wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeelsonError, type Logger } from '../providers/sdk/index.ts';
import { resolvedResource, testContext } from '../providers/sdk/testing.ts';
import { ServiceHandler } from '../providers/swarm/kinds/service.ts';
import { serviceSchema } from '../providers/swarm/kinds/service-schema.ts';
import { CHECKOUT_TAG, sweep, TEST_IMAGE, testClient } from '../providers/swarm/test-support.ts';

const PREFIX = `k${CHECKOUT_TAG}st-`;
const client = testClient();

beforeAll(() => sweep(client, PREFIX));
afterAll(() => sweep(client, PREFIX));

function recorder(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const note = (_obj: object, msg?: string) => {
    if (msg) lines.push(msg);
  };
  return { log: { debug: note, info: note, warn: note, error: note }, lines };
}

async function createAndSettle(handler: ServiceHandler, name: string, spec: Record<string, unknown>, log: Logger) {
  const ctx = testContext({ owner: `keelson-settle-test-${CHECKOUT_TAG}`, log });
  const applied = await handler.create(ctx, resolvedResource(serviceSchema, name, spec));
  await handler.settle(ctx, applied);
}

describe('settling a service', { timeout: 120_000 }, () => {
  it('fails at once, with the task error, when Swarm gives up restarting a task', async () => {
    const handler = new ServiceHandler(client, { taskStartMs: 600_000, pollMs: 250 });
    const { log, lines } = recorder();
    const error = await createAndSettle(
      handler,
      `${PREFIX}false`,
      {
        image: TEST_IMAGE,
        // fails when its container starts, so it is never seen running: no timing in the verdict
        command: ['/no/such/program'],
        deploy: { restartPolicy: { condition: 'any', maxAttempts: 2, delay: '0s' } },
      },
      log,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeelsonError);
    expect(error).toMatchObject({ code: 'TASK_FAILED', class: 'terminal' });
    expect((error as Error).message).toMatch(
      new RegExp(
        `^service ${PREFIX}false cannot start: Swarm gave up restarting it .*task ${PREFIX}false\\.1 exited with code 127 \\(starting container failed: .*no such file or directory`,
      ),
    );
    // progress was reported while waiting
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^waiting for service ${PREFIX}false: 0/1 task running`)),
    );
  });

  it('does not take a task that runs for a moment and exits for a converged service (the stability window)', async () => {
    // The window is a minute here and the task exits after about two seconds, so no scheduling
    // delay can make it look stable: it is reported when Swarm gives up, never as converged.
    const handler = new ServiceHandler(client, { taskStartMs: 600_000, pollMs: 250, stableMs: 60_000 });
    const error = await createAndSettle(
      handler,
      `${PREFIX}brief`,
      {
        image: TEST_IMAGE,
        command: ['sh', '-c', 'sleep 2; exit 4'],
        deploy: { restartPolicy: { condition: 'on-failure', maxAttempts: 1, delay: '0s' } },
      },
      recorder().log,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'TASK_FAILED', class: 'terminal' });
    expect((error as Error).message).toMatch(new RegExp(`task ${PREFIX}brief\\.1 exited with code 4`));
  });

  it('takes a one-shot task that completed as converged', async () => {
    const handler = new ServiceHandler(client, { taskStartMs: 600_000, pollMs: 250 });
    await createAndSettle(
      handler,
      `${PREFIX}once`,
      { image: TEST_IMAGE, command: ['/bin/true'], deploy: { restartPolicy: { condition: 'on-failure' } } },
      recorder().log,
    );
    const tasks = await client.listTasks({ service: [`${PREFIX}once`] });
    expect(tasks.map((t) => t.Status.State)).toEqual(['complete']);
  });

  it('waits for the first health check of a long interval instead of timing out', async () => {
    const handler = new ServiceHandler(client, { taskStartMs: 1_000, pollMs: 250 });
    const { log, lines } = recorder();
    await createAndSettle(
      handler,
      `${PREFIX}health`,
      {
        image: TEST_IMAGE,
        args: ['sleep', '3600'],
        init: true,
        stopGracePeriod: '1s',
        healthcheck: { test: ['CMD', 'true'], interval: '20s', timeout: '2s' },
        deploy: { updateConfig: { monitor: '1s' } },
      },
      log,
    );
    const running = await client.listTasks({ service: [`${PREFIX}health`], 'desired-state': ['running'] });
    expect(running.map((t) => t.Status.State)).toEqual(['running']);
    // it was seen waiting for the health check (the task is "starting" until healthy)
    expect(lines).toContainEqual(expect.stringMatching(/0\/1 task running \(1 starting\)/));
  });

  it('settles a change that restarts no task on its first look (the task ran long enough, by its timestamp)', async () => {
    const handler = new ServiceHandler(client, { taskStartMs: 600_000, pollMs: 250 });
    const ctx = testContext({ owner: `keelson-settle-test-${CHECKOUT_TAG}`, log: recorder().log });
    const spec = (label: string) => ({
      image: TEST_IMAGE,
      args: ['sleep', '3600'],
      init: true,
      stopGracePeriod: '1s',
      labels: { run: label },
    });
    const created = await handler.create(ctx, resolvedResource(serviceSchema, `${PREFIX}label`, spec('1')));
    // converged means its task has run for a second by now, by the engine's clock
    await handler.settle(ctx, created);
    const engineNow = Date.parse(((await client.docker.info()) as { SystemTime: string }).SystemTime);
    const [task] = await client.listTasks({ service: [`${PREFIX}label`], 'desired-state': ['running'] });
    expect(task?.Status.State).toBe('running');
    expect(engineNow - Date.parse(task?.Status.Timestamp ?? '')).toBeGreaterThanOrEqual(1_000);
    const updated = await handler.update(
      ctx,
      resolvedResource(serviceSchema, `${PREFIX}label`, spec('2')),
      created,
      [],
    );
    const reads = client.readCount();
    await handler.settle(ctx, updated);
    // one look: one list of services and one of tasks (the engine's clock was read already)
    expect(client.readCount() - reads).toBe(2);
  });
});
