import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import pino from 'pino';
import { errorMessage, type Logger } from '../../providers/sdk/index.ts';
import { type Diagnostic, formatDiagnostic } from '../desired/diagnostic.ts';
import { desiredStateJsonSchema } from '../desired/json-schema.ts';
import { loadDesiredState } from '../desired/load.ts';
import { runPass } from '../engine/pass.ts';
import { envSecretSource } from '../engine/secrets.ts';
import { builtinModules } from '../providers/builtin.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import { renderApply, renderPlan } from '../render/human.ts';
import { planToJson } from '../render/json.ts';
import { FileStateStore } from '../state/file-store.ts';

const USAGE = `keelson: GitOps reconciler for Hetzner Cloud, Cloudflare, Google Cloud and Docker Swarm

Usage:
  keelson validate DIR                 check the desired state; every problem with file:line
  keelson plan DIR [--json] [--detailed-exitcode]
                                       show what apply would change (exit 0 no changes, 1 error,
                                       2 changes with --detailed-exitcode)
  keelson apply DIR [--auto-approve]   apply the plan (asks for confirmation on a terminal)
  keelson schema [--out FILE]          write the JSON Schema for desired-state files
  keelson serve [--config FILE]        run the reconciler daemon
  keelson demo                         run the local demo (daemon on an example repository)
  keelson simulate hetzner|cloudflare|gcp [--port N] [--state FILE]
                                       run one cloud API simulator on loopback until Ctrl-C; prints
                                       the environment a client needs (KEY=VALUE lines); --state
                                       keeps its objects across restarts

Options for plan and apply:
  --state FILE           state file (default $KEELSON_STATE_PATH or .keelson/state.json)
  --owner ID             owner id in ownership labels (default $KEELSON_OWNER or "keelson")
  --deletion-budget N    most deletes per pass before the plan is refused (default 5)
  --secrets-dir DIR      files holding secret values (default $KEELSON_SECRETS_DIR)
  --root DIR             repository root holding charts/ (default: found from DIR)
  --no-color             plain output
`;

