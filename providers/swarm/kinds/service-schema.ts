import type { Field, KindSchema } from '../../sdk/index.ts';

export const SERVICE_KIND = 'swarm.Service';

const str = (description: string, extra: Partial<Field> = {}): Field =>
  ({ type: 'string', description, ...extra }) as Field;
const strings = (description: string, extra: Partial<Field> = {}): Field =>
  ({ type: 'array', items: { type: 'string' }, default: [], description, ...extra }) as Field;
const labels = (description: string): Field => ({ type: 'map', values: { type: 'string' }, default: {}, description });
const duration = (description: string, dflt: string): Field => ({
  type: 'string',
  pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^[0-9]+$',
  default: dflt,
  description: `${description} A duration (30s, 1m30s, 500ms). Default ${dflt}.`,
});
const size: Field = {
  type: 'string',
  pattern: '^[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT]i?[bB]?|[bB])?$',
  default: '0',
  description: 'Memory: 512M, 1G, or bytes. Default 0 (none).',
};

function rolloutConfig(what: string, failureAction: string): Field {
  return {
    type: 'object',
    default: {},
    description: `How Swarm rolls ${what}.`,
    properties: {
      parallelism: { type: 'integer', minimum: 0, default: 1, description: 'Tasks at a time (0: all). Default 1.' },
      delay: duration('Pause between batches.', '0s'),
      failureAction: {
        type: 'string',
        enum: ['pause', 'continue', 'rollback'],
        default: failureAction,
        description: `What Swarm does when a task fails. Default ${failureAction}.`,
      },
      monitor: duration('How long a new task is watched for failure.', '5s'),
      maxFailureRatio: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0,
        description: 'Failures tolerated. Default 0.',
      },
      order: {
        type: 'string',
        enum: ['stop-first', 'start-first'],
        default: 'stop-first',
        description: 'Stop the old task first, or start the new one first. Default stop-first.',
      },
    },
  };
}

const fileRef = (what: 'secret' | 'config'): Field => ({
  type: 'array',
  set: true,
  default: [],
  description: `${what === 'secret' ? 'Secrets' : 'Configs'} given to the tasks as files.`,
  items: {
    type: 'object',
    properties: {
      source: {
        type: 'string',
        required: true,
        referenceable: true,
        description: `The ${what}: { ref: "swarm.${what === 'secret' ? 'Secret' : 'Config'}/NAME", output: "name" } for one keelson manages (moves to each new version), or the name of an existing ${what}.`,
      },
      target: {
        type: 'string',
        required: true,
        description:
          what === 'secret'
            ? 'File name under /run/secrets (or an absolute path).'
            : 'Absolute path of the file in the container.',
      },
      uid: { type: 'string', default: '0', description: 'Owner uid. Default 0.' },
      gid: { type: 'string', default: '0', description: 'Owner gid. Default 0.' },
      mode: { type: 'integer', default: 0o444, description: 'File mode, decimal (292 = 0444). Default 292.' },
    },
  },
});

