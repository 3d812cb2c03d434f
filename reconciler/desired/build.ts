import { relative, resolve } from 'node:path';
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
