import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { type Document, isMap, isScalar, LineCounter, parseAllDocuments, visit } from 'yaml';
import {
  type DesiredResource,
  errorMessage,
  isPlainObject,
  type KindSchema,
  type Policy,
  providerOf,
  resourceKey,
  type SourceLocation,
} from '../../providers/sdk/index.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import { buildArtifacts } from './build.ts';
import type { Diagnostic } from './diagnostic.ts';
import { buildGraph, type DependencyGraph } from './graph.ts';
import { checkSpec, closest, coerceSpec, describe, excerpt } from './validate-spec.ts';

export interface LoadResult {
  /** Valid resources (empty when there is any error: a bad revision is never applied in part). */
  readonly resources: DesiredResource[];
  readonly diagnostics: Diagnostic[];
  readonly graph: DependencyGraph;
  /** Number of YAML files read. */
  readonly files: number;
}

export interface LoadOptions {
  /** Repository root, where `charts/` lives (default: the nearest parent of `dir` holding `charts/` or `.git`). */
  readonly root?: string;
}

const TOP_LEVEL = [
  'apiVersion',
  'kind',
  'name',
  'description',
  'spec',
  'policy',
  'protect',
  'allowReplace',
  'adopt',
  'dependsOn',
];
const POLICIES: readonly Policy[] = ['enforce', 'observe', 'paused'];
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;

interface Located {
  readonly resource: DesiredResource;
  readonly doc?: Document;
  readonly lines?: LineCounter;
  /** Field path prefix inside the document where the spec came from (expanded resources point at their composite). */
  readonly expandedFrom?: string;
}

/**
 * Reads every `*.yaml`/`*.yml` file under `dir` (several documents per file), validates each
 * document against its kind's schema, expands composites, checks references and dependencies,
 * and returns every problem found with file:line:column and field path.
 */
export function loadDesiredState(dir: string, registry: ProviderRegistry, options: LoadOptions = {}): LoadResult {
  const base = resolve(dir);
  const root = options.root ? resolve(options.root) : findRoot(base);
  const diagnostics: Diagnostic[] = [];
  const located: Located[] = [];
  let files: string[];
  try {
    files = listYamlFiles(base, root, diagnostics);
  } catch (error) {
    diagnostics.push({ severity: 'error', code: 'read-error', message: `cannot read ${dir}: ${errorMessage(error)}` });
    return { resources: [], diagnostics, graph: buildGraph([]), files: 0 };
  }
  for (const file of files) {
    const rel = relative(base, file) || file;
    const text = readYamlFile(file, rel, diagnostics);
    if (text === undefined) continue;
    const lines = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [];
    if (!Array.isArray(docs)) {
      // An EmptyStream: a file of comments only.
      continue;
    }
    for (const doc of list) {
      const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')];
      if (problems.length > 0) {
        for (const e of problems) {
          const pos = lines.linePos(e.pos[0]);
          const tag = e.code === 'TAG_RESOLVE_FAILED';
          diagnostics.push({
            severity: 'error',
            code: 'yaml-syntax',
            file: rel,
            line: pos.line,
            column: pos.col,
            message: tag
              ? `unknown YAML tag ${excerpt(e.message.replace(/^Unresolved tag:\s*/, ''))}: keelson reads plain YAML, without tags or includes`
              : excerpt(e.message.split('\n')[0] ?? e.message, 200),
            hint: tag
              ? 'write the value itself (a chart or a composite kind can share structure), and remove the tag'
              : 'fix the YAML syntax; nothing from this revision is applied until it parses',
          });
        }
        continue;
      }
      if (doc.contents === null) continue;
      located.push(...readDocument(doc, lines, rel, registry, { root, base }, diagnostics));
    }
  }
  const expandedLocated = dependOnChildren(located);
  checkCrossReferences(expandedLocated, registry, diagnostics);
  checkUnique(expandedLocated, registry, diagnostics);
  const checked = expandedLocated.map((l) => l.resource);
  const valid = !diagnostics.some((d) => d.severity === 'error');
  // Build only a revision that is otherwise valid: an invalid one is not applied anyway.
  const resources = valid ? buildArtifacts(checked, registry, { root, base }, diagnostics) : checked;
  const graph = buildGraph(resources);
  for (const cycle of graph.cycles) {
    const first = located.find((l) => l.resource.key === cycle[0]);
    diagnostics.push({
      ...where(first),
      severity: 'error',
      code: 'dependency-cycle',
      field: 'dependsOn',
      message: `dependency cycle: ${cycle.join(' -> ')}`,
      hint: 'break the cycle: remove one of these references or dependsOn entries',
    });
  }
  const errors = diagnostics.filter((d) => d.severity === 'error');
  return { resources: errors.length > 0 ? [] : resources, diagnostics, graph, files: files.length };
}