/** `swarm.Service`: a Compose-like service spec. Ownership labels go on the service, never on its tasks. */
export const serviceSchema: KindSchema = {
  kind: SERVICE_KIND,
  description:
    'A Swarm service. keelson waits for each rolling update to finish; a rollback or pause is a failed apply that names the failing task.',
  spec: {
    image: str('Image reference. Pinned to its registry digest at deploy when the engine can resolve one.', {
      required: true,
    }),
    command: strings('Overrides the image entrypoint (ContainerSpec.Command; Compose: entrypoint).'),
    args: strings('Arguments (ContainerSpec.Args; Compose: command).'),
    env: { type: 'map', values: { type: 'string' }, default: {}, description: 'Environment variables.' },
    workdir: str('Working directory. Default: the image’s.', { default: '' }),
    user: str('User (name or uid[:gid]). Default: the image’s.', { default: '' }),
    hostname: str('Container hostname. Default: Docker’s.', { default: '' }),
    init: { type: 'boolean', default: false, description: 'Run an init process (tini) as PID 1. Default false.' },
    stopGracePeriod: duration('Time to stop before the task is killed.', '10s'),
    labels: labels('Service labels (Compose: deploy.labels).'),
    containerLabels: labels('Container labels (Compose: labels).'),
    mounts: {
      type: 'array',
      set: true,
      default: [],
      description: 'Volumes, bind mounts and tmpfs.',
      items: {
        type: 'object',
        properties: {
          type: {
            type: 'string',
            enum: ['volume', 'bind', 'tmpfs'],
            default: 'volume',
            description: 'Default volume.',
          },
          source: str('Volume name or host path (empty for tmpfs or an anonymous volume).', { default: '' }),
          target: str('Path in the container.', { required: true }),
          readOnly: { type: 'boolean', default: false, description: 'Default false.' },
        },
      },
    },
    networks: {
      type: 'array',
      set: true,
      default: [],
      description: 'Networks to attach, by name (or { ref: "swarm.Network/NAME" }).',
      items: {
        type: 'object',
        properties: {
          name: str('Network name.', { required: true, referenceable: true }),
          aliases: strings('Extra DNS names on this network.', { set: true }),
        },
      },
    },
    secrets: fileRef('secret'),
    configs: fileRef('config'),
    ports: {
      type: 'array',
      set: true,
      default: [],
      description: 'Published ports.',
      items: {
        type: 'object',
        properties: {
          target: { type: 'integer', minimum: 1, maximum: 65535, required: true, description: 'Container port.' },
          published: { type: 'integer', minimum: 1, maximum: 65535, required: true, description: 'Published port.' },
          protocol: { type: 'string', enum: ['tcp', 'udp', 'sctp'], default: 'tcp', description: 'Default tcp.' },
          mode: {
            type: 'string',
            enum: ['ingress', 'host'],
            default: 'ingress',
            description: 'ingress (routing mesh) or host (the node running the task). Default ingress.',
          },
        },
      },
    },
    endpointMode: { type: 'string', enum: ['vip', 'dnsrr'], default: 'vip', description: 'Default vip.' },
    healthcheck: {
      type: 'object',
      description: 'Container health check (omit to keep the image’s).',
      properties: {
        test: strings('["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"].', { required: true }),
        interval: duration('Between checks.', '0s'),
        timeout: duration('Per check.', '0s'),
        retries: { type: 'integer', minimum: 0, default: 0, description: 'Default 0 (Docker’s 3).' },
        startPeriod: duration('Grace period at start.', '0s'),
      },
    },
    deploy: {
      type: 'object',
      default: {},
      description: 'Scheduling, resources and rollout (Compose: deploy).',
      properties: {
        mode: {
          type: 'string',
          enum: ['replicated', 'global'],
          default: 'replicated',
          description: 'Default replicated.',
        },
        replicas: { type: 'integer', minimum: 0, default: 1, description: 'Tasks (replicated mode). Default 1.' },
        placement: {
          type: 'object',
          default: {},
          description: 'Where tasks may run.',
          properties: {
            constraints: strings('e.g. node.role==manager, node.labels.zone==a.', { set: true }),
            preferences: strings('Spread descriptors, e.g. node.labels.zone.'),
            maxReplicas: { type: 'integer', minimum: 0, default: 0, description: 'Per node (0: no limit). Default 0.' },
          },
        },
        resources: {
          type: 'object',
          default: {},
          description: 'CPU and memory limits and reservations.',
          properties: {
            limits: {
              type: 'object',
              default: {},
              properties: {
                cpus: { type: 'number', minimum: 0, default: 0, description: 'CPUs (0.5 = half). Default 0 (none).' },
                memory: size,
                pids: { type: 'integer', minimum: 0, default: 0, description: 'Max processes. Default 0 (none).' },
              },
            },
            reservations: {
              type: 'object',
              default: {},
              properties: {
                cpus: { type: 'number', minimum: 0, default: 0, description: 'CPUs. Default 0.' },
                memory: size,
              },
            },
          },
        },
        restartPolicy: {
          type: 'object',
          default: {},
          description: 'When Swarm restarts a task.',
          properties: {
            condition: {
              type: 'string',
              enum: ['none', 'on-failure', 'any'],
              default: 'any',
              description: 'Default any.',
            },
            delay: duration('Between restarts.', '5s'),
            maxAttempts: { type: 'integer', minimum: 0, default: 0, description: 'Default 0 (unlimited).' },
            window: duration('Window to evaluate the policy.', '0s'),
          },
        },
        updateConfig: rolloutConfig('an update out', 'rollback'),
        rollbackConfig: rolloutConfig('a rollback back', 'pause'),
      },
    },
  },
  outputs: {
    id: { type: 'string', computed: true, description: "Docker's service id." },
    name: { type: 'string', computed: true, description: 'Service name (its DNS name on its networks).' },
    version: { type: 'integer', computed: true, description: 'Swarm object version.' },
    updatedAt: { type: 'string', computed: true, description: 'When the spec last changed.' },
    imageDigest: { type: 'string', computed: true, description: 'The digest the image is pinned to, if any.' },
    updateState: { type: 'string', computed: true, description: 'UpdateStatus.State of the last rolling update.' },
  },
};