/** Runs the CLI; returns the exit code. User errors print one clear line, never a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return validateCommand(rest);
      case 'plan':
        return await planCommand(rest, 'plan');
      case 'apply':
        return await planCommand(rest, 'apply');
      case 'schema':
        return schemaCommand(rest);
      case 'serve':
      case 'demo': {
        const daemon = (await import(command === 'serve' ? './serve.ts' : './demo.ts')) as Record<
          string,
          (a: string[]) => Promise<number>
        >;
        const run = daemon[command === 'serve' ? 'serveCommand' : 'demoCommand'];
        if (!run) throw new UsageError(`keelson ${command} is not available in this build`);
        return await run(rest);
      }
      case 'simulate': {
        const { simulateCommand } = await import('./simulate.ts');
        return await simulateCommand(rest);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 1 : 0;
      default:
        throw new UsageError(`unknown command "${command}"; run "keelson help"`);
    }
  } catch (error) {
    if (process.env.KEELSON_DEBUG) console.error(error);
    process.stderr.write(`keelson: ${errorMessage(error)}\n`);
    return 1;
  }
}

class UsageError extends Error {}

function parse(args: readonly string[], options: ParseArgsOptionsConfig) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${errorMessage(error)}; run "keelson help"`);
  }
}

function cliLogger(): Logger {
  return pino({ level: process.env.KEELSON_LOG_LEVEL ?? 'warn', base: undefined }, pino.destination(2));
}

function registry(log: Logger): ProviderRegistry {
  return ProviderRegistry.create(builtinModules, { env: process.env, log });
}

function load(dir: string | undefined, root: string | undefined, log: Logger) {
  if (!dir) throw new UsageError('missing the desired-state directory, e.g. "keelson plan desired-state"');
  const reg = registry(log);
  const loaded = loadDesiredState(dir, reg, root ? { root } : {});
  return { reg, loaded };
}

function printDiagnostics(diagnostics: readonly Diagnostic[], dir: string): void {
  for (const d of diagnostics)
    process.stderr.write(`${formatDiagnostic({ ...d, file: d.file ? join(dir, d.file) : d.file })}\n`);
}

function validateCommand(args: readonly string[]): number {
  const { values, positionals } = parse(args, { root: { type: 'string' } });
  const dir = positionals[0];
  const { loaded } = load(dir, values.root as string | undefined, cliLogger());
  printDiagnostics(loaded.diagnostics, dir as string);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) {
    process.stderr.write(
      `${errors} error${errors === 1 ? '' : 's'} in ${dir}; nothing from it can be applied until they are fixed.\n`,
    );
    return 1;
  }
  process.stdout.write(
    `${loaded.resources.length} resources in ${loaded.files} files are valid (${loaded.graph.waves.length} dependency waves).\n`,
  );
  return 0;
}

async function planCommand(args: readonly string[], mode: 'plan' | 'apply'): Promise<number> {
  const { values, positionals } = parse(args, {
    json: { type: 'boolean' },
    'detailed-exitcode': { type: 'boolean' },
    'auto-approve': { type: 'boolean' },
    state: { type: 'string' },
    owner: { type: 'string' },
    'deletion-budget': { type: 'string' },
    'secrets-dir': { type: 'string' },
    root: { type: 'string' },
    'no-color': { type: 'boolean' },
  });
  const dir = positionals[0];
  const log = cliLogger();
  const { reg, loaded } = load(dir, values.root as string | undefined, log);
  const color = process.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR;
  if (loaded.diagnostics.some((d) => d.severity === 'error')) {
    printDiagnostics(loaded.diagnostics, dir as string);
    if (values.json)
      process.stdout.write(
        `${JSON.stringify({ format_version: '1.0', valid: false, diagnostics: loaded.diagnostics }, null, 2)}\n`,
      );
    process.stderr.write(`keelson: ${dir} is not valid; nothing was ${mode === 'apply' ? 'applied' : 'planned'}.\n`);
    return 1;
  }
  const budgetText = values['deletion-budget'] as string | undefined;
  const deletionBudget = budgetText === undefined ? undefined : Number(budgetText);
  if (deletionBudget !== undefined && !(Number.isInteger(deletionBudget) && deletionBudget >= 0)) {
    throw new UsageError(`--deletion-budget takes a whole number, got "${budgetText}"`);
  }

  const common = {
    resources: loaded.resources,
    revision: revisionOf(dir as string),
    registry: reg,
    store: new FileStateStore(
      resolve((values.state as string | undefined) ?? process.env.KEELSON_STATE_PATH ?? '.keelson/state.json'),
    ),
    owner: (values.owner as string | undefined) ?? process.env.KEELSON_OWNER ?? 'keelson',
    deletionBudget,
    secrets: envSecretSource(
      process.env,
      (values['secrets-dir'] as string | undefined) ?? process.env.KEELSON_SECRETS_DIR,
    ),
    log,
  };
  const planned = await runPass({ ...common, mode: 'plan' });
  if (values.json && mode === 'plan') {
    process.stdout.write(`${JSON.stringify(planToJson(planned.plan, { errors: planned.errors }), null, 2)}\n`);
  } else {
    process.stdout.write(renderPlan(planned.plan, { color }));
    // Unavailable providers are already summed up in the plan; the rest is printed once here.
    for (const e of planned.errors)
      if (e.code !== 'UNAVAILABLE') process.stderr.write(`${e.severity}[${e.code}] ${e.message}\n`);
  }
  const changes = planned.plan.changes.some((c) => c.action !== 'no-op' && c.action !== 'skip');
  if (mode === 'plan') {
    if (planned.errors.some((e) => e.severity === 'error') || planned.plan.refused) return 1;
    return values['detailed-exitcode'] && changes ? 2 : 0;
  }
  if (planned.plan.refused) return 1;
  if (!changes) return planned.errors.some((e) => e.severity === 'error') ? 1 : 0;
  if (!values['auto-approve']) {
    if (!process.stdin.isTTY) {
      throw new UsageError('apply needs confirmation: run it on a terminal, or pass --auto-approve');
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question('\nDo you want to apply these changes? Only "yes" is accepted: ');
    rl.close();
    if (answer.trim() !== 'yes') {
      process.stdout.write('Apply cancelled.\n');
      return 1;
    }
  }
  const applied = await runPass({
    ...common,
    mode: 'apply',
    onProgress: (e) => {
      if (e.type === 'start') process.stderr.write(`  ${e.change.action} ${e.change.key} ...\n`);
      else
        process.stderr.write(
          `  ${e.result.status} ${e.change.action} ${e.change.key} (${e.result.durationMs} ms)${e.result.error ? `: ${e.result.error.message}` : ''}\n`,
        );
    },
  });
  if (values.json)
    process.stdout.write(`${JSON.stringify(planToJson(applied.plan, { errors: applied.errors }), null, 2)}\n`);
  else process.stdout.write(renderApply(applied, { color }));
  return applied.outcome === 'failed' || applied.outcome === 'refused' ? 1 : 0;
}

function schemaCommand(args: readonly string[]): number {
  const { values } = parse(args, { out: { type: 'string' } });
  const text = `${JSON.stringify(desiredStateJsonSchema(registry(cliLogger()).schemas()), null, 2)}\n`;
  const out = values.out as string | undefined;
  if (!out) {
    process.stdout.write(text);
    return 0;
  }
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, text);
  process.stderr.write(`wrote ${out}\n`);
  return 0;
}

/** The Git commit of the desired state (short hash, `+dirty` with local edits), or `local`. */
function revisionOf(dir: string): string {
  try {
    const head = execFileSync('git', ['-C', dir, 'rev-parse', '--short=12', 'HEAD'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', '.'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'local';
  }
}