function readDocument(
  doc: Document,
  lines: LineCounter,
  file: string,
  registry: ProviderRegistry,
  dirs: { readonly root: string; readonly base: string },
  out: Diagnostic[],
): Located[] {
  const at = (path: readonly (string | number)[], onKey = false): SourceLocation & { file: string } =>
    position(doc, lines, file, path, onKey);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (error) {
    out.push(aliasProblem(doc, lines, file, errorMessage(error)));
    return [];
  }
  // An empty document (a trailing `---`, or comments only) is not an error.
  if (value === null || value === undefined) return [];
  if (!isPlainObject(value)) {
    out.push({
      ...at([]),
      severity: 'error',
      code: 'not-a-resource',
      message: `a document must be a map with kind, name and spec, got ${describe(value)}`,
    });
    return [];
  }
  let bad = false;
  const problem = (d: Omit<Diagnostic, 'severity'>): void => {
    out.push({ severity: 'error', ...d });
    bad = true;
  };
  for (const key of Object.keys(value)) {
    if (!TOP_LEVEL.includes(key)) {
      const near = closest(key, TOP_LEVEL);
      problem({
        ...at([key], true),
        code: 'unknown-field',
        field: key,
        message: `unknown field ${excerpt(key)}`,
        hint: near ? `did you mean "${near}"?` : `allowed: ${TOP_LEVEL.join(', ')}`,
      });
    }
  }
  const kind = value.kind;
  const name = value.name;
  if (typeof kind !== 'string') {
    problem({
      ...at(kind === undefined || kind === null ? [] : ['kind']),
      code: kind === undefined || kind === null ? 'missing-field' : 'wrong-type',
      field: 'kind',
      message:
        kind === undefined || kind === null
          ? 'missing "kind" (e.g. swarm.Service)'
          : `"kind" must be a string like swarm.Service, got ${describe(kind)}`,
    });
    return [];
  }
  const schema = registry.schema(kind);
  if (!schema) {
    const near = closest(
      kind,
      registry.schemas().map((s) => s.kind),
    );
    problem({
      ...at(['kind']),
      code: 'unknown-kind',
      field: 'kind',
      message: `unknown kind ${excerpt(kind)}`,
      hint: near
        ? `did you mean "${near}"?`
        : `known kinds: ${registry
            .schemas()
            .map((s) => s.kind)
            .join(', ')}`,
    });
    return [];
  }
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    problem({
      ...at(name === undefined ? [] : ['name']),
      code: name === undefined ? 'missing-field' : 'invalid-value',
      field: 'name',
      message: name === undefined ? 'missing "name"' : `invalid name ${describe(name)}`,
      hint: 'a name is 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
    return [];
  }
  const policy = value.policy ?? 'enforce';
  if (!POLICIES.includes(policy as Policy)) {
    problem({
      ...at(['policy']),
      code: 'invalid-value',
      field: 'policy',
      message: `policy must be one of ${POLICIES.join(', ')}, got ${describe(policy)}`,
    });
  }
  for (const flag of ['protect', 'allowReplace', 'adopt'] as const) {
    if (value[flag] !== undefined && typeof value[flag] !== 'boolean') {
      problem({
        ...at([flag]),
        code: 'wrong-type',
        field: flag,
        message: `expected true or false, got ${describe(value[flag])}`,
      });
    }
  }
  const dependsOn = value.dependsOn ?? [];
  if (!Array.isArray(dependsOn) || dependsOn.some((d) => typeof d !== 'string' || !d.includes('/'))) {
    problem({
      ...at(['dependsOn']),
      code: 'wrong-type',
      field: 'dependsOn',
      message: 'dependsOn must be a list of "kind/name" keys',
    });
  }
  const spec = coerceSpec(schema.spec, value.spec ?? {});
  const check = checkSpec(schema.spec, spec);
  for (const p of check.problems) {
    problem({
      ...at(['spec', ...p.path], p.onKey),
      code: p.code,
      field: fieldPath(['spec', ...p.path]),
      message: p.message,
      hint: p.hint,
    });
  }
  if (bad) return [];
  const source = at([]);
  const resource: DesiredResource = {
    key: resourceKey(kind, name),
    kind,
    name,
    provider: providerOf(kind),
    spec: spec as Record<string, unknown>,
    policy: policy as Policy,
    protect: value.protect === true,
    allowReplace: value.allowReplace === true,
    adopt: value.adopt === true,
    dependsOn: [...new Set([...(dependsOn as string[]), ...check.references.map((r) => r.ref.ref)])],
    source,
  };
  const expander = registry.expander(kind);
  if (!expander) return [{ resource, doc, lines }];
  return expand(resource, schema, expander, registry, dirs, out, doc, lines);
}

function expand(
  parent: DesiredResource,
  parentSchema: KindSchema,
  expander: NonNullable<ReturnType<ProviderRegistry['expander']>>,
  registry: ProviderRegistry,
  { root, base }: { readonly root: string; readonly base: string },
  out: Diagnostic[],
  doc: Document,
  lines: LineCounter,
): Located[] {
  let expanded: ReturnType<typeof expander.expand>;
  try {
    expanded = expander.expand(
      { name: parent.name, spec: parent.spec },
      { root, readFile: (path: string) => readFileSync(resolve(root, path), 'utf8') },
    );
  } catch (error) {
    // An expander may list several problems, each with its own place in the chart.
    const problems = (error as { problems?: unknown }).problems;
    if (Array.isArray(problems) && problems.length > 0) {
      for (const p of problems as { file?: string; line?: number; column?: number; message?: string }[]) {
        out.push({
          severity: 'error',
          code: 'chart-error',
          // Chart files live beside the desired state, not in it: keep the path relative to it.
          file: p.file ? relative(base, resolve(root, p.file)) : parent.source?.file,
          ...(p.line ? { line: p.line } : {}),
          ...(p.column ? { column: p.column } : {}),
          message: `${parentSchema.kind} "${parent.name}" (${parent.source?.file}:${parent.source?.line}): ${p.message ?? 'invalid chart'}`,
          hint: 'fix the chart or the values given to it',
        });
      }
      return [];
    }
    out.push({
      ...parent.source,
      file: parent.source?.file,
      severity: 'error',
      code: 'chart-error',
      message: `cannot expand ${parentSchema.kind} "${parent.name}": ${errorMessage(error)}`,
      hint: 'fix the chart or the values given to it',
    });
    return [];
  }
  const result: Located[] = [];
  for (const child of expanded) {
    const schema = registry.schema(child.kind);
    const childSpec = schema ? (coerceSpec(schema.spec, child.spec) as Record<string, unknown>) : child.spec;
    const check = schema ? checkSpec(schema.spec, childSpec) : undefined;
    if (!schema || (check && check.problems.length > 0)) {
      for (const p of check?.problems ?? [
        { path: [], code: 'unknown-kind' as const, message: `unknown kind ${child.kind}` },
      ]) {
        out.push({
          ...parent.source,
          file: parent.source?.file,
          severity: 'error',
          code: 'chart-error',
          field: `${child.kind}/${child.name}.${fieldPath(['spec', ...p.path])}`,
          message: `${parentSchema.kind} "${parent.name}" expands to an invalid ${child.kind} "${child.name}": ${p.message}`,
          hint: 'fix the chart or the values given to it',
        });
      }
      continue;
    }
    result.push({
      resource: {
        key: resourceKey(child.kind, child.name),
        kind: child.kind,
        name: child.name,
        provider: providerOf(child.kind),
        spec: childSpec,
        policy: parent.policy,
        protect: parent.protect,
        allowReplace: parent.allowReplace,
        adopt: parent.adopt,
        dependsOn: [
          ...new Set([
            ...(child.dependsOn ?? []),
            ...parent.dependsOn,
            ...(check?.references ?? []).map((r) => r.ref.ref),
          ]),
        ],
        source: parent.source,
        parent: parent.key,
      },
      doc,
      lines,
      expandedFrom: parent.key,
    });
  }
  return result;
}

/**
 * A composite (a `swarm.Stack`) is expanded away, so `dependsOn` entries naming it stand for all
 * the resources it expanded into.
 */
function dependOnChildren(located: readonly Located[]): Located[] {
  const children = new Map<string, string[]>();
  for (const l of located) {
    if (l.resource.parent)
      children.set(l.resource.parent, [...(children.get(l.resource.parent) ?? []), l.resource.key]);
  }
  if (children.size === 0) return [...located];
  return located.map((l) => {
    // A child of a composite named in dependsOn does not depend on itself; a resource that names
    // itself directly (or references its own output) does, and that is reported as a cycle.
    const dependsOn = [
      ...new Set(l.resource.dependsOn.flatMap((d) => children.get(d)?.filter((c) => c !== l.resource.key) ?? [d])),
    ];
    return { ...l, resource: { ...l.resource, dependsOn } };
  });
}

function checkCrossReferences(located: readonly Located[], registry: ProviderRegistry, out: Diagnostic[]): void {
  const byKey = new Map<string, Located>();
  for (const l of located) {
    const first = byKey.get(l.resource.key);
    if (first) {
      out.push({
        ...where(l),
        severity: 'error',
        code: 'duplicate-name',
        field: 'name',
        message: `${l.resource.key} is defined twice (first at ${first.resource.source?.file}:${first.resource.source?.line})`,
        hint: 'names are unique per kind: rename one of them',
      });
      continue;
    }
    byKey.set(l.resource.key, l);
  }
  for (const l of located) {
    const schema = registry.schema(l.resource.kind);
    const check = schema ? checkSpec(schema.spec, l.resource.spec) : undefined;
    for (const { path, ref } of check?.references ?? []) {
      const target = byKey.get(ref.ref);
      const field = l.expandedFrom ? `${l.resource.key}.${fieldPath(['spec', ...path])}` : fieldPath(['spec', ...path]);
      const pos =
        l.expandedFrom || !l.doc || !l.lines
          ? where(l)
          : position(l.doc, l.lines, l.resource.source?.file ?? '', ['spec', ...path]);
      if (!target) {
        const near = closest(ref.ref, [...byKey.keys()]);
        out.push({
          ...pos,
          severity: 'error',
          code: 'dangling-reference',
          field,
          message: `reference to ${ref.ref}, which is not in the desired state`,
          hint: near ? `did you mean ${near}?` : 'add that resource, or fix the kind/name',
        });
        continue;
      }
      const outputs = registry.schema(target.resource.kind)?.outputs ?? {};
      if (ref.output !== undefined && !(ref.output in outputs)) {
        out.push({
          ...pos,
          severity: 'error',
          code: 'unknown-output',
          field,
          message: `${target.resource.kind} has no output "${ref.output}"`,
          hint: Object.keys(outputs).length
            ? `outputs: ${Object.keys(outputs).join(', ')}`
            : `${target.resource.kind} has no outputs`,
        });
      }
    }
    for (const dep of l.resource.dependsOn) {
      if (!byKey.has(dep) && !check?.references.some((r) => r.ref.ref === dep)) {
        out.push({
          ...where(l),
          severity: 'error',
          code: 'dangling-reference',
          field: 'dependsOn',
          message: `depends on ${dep}, which is not in the desired state`,
          hint: 'add that resource, or remove it from dependsOn',
        });
      }
    }
  }
}

/** Values of `unique` spec fields shared by two resources of one kind (the later one is reported). */
function checkUnique(located: readonly Located[], registry: ProviderRegistry, out: Diagnostic[]): void {
  const first = new Map<string, Located>();
  for (const l of located) {
    for (const rule of registry.schema(l.resource.kind)?.unique ?? []) {
      const value = l.resource.spec[rule.field];
      if (value === undefined) continue;
      const id = `${l.resource.kind}\n${rule.field}\n${JSON.stringify(value)}`;
      const earlier = first.get(id);
      if (!earlier) {
        first.set(id, l);
        continue;
      }
      const s = earlier.resource.source;
      out.push({
        ...(l.doc && l.lines
          ? position(l.doc, l.lines, l.resource.source?.file ?? '', ['spec', rule.field])
          : where(l)),
        severity: 'error',
        code: 'invalid-value',
        field: `spec.${rule.field}`,
        message: `${earlier.resource.key}${s ? ` (${s.file}:${s.line})` : ''} already has this ${rule.field}`,
        hint: rule.why,
      });
    }
  }
}

function where(l: Located | undefined): { file?: string; line?: number; column?: number } {
  const s = l?.resource.source;
  return s ? { file: s.file, line: s.line, column: s.column } : {};
}

function position(
  doc: Document,
  lines: LineCounter,
  file: string,
  path: readonly (string | number)[],
  onKey = false,
): SourceLocation & { file: string } {
  // Walk down as far as the path exists; a missing field points at its parent.
  let node: unknown = doc.contents;
  let range: readonly number[] | undefined = (doc.contents as { range?: number[] } | null)?.range;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const last = i === path.length - 1;
      const keyRange = isScalar(pair.key) ? pair.key.range : undefined;
      node = pair.value;
      range =
        last && onKey ? (keyRange ?? range) : ((pair.value as { range?: number[] } | null)?.range ?? keyRange ?? range);
    } else if (node && typeof node === 'object' && 'items' in node && typeof seg === 'number') {
      const item = (node as { items: unknown[] }).items[seg];
      if (!item) break;
      node = item;
      range = (item as { range?: number[] }).range ?? range;
    } else break;
  }
  const pos = lines.linePos(range?.[0] ?? 0);
  return { file, line: pos.line, column: pos.col };
}

function fieldPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Largest desired-state file read (a bigger one is reported, not parsed). */
export const MAX_FILE_BYTES = 2 * 1024 * 1024;

/**
 * Every `*.yaml`/`*.yml` file under `dir` (any case), sorted; hidden entries and node_modules are
 * left out. Input from Git is hostile until checked: a symbolic link is followed only when its real
 * path stays inside the checkout (`root`), directories reached twice (a link loop) are read once,
 * and anything that is not a regular file or a directory (a FIFO, a socket, a device) is reported,
 * never opened. Every problem is an error diagnostic, so a tree that could not be read entirely is
 * never applied (unread files must not count as deletions).
 */
export function listYamlFiles(dir: string, root: string = findRoot(resolve(dir)), out: Diagnostic[] = []): string[] {
  const files: string[] = [];
  const realRoot = realpathSync(root);
  const inside = (real: string) => real === realRoot || real.startsWith(realRoot + sep);
  const seen = new Set<string>();
  const problem = (path: string, message: string, hint: string) =>
    out.push({ severity: 'error', code: 'read-error', file: relative(dir, path) || path, message, hint });
  const walk = (d: string): void => {
    const real = realpathSync(d);
    if (seen.has(real)) return;
    seen.add(real);
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(d, entry.name);
      const yaml = /\.ya?ml$/i.test(entry.name);
      let stat = lstatSync(full);
      if (stat.isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(full);
        } catch {
          if (yaml)
            problem(
              full,
              'a symbolic link that points nowhere',
              'remove the link or commit the file it should point to',
            );
          continue;
        }
        if (!inside(target)) {
          problem(
            full,
            'a symbolic link that points outside the checkout; keelson does not follow it',
            'commit the file itself, or link to a file inside the repository',
          );
          continue;
        }
        stat = statSync(target);
      }
      if (stat.isDirectory()) walk(full);
      else if (!yaml) continue;
      else if (stat.isFile()) files.push(full);
      else
        problem(
          full,
          'not a regular file (a FIFO, socket or device); keelson reads only regular files',
          'replace it with a regular file',
        );
    }
  };
  if (statSync(dir).isFile()) return [dir];
  walk(dir);
  return files;
}

