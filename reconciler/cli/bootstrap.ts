import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorMessage } from '../../providers/sdk/index.ts';
import { makeSecretSource, makeSource } from '../app/daemon.ts';
import { type BootstrapLine, type NodeOverride, runBootstrap } from '../bootstrap/bootstrap.ts';
import { BootstrapError } from '../bootstrap/bootstrap-error.ts';
import { formatConfigProblems, loadConfig } from '../config/load-config.ts';
import { FileStateStore } from '../state/file-store.ts';
import { cliLogger, parse, UsageError } from './common.ts';

export const BOOTSTRAP_USAGE = `Usage: keelson bootstrap [--config FILE] [--node NAME=DOCKER_HOST[,advertise=ADDR]]...
                         [--ssh-key FILE] [--known-hosts FILE] [--state FILE] [--stack NAME]
                         [--timeout SECONDS]

From an empty Hetzner project and the desired-state repository to keelson running on a formed
Swarm. Safe to run again: what is there is left alone. The repository, owner and secret source are
read as "keelson serve" reads them (--config FILE or keelson.yaml, KEELSON_* variables); the
project from HCLOUD_TOKEN (or HCLOUD_TOKEN_FILE) and HCLOUD_ENDPOINT.

  --node NAME=DOCKER_HOST[,advertise=ADDR]
                      reach server NAME's Docker Engine at DOCKER_HOST (unix://, tcp://, ssh://)
                      and advertise ADDR in the Swarm; repeat per node. Default for every node:
                      ssh://root@<its public IPv4>, advertising its private network address
  --ssh-key FILE      private key for ssh:// engines (default: the SSH agent, SSH_AUTH_SOCK)
  --known-hosts FILE  OpenSSH known_hosts: refuse a node whose SSH host key it does not list
                      (without it any host key is accepted, as a first ssh to a new server does)
  --state FILE        state file (default: the configured state.path, .keelson/state.json)
  --stack NAME        the swarm.Stack that runs keelson (default keelson)
  --timeout SECONDS   longest wait of one step (servers starting, Docker answering, a task
                      running; default 900)
`;

/** `keelson bootstrap`: exit 0 when keelson runs on the Swarm, 1 when a step failed, 2 on bad input. */
export async function bootstrapCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    config: { type: 'string', short: 'c' },
    node: { type: 'string', multiple: true },
    'ssh-key': { type: 'string' },
    'known-hosts': { type: 'string' },
    state: { type: 'string' },
    stack: { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(BOOTSTRAP_USAGE);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument "${positionals[0]}"; run "keelson bootstrap --help"`);
  const nodes = parseNodes((values.node as string[] | undefined) ?? []);
  const timeoutText = values.timeout as string | undefined;
  const timeout = timeoutText === undefined ? 900 : Number(timeoutText);
  if (!(Number.isFinite(timeout) && timeout > 0))
    throw new UsageError(`--timeout takes a number of seconds, got "${timeoutText}"`);
  const sshKeyFile = values['ssh-key'] as string | undefined;
  let privateKey: string | undefined;
  if (sshKeyFile) {
    try {
      privateKey = readFileSync(sshKeyFile, 'utf8');
    } catch (error) {
      throw new UsageError(
        `--ssh-key ${sshKeyFile} cannot be read: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
      );
    }
  }

  const knownHostsFile = values['known-hosts'] as string | undefined;
  let knownHosts: string | undefined;
  if (knownHostsFile) {
    try {
      knownHosts = readFileSync(knownHostsFile, 'utf8');
    } catch (error) {
      throw new UsageError(
        `--known-hosts ${knownHostsFile} cannot be read: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
      );
    }
  }
  const loaded = loadConfig({
    ...(values.config !== undefined ? { file: values.config as string } : {}),
    env: process.env,
    cwd: process.cwd(),
  });
  if (!loaded.ok) {
    process.stderr.write(
      `keelson bootstrap: the configuration has ${loaded.problems.length} problem(s):\n${formatConfigProblems(loaded.problems)}\n`,
    );
    return 2;
  }
  const config = loaded.config;
  const statePath = resolve(
    (values.state as string | undefined) ??
      (config.state.backend === 'file' ? config.state.path : '.keelson/state.json'),
  );
  const log = await cliLogger();
  const source = makeSource(config, log);
  process.stdout.write(`keelson bootstrap: ${source.description} (owner ${config.owner}, state ${statePath})\n`);
  const print = (l: BootstrapLine): void => {
    process.stdout.write(
      `  ${l.step.padEnd(8)} ${l.subject.padEnd(40)} ${l.status}${l.detail ? ` (${l.detail})` : ''}\n`,
    );
  };
  try {
    const result = await runBootstrap({
      source,
      env: process.env,
      store: new FileStateStore(statePath),
      owner: config.owner,
      secrets: makeSecretSource(config, process.env),
      log,
      nodes,
      ssh: { ...(privateKey ? { privateKey } : {}), ...(knownHosts !== undefined ? { knownHosts } : {}) },
      ...(values.stack ? { stack: values.stack as string } : {}),
      stepTimeoutMs: timeout * 1000,
      onLine: print,
    });
    const services = result.services.map((s) => s.name).join(', ');
    const notReady = result.services.some((s) => s.readyz?.type === 'answer' && s.readyz.status !== 200);
    process.stdout.write(
      [
        `keelson bootstrap: done at revision ${result.revision.slice(0, 12)}: the Swarm is formed and keelson runs on it (${services}).`,
        'Next:',
        `  - change the system with git push to ${source.description}; keelson on the Swarm applies it (itself included).`,
        `  - watch it: DOCKER_HOST=${result.manager.endpoint} docker service logs -f ${result.services[0]?.name ?? ''}; /status and /metrics on its HTTP port.`,
        ...(notReady
          ? [
              '  - keelson answered that it is not ready yet (see above): its /status says which pass or provider fails.',
            ]
          : []),
        '  - a server replaced later: run keelson bootstrap again; it joins the new node and leaves the rest alone.',
        '',
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    if (error instanceof BootstrapError) {
      process.stderr.write(`keelson bootstrap failed: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await source.close?.();
  }
}

/** `--node NAME=DOCKER_HOST[,advertise=ADDR]`, repeated: one override per server name. */
export function parseNodes(flags: readonly string[]): Map<string, NodeOverride> {
  const out = new Map<string, NodeOverride>();
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const name = flag.slice(0, eq);
    const [dockerHost = '', ...options] = flag.slice(eq + 1).split(',');
    if (eq <= 0 || !/^[a-z]+:\/\/./.test(dockerHost)) {
      throw new UsageError(
        `--node "${flag}": expected NAME=DOCKER_HOST[,advertise=ADDR], e.g. swarm-1=ssh://root@203.0.113.7,advertise=10.0.1.11`,
      );
    }
    if (!/^(unix|tcp|ssh):\/\//.test(dockerHost))
      throw new UsageError(`--node "${flag}": DOCKER_HOST must start with unix://, tcp:// or ssh://`);
    let advertiseAddr: string | undefined;
    for (const option of options) {
      const [key, value] = option.split('=', 2);
      if (key === 'advertise' && value) advertiseAddr = value;
      else throw new UsageError(`--node "${flag}": unknown option "${option}" (the only one is advertise=ADDR)`);
    }
    if (out.has(name)) throw new UsageError(`--node ${name} is given twice`);
    out.set(name, { dockerHost, ...(advertiseAddr ? { advertiseAddr } : {}) });
  }
  return out;
}
