import { execFileSync } from 'node:child_process';
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