/** A desired-state file as text, or undefined (with a diagnostic) when it is too big or not UTF-8. */
function readYamlFile(file: string, rel: string, out: Diagnostic[]): string | undefined {
  let bytes: Buffer;
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_FILE_BYTES) {
      out.push({
        severity: 'error',
        code: 'read-error',
        file: rel,
        message: `the file is ${(stat.size / 1024 / 1024).toFixed(1)} MiB; desired-state files are read up to ${MAX_FILE_BYTES / 1024 / 1024} MiB`,
        hint: 'split it into several files',
      });
      return undefined;
    }
    bytes = readFileSync(fd);
  } catch (error) {
    out.push({ severity: 'error', code: 'read-error', file: rel, message: excerpt(errorMessage(error), 200) });
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const utf16 =
    (bytes[0] === 0xff && bytes[1] === 0xfe) ||
    (bytes[0] === 0xfe && bytes[1] === 0xff) ||
    bytes.subarray(0, 4096).includes(0);
  if (utf16) {
    out.push({
      severity: 'error',
      code: 'yaml-syntax',
      file: rel,
      line: 1,
      message: 'the file is UTF-16 (or has NUL bytes); keelson reads UTF-8 YAML',
      hint: 'save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)',
    });
    return undefined;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    const lossy = new TextDecoder('utf-8').decode(bytes);
    const line = lossy.slice(0, Math.max(0, lossy.indexOf('\uFFFD'))).split('\n').length;
    out.push({
      severity: 'error',
      code: 'yaml-syntax',
      file: rel,
      line,
      message: 'the file is not UTF-8 (Latin-1 or another 8-bit encoding?)',
      hint: 'save it as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)',
    });
    return undefined;
  }
}

