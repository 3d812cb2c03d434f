import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};

/** A bare repository (the "forge") and a clone to push desired state from. */
export class TestRepo {
  readonly root = mkdtempSync(join(tmpdir(), 'keelson-daemon-'));
  readonly bare = join(this.root, 'infra.git');
  readonly work = join(this.root, 'work');

  constructor() {
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', this.bare]);
    execFileSync('git', ['clone', '-q', this.bare, this.work], { stdio: 'ignore' });
    execFileSync('git', ['checkout', '-q', '-b', 'main'], { cwd: this.work });
  }

  /** Writes the files, commits and pushes; returns the commit sha. */
  push(files: Record<string, string>, message = 'change'): string {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(this.work, name, '..'), { recursive: true });
      writeFileSync(join(this.work, name), text);
    }
    const git = (args: string[]) =>
      execFileSync('git', args, { cwd: this.work, env: GIT_ENV, stdio: ['ignore', 'pipe', 'pipe'] })
        .toString()
        .trim();
    git(['add', '-A']);
    git(['commit', '-q', '--allow-empty', '-m', message]);
    git(['push', '-q', 'origin', 'HEAD:main']);
    return git(['rev-parse', 'HEAD']);
  }
}

/** GitHub-style signed push webhook. */
export async function sendWebhook(base: string, secret: string, body = '{"ref":"refs/heads/main"}'): Promise<number> {
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const res = await fetch(`${base}/hooks/git`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature, 'x-github-event': 'push' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** A loopback receiver for alert webhooks. */
export async function alertReceiver(): Promise<{
  url: string;
  alerts: {
    type: string;
    key: string;
    fingerprint: string;
    fields?: { path: string; before?: string; after?: string }[];
  }[];
  close(): Promise<void>;
}> {
  const alerts: {
    type: string;
    key: string;
    fingerprint: string;
    fields?: { path: string; before?: string; after?: string }[];
  }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      alerts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    alerts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Polls until `check` holds; generous deadline for a loaded machine. */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A port nobody listens on right now (for child processes and Prometheus, which need one up front). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** What a kill-point test reads from `/status`. */
export interface DaemonStatus {
  appliedRevision?: string;
  conditions?: { type: string; status: string }[];
  lastErrors: { code: string; message: string }[];
}

/**
 * A `keelson serve` child (test/daemon-child.ts) on the file cloud, following `repo`: `start(hold)`
 * runs one (FILE_CLOUD_HOLD stops it at a kill point), `converged(sha)` waits until it applied and
 * reconciled that commit, `stop` ends it with SIGTERM. Children go into `children`, for the test's
 * afterEach to kill.
 */
export async function fileCloudDaemon(repo: TestRepo, owner: string, children: ChildProcess[]) {
  const cloud = join(repo.root, 'cloud.json');
  const statePath = join(repo.root, 'state.json');
  const port = await freePort();
  const start = (hold?: string) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'daemon-child.ts')], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        FILE_CLOUD: cloud,
        ...(hold ? { FILE_CLOUD_HOLD: hold } : {}),
        KEELSON_SOURCE_URL: `file://${repo.bare}`,
        KEELSON_SOURCE_PATH: 'desired-state',
        KEELSON_CHECKOUT_DIR: join(repo.root, 'checkout'),
        KEELSON_STATE_PATH: statePath,
        KEELSON_HTTP_HOST: '127.0.0.1',
        KEELSON_HTTP_PORT: String(port),
        KEELSON_POLL_INTERVAL_SECONDS: '3600',
        KEELSON_OWNER: owner,
        KEELSON_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  };
  const status = async (): Promise<DaemonStatus | undefined> => {
    try {
      return (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as DaemonStatus;
    } catch {
      return undefined;
    }
  };
  const converged = (sha: string) =>
    until(
      async () => {
        const s = await status();
        return (
          s?.appliedRevision === sha && s.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'True') && s
        );
      },
      `the daemon to converge on ${sha.slice(0, 12)}`,
      90_000,
    );
  const stop = async (child: ChildProcess) => {
    child.kill('SIGTERM');
    await until(() => child.exitCode !== null, 'a clean exit on SIGTERM', 30_000);
  };
  return { cloud, statePath, port, start, status, converged, stop };
}
