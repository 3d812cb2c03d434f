import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errorMessage } from '../../providers/sdk/index.ts';
import { loadProviderModules } from '../providers/catalogue.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import { loadTree, parse, printDiagnostics, UsageError } from './common.ts';

const USAGE = `keelson: GitOps reconciler for Hetzner Cloud, Cloudflare, Google Cloud and Docker Swarm

Usage:
  keelson validate DIR                 check the desired state; every problem with file:line
  keelson plan DIR [--json] [--detailed-exitcode]
                                       show what apply would change (exit 0 no changes, 1 error,
                                       2 changes with --detailed-exitcode)
  keelson plan DIR --out plan.json     save the plan; apply exactly it later with keelson apply plan.json
  keelson apply DIR [--auto-approve]   apply the plan (asks for confirmation on a terminal); refused
                                       if observing again gives a plan other than the one shown
  keelson apply plan.json              apply a saved plan; refused if the desired state or the live
                                       state of a resource in it changed since
  keelson schema [--out FILE]          write the JSON Schema for desired-state files
  keelson serve [--config FILE]        run the reconciler daemon
  keelson bootstrap [--config FILE] [--node NAME=DOCKER_HOST[,advertise=ADDR]]...
                                       from an empty Hetzner project to keelson running on a
                                       formed Swarm (servers, Docker, Swarm, node labels, keelson's
                                       own stack); safe to re-run; "keelson bootstrap --help"
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
        return await validateCommand(rest);
      case 'plan':
      case 'apply':
        return await (await import('./plan.ts')).planCommand(rest, command);
      case 'schema':
        return await schemaCommand(rest);
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
      case 'bootstrap': {
        const { bootstrapCommand } = await import('./bootstrap.ts');
        return await bootstrapCommand(rest);
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

async function validateCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, { root: { type: 'string' } });
  const dir = positionals[0];
  const { loaded } = await loadTree(dir, values.root as string | undefined);
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

async function schemaCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { out: { type: 'string' } });
  const { desiredStateJsonSchema } = await import('../desired/json-schema.ts');
  const registry = new ProviderRegistry(await loadProviderModules());
  const text = `${JSON.stringify(desiredStateJsonSchema(registry.schemas()), null, 2)}\n`;
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