/** An alias that cannot be used (undefined, from another document, or a bomb), located where it is. */
function aliasProblem(doc: Document, lines: LineCounter, file: string, message: string): Diagnostic {
  const bomb = /Excessive alias count/.test(message);
  const name = /:\s*(\S+)$/.exec(message)?.[1];
  let offset = doc.range?.[0] ?? 0;
  visit(doc, {
    Alias(_key, node) {
      if (bomb || node.source === name) {
        offset = node.range?.[0] ?? offset;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  const pos = lines.linePos(offset);
  return {
    severity: 'error',
    code: 'yaml-syntax',
    file,
    line: pos.line,
    column: pos.col,
    message: bomb
      ? 'too many alias expansions (more than 100): an alias bomb, or far too much reuse'
      : `alias *${excerpt(name ?? '?')} has no anchor before it in this document`,
    hint: bomb
      ? 'write the values out, or share structure through a chart'
      : 'anchors (&name) work only inside one document (between two ---), and must come before the alias',
  };
}

function findRoot(dir: string): string {
  let at = dir;
  for (;;) {
    try {
      if (statSync(join(at, 'charts')).isDirectory()) return at;
    } catch {}
    try {
      statSync(join(at, '.git'));
      return at;
    } catch {}
    const up = resolve(at, '..');
    if (up === at) return dir;
    at = up;
  }
}
