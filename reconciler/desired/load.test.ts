import { describe, expect, it } from 'vitest';
import { EngineFixture, thing } from '../../test/support/engine-fixture.ts';
import { formatDiagnostic } from './diagnostic.ts';

function diagnosticsOf(files: Record<string, string>) {
  const f = new EngineFixture().write(files);
  return f.load();
}

describe('loadDesiredState', () => {
  it('reads several documents per file across a directory tree, with dependency waves', () => {
    const loaded = diagnosticsOf({
      'a.yaml': thing('a', 'size: 1') + thing('b', 'size: 2', 'dependsOn: [mem.Thing/a]\n'),
      'nested/dir/c.yml': 'kind: mem.Link\nname: c\nspec:\n  target: { ref: mem.Thing/b, output: address }\n',
      'notes.txt': 'not yaml, ignored',
    });
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.files).toBe(2);
    expect(loaded.graph.waves).toEqual([['mem.Thing/a'], ['mem.Thing/b'], ['mem.Link/c']]);
    expect(loaded.resources.find((r) => r.key === 'mem.Link/c')?.dependsOn).toEqual(['mem.Thing/b']);
  });

  // Each case: a broken document, and the diagnostic that must point at it (why: the line and field
  // are where the user has to look; the code is what tools match on).
  const cases: { why: string; yaml: string; code: string; line: number; field?: string; message: RegExp }[] = [
    {
      why: 'YAML error (a key given twice)',
      yaml: 'kind: mem.Thing\nname: a\nname: b\n',
      code: 'yaml-syntax',
      line: 3,
      message: /unique/,
    },
    {
      why: 'unknown kind, with a suggestion',
      yaml: 'kind: mem.Thang\nname: a\n',
      code: 'unknown-kind',
      line: 1,
      field: 'kind',
      message: /unknown kind "mem.Thang"/,
    },
    {
      why: 'missing required field',
      yaml: 'kind: mem.Thing\nname: a\nspec:\n  color: red\n',
      code: 'missing-field',
      line: 4,
      field: 'spec',
      message: /"size"/,
    },
    {
      why: 'unknown field points at its key',
      yaml: 'kind: mem.Thing\nname: a\nspec:\n  size: 1\n  colour: red\n',
      code: 'unknown-field',
      line: 5,
      field: 'spec.colour',
      message: /unknown field "colour"/,
    },
    {
      why: 'wrong type',
      yaml: 'kind: mem.Thing\nname: a\nspec:\n  size: "big"\n',
      code: 'wrong-type',
      line: 4,
      field: 'spec.size',
      message: /expected a whole number/,
    },
    {
      why: 'value out of range',
      yaml: 'kind: mem.Thing\nname: a\nspec:\n  size: -1\n',
      code: 'invalid-value',
      line: 4,
      field: 'spec.size',
      message: /below the minimum/,
    },
    {
      why: 'secret written inline',
      yaml: 'kind: mem.Thing\nname: a\nspec:\n  size: 1\n  password: hunter2\n',
      code: 'inline-secret',
      line: 5,
      field: 'spec.password',
      message: /inline/,
    },
    {
      why: 'a secret name that would reach outside the secrets directory (it once copied /proc/self/environ into a Worker)',
      yaml: 'kind: mem.Thing\nname: a\nspec:\n  size: 1\n  password: { secretRef: ../../../proc/self/environ }\n',
      code: 'invalid-value',
      line: 5,
      field: 'spec.password',
      message: /secret name "\.\.\/\.\.\/\.\.\/proc\/self\/environ" is not allowed: use letters, digits/,
    },
    {
      why: 'dangling reference',
      yaml: 'kind: mem.Link\nname: l\nspec:\n  target: { ref: mem.Thing/nope }\n',
      code: 'dangling-reference',
      line: 4,
      field: 'spec.target',
      message: /mem.Thing\/nope/,
    },
    {
      why: 'unknown output',
      yaml: `${thing('a', 'size: 1')}kind: mem.Link\nname: l\nspec:\n  target: { ref: mem.Thing/a, output: ip }\n`,
      code: 'unknown-output',
      line: 9,
      field: 'spec.target',
      message: /no output "ip"/,
    },
    {
      why: 'bad policy',
      yaml: 'kind: mem.Thing\nname: a\npolicy: heal\nspec:\n  size: 1\n',
      code: 'invalid-value',
      line: 3,
      field: 'policy',
      message: /enforce, observe, paused/,
    },
    {
      why: 'bad name',
      yaml: 'kind: mem.Thing\nname: "a b"\nspec:\n  size: 1\n',
      code: 'invalid-value',
      line: 2,
      field: 'name',
      message: /invalid name/,
    },
  ];
  it.each(cases)('reports $why at the right line', ({ yaml, code, line, field, message }) => {
    const loaded = diagnosticsOf({ 'bad.yaml': yaml });
    expect(loaded.resources).toEqual([]);
    const d = loaded.diagnostics.find((x) => x.code === code);
    expect(d, JSON.stringify(loaded.diagnostics)).toBeDefined();
    expect(d?.file).toBe('bad.yaml');
    expect(d?.line).toBe(line);
    if (field) expect(d?.field).toBe(field);
    expect(d?.message).toMatch(message);
  });

  it('expands a composite, and a dependsOn naming the composite stands for everything it expanded into', () => {
    const loaded = diagnosticsOf({
      'a.yaml': `kind: mem.Group\nname: g\nspec:\n  count: 2\n---\n${thing('after', 'size: 1', 'dependsOn: [mem.Group/g]\n')}`,
    });
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.resources.map((r) => [r.key, r.parent])).toEqual([
      ['mem.Thing/g-0', 'mem.Group/g'],
      ['mem.Thing/g-1', 'mem.Group/g'],
      ['mem.Thing/after', undefined],
    ]);
    expect(loaded.resources.find((r) => r.key === 'mem.Thing/after')?.dependsOn).toEqual([
      'mem.Thing/g-0',
      'mem.Thing/g-1',
    ]);
    expect(loaded.graph.waves).toEqual([['mem.Thing/g-0', 'mem.Thing/g-1'], ['mem.Thing/after']]);
  });

  it('turns numbers and booleans written as string map values into strings (env: { PORT: 8080 })', () => {
    const loaded = diagnosticsOf({ 'a.yaml': thing('a', 'size: 1\nlabels: { port: 8080, debug: true, name: x }') });
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.resources[0]?.spec.labels).toEqual({ port: '8080', debug: 'true', name: 'x' });
  });

  it('reports a duplicate name with where the first one is', () => {
    const loaded = diagnosticsOf({ 'a.yaml': thing('a', 'size: 1'), 'b.yaml': thing('a', 'size: 2') });
    expect(loaded.diagnostics).toMatchObject([
      { code: 'duplicate-name', file: 'b.yaml', line: 1, message: expect.stringContaining('first at a.yaml:1') },
    ]);
  });

  it('names a dependency cycle along its path', () => {
    const loaded = diagnosticsOf({
      'a.yaml':
        thing('a', 'size: 1', 'dependsOn: [mem.Thing/c]\n') +
        thing('b', 'size: 1', 'dependsOn: [mem.Thing/a]\n') +
        thing('c', 'size: 1', 'dependsOn: [mem.Thing/b]\n'),
    });
    expect(loaded.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['dependency-cycle', 'dependency cycle: mem.Thing/a -> mem.Thing/c -> mem.Thing/b -> mem.Thing/a'],
    ]);
  });

  it.each([
    ['a dependsOn on itself', thing('a', 'size: 1', 'dependsOn: [mem.Thing/a]\n')],
    ['a reference to its own output', 'kind: mem.Link\nname: l\nspec:\n  target: { ref: mem.Link/l }\n'],
  ])('reports %s as a dependency cycle (it would be skipped forever at apply)', (_why, yaml) => {
    const loaded = diagnosticsOf({ 'self.yaml': yaml });
    expect(loaded.diagnostics.map((d) => [d.code, d.line])).toEqual([['dependency-cycle', 1]]);
    expect(loaded.diagnostics[0]?.message).toMatch(/dependency cycle: (mem\.\w+\/\w) -> \1$/);
    expect(loaded.resources).toEqual([]);
  });

  it('collects every problem of a malformed tree before reporting, and yields no resources', () => {
    const loaded = diagnosticsOf({
      'one.yaml': 'kind: mem.Thing\nname: a\nspec:\n  size: x\n  colour: red\n---\nkind: nope.Kind\nname: b\n',
      'two.yaml': 'kind: mem.Thing\nname: c\nspec: {size: 1, password: plain}\n',
      'three.yaml': 'kind: [\n',
    });
    expect(loaded.resources).toEqual([]);
    const lines = loaded.diagnostics.map(formatDiagnostic);
    expect(lines.some((l) => l.startsWith('one.yaml:4:9: error[wrong-type] spec.size'))).toBe(true);
    expect(lines.some((l) => l.startsWith('one.yaml:5:3: error[unknown-field] spec.colour'))).toBe(true);
    expect(lines.some((l) => l.startsWith('one.yaml:7:7: error[unknown-kind]'))).toBe(true);
    expect(lines.some((l) => l.startsWith('two.yaml:3:27: error[inline-secret] spec.password'))).toBe(true);
    expect(lines.some((l) => l.startsWith('three.yaml:') && l.includes('yaml-syntax'))).toBe(true);
  });
});
