import { join } from 'node:path';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { errorMessage, type Logger } from '../../providers/sdk/index.ts';
import { type Diagnostic, formatDiagnostic } from '../desired/diagnostic.ts';
import { listYamlFiles, loadDesiredState } from '../desired/load.ts';
import { loadProviderModules, providersUsedBy } from '../providers/catalogue.ts';
import { ProviderRegistry } from '../providers/registry.ts';

/** A mistake on the command line: one clear line, never a stack trace. */
export class UsageError extends Error {}

export function parse(args: readonly string[], options: ParseArgsOptionsConfig) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${errorMessage(error)}; run "keelson help"`);
  }
}

/** The CLI's logger (warnings to stderr). pino is loaded here, not at start-up: `validate` never logs. */
export async function cliLogger(): Promise<Logger> {
  const pino = (await import('pino')).pino;
  const log: Logger = pino({ level: process.env.KEELSON_LOG_LEVEL ?? 'warn', base: undefined }, pino.destination(2));
  return log;
}

/**
 * Loads a desired-state tree with only the providers it uses (plus `also`, e.g. the providers the
 * state store remembers): their schemas for validation, and, when `create` is given, the
 * providers themselves. A tree that names an unknown provider gets every provider (for "did you mean").
 */
export async function loadTree(
  dir: string | undefined,
  root: string | undefined,
  options: { readonly also?: Iterable<string>; readonly create?: { readonly log: Logger } } = {},
) {
  if (!dir) throw new UsageError('missing the desired-state directory, e.g. "keelson plan desired-state"');
  let used: Set<string> | undefined;
  try {
    used = providersUsedBy(listYamlFiles(dir));
  } catch {
    used = undefined; // the loader reports an unreadable directory
  }
  if (used) for (const name of options.also ?? []) used.add(name);
  const modules = await loadProviderModules(used);
  const reg = options.create
    ? ProviderRegistry.create(modules, { env: process.env, log: options.create.log })
    : new ProviderRegistry(modules);
  const loaded = loadDesiredState(dir, reg, root ? { root } : {});
  return { reg, loaded };
}

export function printDiagnostics(diagnostics: readonly Diagnostic[], dir: string): void {
  for (const d of diagnostics)
    process.stderr.write(`${formatDiagnostic({ ...d, file: d.file ? join(dir, d.file) : d.file })}\n`);
}
