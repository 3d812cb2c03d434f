import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { BuildError, type DesiredResource, errorMessage } from '../../providers/sdk/index.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { Diagnostic } from './diagnostic.ts';

/**
 * The load step's build: every resource whose kind has an `ArtifactBuilder` (a Worker's bundle)
 * gets the fields the build decides (its content hash), so that planning needs no file and no
 * bundler. A source that does not build fails that resource only: it comes back with `buildError`
 * (the plan skips it and says why) and a `build-failed` warning with the source's file:line.
 */
export function buildArtifacts(
  resources: readonly DesiredResource[],
  registry: ProviderRegistry,
  dirs: { readonly root: string; readonly base: string },
  diagnostics: Diagnostic[],
): DesiredResource[] {
  return resources.map((r) => {
    const builder = registry.builder(r.kind);
    if (!builder) return r;
    const field = builder.sourceField;
    const problem = field === undefined ? undefined : sourceProblem(r.spec[field], dirs.root);
    if (field !== undefined && problem !== undefined) {
      diagnostics.push({
        severity: 'error',
        code: 'invalid-value',
        ...(r.source ? { file: r.source.file, line: r.source.line } : {}),
        field: `spec.${field}`,
        message: `${r.key}: ${problem}`,
        hint: 'name a folder of this repository, relative to its root (e.g. workers/aircall-webhook)',
      });
      return { ...r, buildError: problem };
    }
    try {
      const built = builder.build(r.spec, { root: dirs.root, resource: r.key });
      return { ...r, spec: { ...r.spec, ...built.fields } };
    } catch (error) {
      const where = error instanceof BuildError ? error : undefined;
      const file = where?.file ? relative(dirs.base, resolve(dirs.root, where.file)) : r.source?.file;
      const at = where?.file ? `${where.file}${where.line ? `:${where.line}` : ''}: ` : '';
      const message = `${r.key} (${r.source?.file}:${r.source?.line}) does not build: ${at}${errorMessage(error)}`;
      diagnostics.push({
        severity: 'warning',
        code: 'build-failed',
        ...(file ? { file } : {}),
        ...(where?.line ? { line: where.line } : where?.file ? {} : r.source ? { line: r.source.line } : {}),
        ...(where?.column ? { column: where.column } : {}),
        message,
        hint: 'fix the source; this resource is skipped until it builds, the others are applied',
      });
      return { ...r, buildError: message };
    }
  });
}

/** Why a source folder named in Git cannot be used, or undefined: it must be a folder inside the checkout. */
function sourceProblem(value: unknown, root: string): string | undefined {
  if (typeof value !== 'string' || value === '') return 'the source folder is not given';
  if (isAbsolute(value))
    return `source "${value.slice(0, 80)}" is an absolute path; keelson reads sources only inside the checkout`;
  const realRoot = realpathSync(root);
  let real: string;
  try {
    real = realpathSync(resolve(root, value));
  } catch {
    if (!resolve(root, value).startsWith(resolve(root) + sep))
      return `source "${value.slice(0, 80)}" is outside the checkout`;
    return `source folder "${value.slice(0, 80)}" does not exist in the repository`;
  }
  if (real !== realRoot && !real.startsWith(realRoot + sep))
    return `source "${value.slice(0, 80)}" is outside the checkout (keelson never reads a source there)`;
  if (!statSync(real).isDirectory()) return `source "${value.slice(0, 80)}" is not a folder`;
  return undefined;
}
