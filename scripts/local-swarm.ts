/**
 * Brings up a Docker Engine in swarm mode for tests and the local demo, and the small images they
 * use. If an engine already answers at DOCKER_HOST (or the default socket) it is used as it is;
 * otherwise a private dockerd is started (vfs storage, no iptables, no bridge, its own data-root,
 * exec-root and socket under /tmp/keelson-dockerd-<hash of the checkout>) and only that daemon is stopped afterwards.
 * Idempotent: safe to run again while the daemon is up.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Unix socket paths are limited to 108 bytes, so the daemon's state lives under a short tmp path
// named after this checkout rather than inside it.
const stateDir = join(tmpdir(), `keelson-dockerd-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`);
const privateSocket = join(stateDir, 'docker.sock');

/** Images the tests use, made with `docker import` (images cannot be pulled here). */
export const TEST_IMAGE = 'keelson-test/busybox:1';
export const TEST_IMAGE_V2 = 'keelson-test/busybox:2';

export interface LocalSwarm {
  /** `unix:///...` address to put in DOCKER_HOST. */
  readonly dockerHost: string;
  /** True when this call started the daemon (and so `stop` will stop it). */
  readonly started: boolean;
  stop(): Promise<void>;
}

function docker(host: string, args: string[], input?: Buffer): string {
  return execFileSync('docker', args, {
    env: { ...process.env, DOCKER_HOST: host },
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
}

function answers(host: string): boolean {
  try {
    docker(host, ['version', '--format', '{{.Server.Version}}']);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

function candidateHosts(): string[] {
  const hosts: string[] = [];
  if (process.env.DOCKER_HOST) hosts.push(process.env.DOCKER_HOST);
  hosts.push(`unix://${privateSocket}`);
  if (existsSync('/var/run/docker.sock')) hosts.push('unix:///var/run/docker.sock');
  return hosts;
}

function startPrivateDaemon(): { pid: number } {
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p));
  if (!dockerd) {
    throw new Error(
      "no Docker Engine answers and dockerd is not installed: install Debian's docker.io (apt-get install docker.io) or set DOCKER_HOST",
    );
  }
  mkdirSync(join(stateDir, 'data'), { recursive: true });
  mkdirSync(join(stateDir, 'exec'), { recursive: true });
  const child = spawn(
    dockerd,
    [
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--storage-driver=vfs',
      `--data-root=${join(stateDir, 'data')}`,
      `--exec-root=${join(stateDir, 'exec')}`,
      `--pidfile=${join(stateDir, 'dockerd.pid')}`,
      `--host=unix://${privateSocket}`,
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'ignore'] },
  );
  child.unref();
  return { pid: child.pid ?? 0 };
}

function ensureSwarmMode(host: string): void {
  const state = docker(host, ['info', '--format', '{{.Swarm.LocalNodeState}}']).trim();
  if (state !== 'active') docker(host, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
}

/** Builds the busybox test images from Debian's busybox-static with `docker import`. */
export function ensureImages(host: string): void {
  const have = docker(host, ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).split('\n');
  for (const [tag, marker] of [
    [TEST_IMAGE, 'v1'],
    [TEST_IMAGE_V2, 'v2'],
  ] as const) {
    if (have.includes(tag)) continue;
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
    if (!busybox) throw new Error('busybox is not installed: apt-get install busybox-static');
    const dir = mkdtempSync(join(tmpdir(), 'keelson-rootfs-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(busybox, join(dir, 'bin', 'busybox'));
      for (const applet of [
        'sh',
        'sleep',
        'echo',
        'cat',
        'ls',
        'env',
        'httpd',
        'nc',
        'true',
        'false',
        'wget',
        'test',
      ]) {
        symlinkSync('busybox', join(dir, 'bin', applet));
      }
      mkdirSync(join(dir, 'etc'));
      mkdirSync(join(dir, 'tmp'));
      execFileSync('sh', ['-c', `echo ${marker} > ${join(dir, 'etc', 'keelson-test-version')}`]);
      const tar = execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
      docker(host, ['import', '--change', 'ENV PATH=/bin', '-', tag], tar);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

export async function ensureLocalSwarm(): Promise<LocalSwarm> {
  let host = candidateHosts().find(answers);
  let started = false;
  let pid = 0;
  if (!host) {
    pid = startPrivateDaemon().pid;
    host = `unix://${privateSocket}`;
    started = true;
    const h = host;
    await waitFor(() => answers(h), 'the private dockerd answering', 60_000);
  }
  ensureSwarmMode(host);
  ensureImages(host);
  return {
    dockerHost: host,
    started,
    async stop() {
      if (!started) return;
      const pidFile = join(stateDir, 'dockerd.pid');
      const livePid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : pid;
      try {
        process.kill(livePid, 'SIGTERM');
      } catch {
        return;
      }
      await waitFor(
        () => {
          try {
            process.kill(livePid, 0);
            return false;
          } catch {
            return true;
          }
        },
        'the private dockerd stopping',
        30_000,
      ).catch(() => process.kill(livePid, 'SIGKILL'));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const swarm = await ensureLocalSwarm();
  console.log(`export DOCKER_HOST=${swarm.dockerHost}`);
}
