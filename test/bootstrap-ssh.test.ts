/**
 * How `keelson bootstrap` reaches a Hetzner node's Docker Engine in production: `ssh://root@<ip>`,
 * docker-modem opening an SSH session and running `docker system dial-stdio` on the host. Here the
 * "host" is Debian's sshd on loopback (its own host key, config and authorized key; no system file
 * touched) whose sessions get DOCKER_HOST of the tests' engine, so dial-stdio reaches a real Swarm
 * manager. The engine client is the one bootstrap uses (NodeEngine, dockerode over ssh2).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSwarmProvider } from '../providers/swarm/index.ts';
import { testDockerHost } from '../providers/swarm/test-support.ts';
import { NodeEngine } from '../reconciler/bootstrap/node-engine.ts';
import { until } from './daemon-support.ts';

const sshd = '/usr/sbin/sshd';
const unavailable =
  process.getuid?.() !== 0
    ? 'sshd must run as root here (it logs in as root, as bootstrap does on Hetzner servers)'
    : !existsSync(sshd)
      ? `${sshd} is missing (Debian's openssh-server; scripts/setup.sh installs it)`
      : undefined;
if (unavailable) console.log(`bootstrap over SSH NOT run: ${unavailable}`);

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });

const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

describe.skipIf(unavailable !== undefined)(
  'a node engine reached over ssh:// (as bootstrap reaches Hetzner servers)',
  () => {
    let dir = '';
    let port = 0;
    let daemon: ChildProcess | undefined;
    const engineHost = () => testDockerHost();

    beforeAll(async () => {
      dir = mkdtempSync('/tmp/bst-ssh-');
      for (const key of ['host_key', 'client_key', 'other_key'])
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, key)]);
      writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
      port = await freePort();
      writeFileSync(
        join(dir, 'sshd_config'),
        [
          `Port ${port}`,
          'ListenAddress 127.0.0.1',
          `HostKey ${join(dir, 'host_key')}`,
          `PidFile ${join(dir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
          'PermitRootLogin prohibit-password',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'StrictModes no',
          // What a Hetzner node has by itself: docker on the PATH, talking to its local engine.
          `SetEnv DOCKER_HOST=${engineHost()}`,
          '',
        ].join('\n'),
      );
      // sshd's privilege separation directory (Debian's service makes it at boot).
      mkdirSync('/run/sshd', { recursive: true });
      daemon = spawn(sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      daemon.stderr?.on('data', (c: Buffer) => {
        log += c.toString();
      });
      await until(
        async () => (daemon?.exitCode === null ? answers(port) : Promise.reject(new Error(log))),
        'sshd to listen',
        20_000,
      );
    }, 60_000);

    afterAll(() => {
      daemon?.kill('SIGTERM');
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('reads the engine version and its Swarm membership over SSH, the same engine as over its socket', async () => {
      const engine = new NodeEngine(
        { name: 'ssh-node', dockerHost: `ssh://root@127.0.0.1:${port}`, advertiseAddr: '127.0.0.1' },
        { privateKey: readFileSync(join(dir, 'client_key'), 'utf8') },
      );
      const direct = new NodeEngine({ name: 'direct', dockerHost: engineHost(), advertiseAddr: '127.0.0.1' });
      expect(await engine.version()).toBe(await direct.version());
      const overSsh = await engine.membership();
      expect(overSsh).toMatchObject({ state: 'active', manager: true });
      expect(overSsh.nodeId).toBe((await direct.membership()).nodeId);
      // The manager token is what the Swarm step reads from the first node (never printed).
      expect(await engine.managerToken()).toMatch(/^SWMTKN-1-/);
    }, 60_000);

    it('the swarm provider works through ssh:// too (connect checks it is a manager)', async () => {
      const provider = createSwarmProvider({
        dockerHost: `ssh://root@127.0.0.1:${port}`,
        ssh: { privateKey: readFileSync(join(dir, 'client_key'), 'utf8') },
      });
      await provider.client.ping(20_000);
      expect((await provider.client.listNodes()).length).toBeGreaterThan(0);
    }, 60_000);

    it('with known_hosts, a node whose host key it lists is reached, any other host key is refused', async () => {
      const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
      const otherKey = readFileSync(join(dir, 'other_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
      const engine = (knownHosts: string) =>
        new NodeEngine(
          { name: 'ssh-node', dockerHost: `ssh://root@127.0.0.1:${port}`, advertiseAddr: '127.0.0.1' },
          { privateKey: readFileSync(join(dir, 'client_key'), 'utf8'), knownHosts },
        );
      expect(await engine(`[127.0.0.1]:${port} ${hostKey}\n`).version()).toMatch(/\d/);
      // Why refused: the file names this host with another key (a server that is not the one created).
      await expect(engine(`[127.0.0.1]:${port} ${otherKey}\n`).version()).rejects.toThrow(/verification failed/i);
      // Why refused: the key is right but listed for port 22 only, and the node answers on another port.
      await expect(engine(`127.0.0.1 ${hostKey}\n`).version()).rejects.toThrow(/verification failed/i);
    }, 60_000);

    it('a key the node does not accept fails with the SSH reason, which the docker step shows', async () => {
      const engine = new NodeEngine(
        { name: 'ssh-node', dockerHost: `ssh://root@127.0.0.1:${port}`, advertiseAddr: '127.0.0.1' },
        { privateKey: readFileSync(join(dir, 'other_key'), 'utf8') },
      );
      await expect(engine.version()).rejects.toThrow(/authentication/i);
    }, 60_000);
  },
);
