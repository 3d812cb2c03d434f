import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../providers/sdk/testing.ts';
import { ReconcileLoop, type StepOutcome, type TriggerReason } from './reconcile-loop.ts';
import { backoffMs, nextIntervalMs } from './schedule.ts';

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A step whose passes finish only when the test releases them. */
function gatedStep() {
  const reasons: TriggerReason[] = [];
  let running = 0;
  let maxRunning = 0;
  const gates: (() => void)[] = [];
  const step = async (_signal: AbortSignal, reason: TriggerReason): Promise<StepOutcome> => {
    reasons.push(reason);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise<void>((r) => gates.push(r));
    running--;
    return { type: 'done' };
  };
  return { step, reasons, gates, max: () => maxRunning };
}

const options = { intervalMs: 3_600_000, jitter: 0, timeoutMs: 60_000, maxBackoffMs: 60_000, log: silentLogger };

describe('ReconcileLoop', () => {
  it('a requeued pass comes back after the time it names, not after the (hour-long) interval', async () => {
    const reasons: TriggerReason[] = [];
    const loop = new ReconcileLoop(async (_signal, reason) => {
      reasons.push(reason);
      return reasons.length === 1 ? { type: 'requeue', afterMs: 10 } : { type: 'done' };
    }, options);
    loop.start();
    await until(() => loop.passes === 2, 'the requeued pass');
    expect(reasons).toEqual(['start', 'timer']);
    await loop.stop();
  });

  it('runs one pass at a time and folds every trigger during a pass into one next pass', async () => {
    const g = gatedStep();
    const loop = new ReconcileLoop(g.step, options);
    loop.start();
    await until(() => g.gates.length === 1, 'first pass');
    loop.trigger('webhook');
    loop.trigger('webhook');
    loop.trigger('file-change');
    g.gates.shift()?.();
    await until(() => g.gates.length === 1 && g.reasons.length === 2, 'second pass');
    g.gates.shift()?.();
    await until(() => loop.passes === 2, 'second pass to end');
    expect(g.reasons).toEqual(['start', 'webhook']);
    expect(g.max()).toBe(1);
    const stopped = loop.stop();
    await stopped;
  });

  it('a trigger while idle starts a pass without waiting for the interval', async () => {
    const g = gatedStep();
    const loop = new ReconcileLoop(g.step, options);
    loop.start();
    await until(() => g.gates.length === 1, 'first pass');
    g.gates.shift()?.();
    await until(() => loop.passes === 1, 'first pass to end');
    loop.trigger('webhook');
    await until(() => g.gates.length === 1, 'triggered pass');
    g.gates.shift()?.();
    await loop.stop();
    expect(g.reasons).toEqual(['start', 'webhook']);
  });

  it('stop waits for the running pass to finish and starts no new one', async () => {
    const g = gatedStep();
    const loop = new ReconcileLoop(g.step, options);
    loop.start();
    await until(() => g.gates.length === 1, 'first pass');
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    loop.trigger('webhook');
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    g.gates.shift()?.();
    await stopping;
    expect(g.reasons).toEqual(['start']);
  });

  it('a step that throws is caught and retried with backoff; the loop keeps going', async () => {
    let calls = 0;
    const loop = new ReconcileLoop(
      async () => {
        calls++;
        if (calls < 3) throw new Error('boom');
        return { type: 'done' };
      },
      { ...options, firstBackoffMs: 1, maxBackoffMs: 5 },
    );
    loop.start();
    await until(() => calls >= 3, 'retries');
    await loop.stop();
  });

  it('aborts a pass that runs past the per-pass timeout', async () => {
    let aborted = false;
    const loop = new ReconcileLoop(
      (signal) =>
        new Promise<StepOutcome>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve({ type: 'done' });
          });
        }),
      { ...options, timeoutMs: 20 },
    );
    loop.start();
    await until(() => aborted, 'abort');
    await loop.stop();
  });
});

describe('schedule', () => {
  it.each([
    { why: 'no jitter is the interval', args: [60_000, 0, 0.9] as const, expected: 60_000 },
    { why: 'full random adds the whole jitter fraction', args: [60_000, 0.1, 1] as const, expected: 66_000 },
  ])('$why', ({ args, expected }) => {
    expect(nextIntervalMs(args[0], args[1], () => args[2])).toBe(expected);
  });

  it.each([
    { failures: 1, expected: 1000 },
    { failures: 2, expected: 2000 },
    { failures: 4, expected: 8000 },
    { failures: 20, expected: 300_000 },
  ])('backoff after $failures failure(s) is $expected ms (doubling, capped)', ({ failures, expected }) => {
    expect(backoffMs(failures, 1000, 300_000, () => 0)).toBe(expected);
  });
});
