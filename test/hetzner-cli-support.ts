import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** What one run of a command printed and how it ended. */
export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program without blocking the event loop (the simulator under test answers in this process),
 * with a 60 s limit so a client that hangs (e.g. retrying an answer forever) fails the test instead.
 */
export function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Run> {
  return new Promise((done) => {
    execFile(file, [...args], { env, cwd, timeout: 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ status, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Why Debian's `hcloud` CLI cannot run here, or undefined when it can. */
export function hcloudMissing(): string | undefined {
  const probe = spawnSync('hcloud', ['version'], { encoding: 'utf8' });
  return probe.error ? 'the hcloud CLI is not installed (Debian package hcloud-cli)' : undefined;
}

/** A `keelson simulate …` child process and the environment it printed. */
export interface SimulateChild {
  readonly env: Record<string, string>;
  readonly child: ChildProcess;
  /** stderr so far (for failure messages). */
  stderr(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
}

const keelson = resolve(import.meta.dirname, '../bin/keelson.js');

/** Starts `keelson simulate PROVIDER ARGS…` and waits until it printed `expectedKeys`. */
export async function startSimulateChild(
  provider: string,
  args: readonly string[],
  expectedKeys: readonly string[],
): Promise<SimulateChild> {
  const child = spawn(process.execPath, [keelson, 'simulate', provider, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KEELSON_LOG_LEVEL: 'warn' },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const env: Record<string, string> = {};
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((ready, fail) => {
    lines.on('line', (line) => {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!m) return fail(new Error(`keelson simulate printed a line that is not KEY=VALUE: ${line}`));
      env[m[1]!] = m[2]!;
      if (expectedKeys.every((k) => k in env)) ready();
    });
    void exited.then((code) => fail(new Error(`keelson simulate ${provider} exited (${code}) early:\n${err}`)));
  });
  return {
    env,
    child,
    stderr: () => err,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
