/**
 * Every configuration key keelson reads: its place in the YAML file, its environment variable,
 * its type and default. The README table is checked against this list by a test, so the two
 * cannot disagree.
 */
export interface ConfigKey {
  /** Dotted path in the YAML file, e.g. `source.url`. */
  readonly path: string;
  /** Environment variable that overrides the file. */
  readonly env: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'secret';
  /** Allowed values for a string. */
  readonly oneOf?: readonly string[];
  readonly minimum?: number;
  readonly default?: string | number | boolean | readonly string[];
  readonly doc: string;
}

export const CONFIG_KEYS: readonly ConfigKey[] = [
  {
    path: 'source.url',
    env: 'KEELSON_SOURCE_URL',
    type: 'string',
    doc: 'Git URL of the desired state (https://, ssh://, git@host:path or file://). Without credentials in it.',
  },
  { path: 'source.branch', env: 'KEELSON_SOURCE_BRANCH', type: 'string', default: 'main', doc: 'Branch to follow.' },
  {
    path: 'source.path',
    env: 'KEELSON_SOURCE_PATH',
    type: 'string',
    default: '.',
    doc: 'Sub-path of the repository that holds the desired state.',
  },
  {
    path: 'source.directory',
    env: 'KEELSON_SOURCE_DIRECTORY',
    type: 'string',
    doc: 'Local directory mode (development): read this directory instead of Git and watch it for changes. Exclusive with `source.url`.',
  },
  {
    path: 'source.checkoutDir',
    env: 'KEELSON_CHECKOUT_DIR',
    type: 'string',
    default: '.keelson/checkout',
    doc: 'Where the repository is cloned.',
  },
  {
    path: 'source.pollIntervalSeconds',
    env: 'KEELSON_POLL_INTERVAL_SECONDS',
    type: 'number',
    minimum: 0.1,
    default: 60,
    doc: 'Time between passes (fetch + observe + apply) when nothing triggers one earlier.',
  },
  {
    path: 'source.jitter',
    env: 'KEELSON_POLL_JITTER',
    type: 'number',
    minimum: 0,
    default: 0.1,
    doc: 'Random extra delay as a fraction of the interval (0.1 = up to 10 %), so replicas do not poll in step.',
  },
  {
    path: 'source.debounceMs',
    env: 'KEELSON_SOURCE_DEBOUNCE_MS',
    type: 'integer',
    minimum: 0,
    default: 300,
    doc: 'Directory mode: quiet time after the last file change before a pass is asked for.',
  },
  {
    path: 'source.username',
    env: 'KEELSON_GIT_USERNAME',
    type: 'string',
    default: 'git',
    doc: 'User name sent with `source.token` over https.',
  },
  {
    path: 'source.token',
    env: 'KEELSON_GIT_TOKEN',
    type: 'secret',
    doc: 'https token or password. Give it as `KEELSON_GIT_TOKEN`, or as a file with `source.tokenFile` / `KEELSON_GIT_TOKEN_FILE`; never in the URL.',
  },
  {
    path: 'source.sshKeyFile',
    env: 'KEELSON_GIT_SSH_KEY_FILE',
    type: 'string',
    doc: 'Private key file for ssh URLs.',
  },
  {
    path: 'source.knownHostsFile',
    env: 'KEELSON_GIT_KNOWN_HOSTS_FILE',
    type: 'string',
    doc: 'known_hosts file for ssh URLs (host keys are always checked).',
  },
  {
    path: 'source.verifySignatures',
    env: 'KEELSON_VERIFY_SIGNATURES',
    type: 'boolean',
    default: false,
    doc: 'Use a commit only if `git verify-commit` accepts its signature with a key from `source.keyringDir`.',
  },
  {
    path: 'source.keyringDir',
    env: 'KEELSON_KEYRING_DIR',
    type: 'string',
    doc: 'GnuPG home holding the public keys allowed to sign (required with `source.verifySignatures`).',
  },
  {
    path: 'source.allowedKeys',
    env: 'KEELSON_ALLOWED_KEYS',
    type: 'list',
    default: [],
    doc: 'Fingerprints allowed to sign (comma-separated in the environment). Empty: any key in the keyring.',
  },
  {
    path: 'mode',
    env: 'KEELSON_MODE',
    type: 'string',
    oneOf: ['apply', 'plan'],
    default: 'apply',
    doc: '`apply` changes the world; `plan` only observes, plans and reports drift.',
  },
  {
    path: 'owner',
    env: 'KEELSON_OWNER',
    type: 'string',
    default: 'keelson',
    doc: "This instance's owner id, written into ownership labels. Two instances must never share one.",
  },
  {
    path: 'secretsDir',
    env: 'KEELSON_SECRETS_DIR',
    type: 'string',
    default: '/run/secrets',
    doc: 'Directory of files named after `secretRef`s (`KEELSON_SECRET_<NAME>` variables take precedence).',
  },
  {
    path: 'secrets.source',
    env: 'KEELSON_SECRET_SOURCE',
    type: 'string',
    oneOf: ['env', 'dir', 'secret-manager'],
    default: 'dir',
    doc: 'Where `secretRef` values come from: `env` (`KEELSON_SECRET_<NAME>` only), `dir` (those, then files in `secretsDir`), `secret-manager` (Google Secret Manager, see `secrets.project`).',
  },
  {
    path: 'secrets.project',
    env: 'KEELSON_SECRET_MANAGER_PROJECT',
    type: 'string',
    doc: 'Secret Manager: project id holding one secret per `secretRef` name (required with `secrets.source: secret-manager`; `GCP_API_ENDPOINT` + `GCP_ACCESS_TOKEN` point it at a simulator).',
  },
  {
    path: 'secrets.versions',
    env: 'KEELSON_SECRET_MANAGER_VERSIONS',
    type: 'list',
    default: [],
    doc: 'Secret Manager: pinned versions as `name=version` (comma-separated in the environment); other names use `latest`.',
  },
  {
    path: 'state.backend',
    env: 'KEELSON_STATE_BACKEND',
    type: 'string',
    oneOf: ['file', 'firestore'],
    default: 'file',
    doc: 'Where the inventory, create journal, drift and alert state live.',
  },
  {
    path: 'state.path',
    env: 'KEELSON_STATE_PATH',
    type: 'string',
    default: '.keelson/state.json',
    doc: 'File backend: the state file (put it on a volume).',
  },
  {
    path: 'state.firestoreProject',
    env: 'KEELSON_FIRESTORE_PROJECT',
    type: 'string',
    doc: 'Firestore backend: Google Cloud project id (credentials from Application Default Credentials; `FIRESTORE_EMULATOR_HOST` is honoured).',
  },
  {
    path: 'state.firestoreCollection',
    env: 'KEELSON_FIRESTORE_COLLECTION',
    type: 'string',
    default: 'keelson-state',
    doc: 'Firestore backend: collection; the document id is the owner.',
  },
  {
    path: 'http.host',
    env: 'KEELSON_HTTP_HOST',
    type: 'string',
    default: '127.0.0.1',
    doc: 'Address the HTTP server listens on.',
  },
  {
    path: 'http.port',
    env: 'KEELSON_HTTP_PORT',
    type: 'integer',
    minimum: 0,
    default: 8080,
    doc: 'Port of `/`, `/status`, `/metrics`, `/healthz`, `/readyz` and `/hooks/git`.',
  },
  {
    path: 'http.publicUrl',
    env: 'KEELSON_PUBLIC_URL',
    type: 'string',
    doc: 'URL people reach keelson at, used for links in alerts. Default `http://localhost:<port>`.',
  },
  {
    path: 'webhook.secret',
    env: 'KEELSON_WEBHOOK_SECRET',
    type: 'secret',
    doc: 'Shared secret of the push webhook (GitHub/Gitea/Forgejo HMAC, GitLab token); or `webhook.secretFile` / `KEELSON_WEBHOOK_SECRET_FILE`. Without it `/hooks/git` answers 401 to everything.',
  },
  {
    path: 'webhook.ratePerMinute',
    env: 'KEELSON_WEBHOOK_RATE_PER_MINUTE',
    type: 'integer',
    minimum: 1,
    default: 60,
    doc: 'Requests per minute `/hooks/git` accepts (burst of the same size); more get 429.',
  },
  {
    path: 'pass.timeoutSeconds',
    env: 'KEELSON_PASS_TIMEOUT_SECONDS',
    type: 'number',
    minimum: 1,
    default: 600,
    doc: 'A pass that runs longer is aborted (the running provider call finishes or is journalled).',
  },
  {
    path: 'pass.deletionBudget',
    env: 'KEELSON_DELETION_BUDGET',
    type: 'integer',
    minimum: 0,
    default: 5,
    doc: 'Most deletes one pass may make; a plan with more is refused and reported.',
  },
  {
    path: 'pass.maxBackoffSeconds',
    env: 'KEELSON_MAX_BACKOFF_SECONDS',
    type: 'number',
    minimum: 1,
    default: 300,
    doc: 'Upper bound of the backoff after failed passes (it starts at 1 s and doubles).',
  },
  {
    path: 'alerts.afterObservations',
    env: 'KEELSON_ALERT_AFTER_OBSERVATIONS',
    type: 'integer',
    minimum: 1,
    default: 2,
    doc: 'Consecutive passes a drift must be seen before its alert opens.',
  },
  {
    path: 'alerts.reminderHours',
    env: 'KEELSON_ALERT_REMINDER_HOURS',
    type: 'number',
    minimum: 0.001,
    default: 24,
    doc: 'A drift still open after this long is alerted again as a reminder.',
  },
  {
    path: 'alerts.rocketchatUrl',
    env: 'KEELSON_ROCKETCHAT_URL',
    type: 'secret',
    doc: 'RocketChat incoming-webhook URL (it contains a token: env, or `alerts.rocketchatUrlFile`).',
  },
  {
    path: 'alerts.webhookUrl',
    env: 'KEELSON_ALERT_WEBHOOK_URL',
    type: 'string',
    doc: 'Generic JSON webhook for alerts, signed with `X-Keelson-Signature-256`.',
  },
  {
    path: 'alerts.webhookSecret',
    env: 'KEELSON_ALERT_WEBHOOK_SECRET',
    type: 'secret',
    doc: 'HMAC-SHA256 key for the JSON webhook (required with `alerts.webhookUrl`).',
  },
  {
    path: 'log.level',
    env: 'KEELSON_LOG_LEVEL',
    type: 'string',
    oneOf: ['debug', 'info', 'warn', 'error', 'silent'],
    default: 'info',
    doc: 'Log level (JSON lines on stdout).',
  },
];
