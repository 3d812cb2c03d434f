import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineFixture, thing } from '../../test/support/engine-fixture.ts';
import { formatDiagnostic } from './diagnostic.ts';
import { loadDesiredState, MAX_FILE_BYTES } from './load.ts';

/**
 * Input from Git is hostile until checked. Each case is a tree someone could push, and what the
 * loader must do with it, with the reason. Whatever happens, the other problems of the tree are
 * still reported, and a tree with any problem yields no resources (it is never applied in part).
 */
function tree(): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'keelson-hostile-'));
  mkdirSync(join(root, '.git'));
  const dir = join(root, 'desired-state');
  mkdirSync(dir);
  return { root, dir };
}

const fixture = new EngineFixture();
const load = (dir: string) => {
  const loaded = loadDesiredState(dir, fixture.registry);
  return { ...loaded, lines: loaded.diagnostics.map((d) => formatDiagnostic(d).split('\n')[0] ?? '') };
};

describe('a hostile desired-state tree', () => {
  it('a link to a file outside the checkout is reported, never read, and its contents never quoted', () => {
    // Why: a diagnostic once echoed the target file on /status, the status page and the logs.
    const { dir } = tree();
    const secret = join(mkdtempSync(join(tmpdir(), 'keelson-outside-')), 'host-secret.yaml');
    writeFileSync(secret, 'kind: [ "TOP-SECRET-HOST-FILE"\n');
    symlinkSync(secret, join(dir, 'leak.yaml'));
    writeFileSync(join(dir, 'ok.yaml'), thing('a', 'size: 1'));
    const loaded = load(dir);
    expect(loaded.lines).toEqual([
      'leak.yaml: error[read-error] a symbolic link that points outside the checkout; keelson does not follow it',
    ]);
    expect(JSON.stringify(loaded.diagnostics)).not.toContain('TOP-SECRET');
    expect(loaded.resources).toEqual([]);
  });

  it('a linked directory inside the checkout is followed (its resources are not pruned as removed), once, even in a loop', () => {
    // Why: a skipped linked directory made its resources count as deleted from Git.
    const { root, dir } = tree();
    mkdirSync(join(root, 'shared'));
    writeFileSync(join(root, 'shared', 'things.yaml'), thing('shared', 'size: 1'));
    symlinkSync(join(root, 'shared'), join(dir, 'linked'));
    symlinkSync(dir, join(dir, 'loop'));
    writeFileSync(join(dir, 'own.yaml'), thing('own', 'size: 2'));
    const loaded = load(dir);
    expect(loaded.lines).toEqual([]);
    expect(loaded.resources.map((r) => r.key).sort()).toEqual(['mem.Thing/own', 'mem.Thing/shared']);
  });

  it('a FIFO named like a YAML file is reported and never opened (it used to hang validate and the daemon)', () => {
    const { dir } = tree();
    execFileSync('mkfifo', [join(dir, 'x.yaml')]);
    expect(load(dir).lines).toEqual([
      'x.yaml: error[read-error] not a regular file (a FIFO, socket or device); keelson reads only regular files',
    ]);
  });

  it('a dangling link is reported (a file that cannot be read is not a deletion)', () => {
    const { dir } = tree();
    symlinkSync(join(dir, 'gone.yaml'), join(dir, 'dangling.yaml'));
    expect(load(dir).lines).toEqual(['dangling.yaml: error[read-error] a symbolic link that points nowhere']);
  });

  it('a file over the size limit is reported without being parsed', () => {
    // Why: a 25 MB file once took 1 GB of memory to load.
    const { dir } = tree();
    writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(MAX_FILE_BYTES)}\n`);
    expect(load(dir).lines[0]).toMatch(
      /^big\.yaml: error\[read-error\] the file is 2\.0 MiB; desired-state files are read up to 2 MiB/,
    );
  });

  it.each([
    [
      'UTF-16 with a byte-order mark',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('kind: mem.Thing\n', 'utf16le')]),
      /yaml-syntax\] the file is UTF-16/,
      'iconv -f UTF-16',
    ],
    [
      'Latin-1 on line 3',
      Buffer.from('kind: mem.Thing\nname: a\n# caf\xe9\n', 'latin1'),
      /enc\.yaml:3: error\[yaml-syntax\] the file is not UTF-8/,
      'iconv -f LATIN1',
    ],
  ])('a file in %s gets a diagnostic that says how to fix it', (_why, bytes, line, hint) => {
    const { dir } = tree();
    writeFileSync(join(dir, 'enc.yaml'), bytes);
    const loaded = load(dir);
    expect(loaded.lines[0]).toMatch(line);
    expect(loaded.diagnostics[0]?.hint).toContain(hint);
  });

  it.each([
    [
      'an unknown tag',
      'kind: mem.Thing\nname: a\nspec: !include other.yaml\n',
      'bad.yaml:3:7: error[yaml-syntax] unknown YAML tag "!include"',
    ],
    [
      'an undefined alias',
      'kind: mem.Thing\nname: a\nspec:\n  size: *nope\n',
      'bad.yaml:4:9: error[yaml-syntax] alias *"nope" has no anchor before it in this document',
    ],
    [
      'an alias to another document',
      'kind: mem.Thing\nname: a\nspec: &s { size: 1 }\n---\nkind: mem.Thing\nname: b\nspec: *s\n',
      'bad.yaml:7:7: error[yaml-syntax] alias *"s" has no anchor before it in this document',
    ],
    [
      'an alias bomb',
      'a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
      'bad.yaml:2:8: error[yaml-syntax] too many alias expansions',
    ],
  ])(
    '%s is reported with file:line, and the other problems of the tree are still collected',
    (_why, yaml, expected) => {
      const { dir } = tree();
      writeFileSync(join(dir, 'bad.yaml'), yaml);
      writeFileSync(join(dir, 'other.yaml'), 'kind: mem.Thing\nname: c\nspec:\n  size: many\n');
      const loaded = load(dir);
      expect(loaded.lines[0]?.startsWith(expected)).toBe(true);
      expect(loaded.lines.some((l) => l.startsWith('other.yaml:4:9: error[wrong-type] spec.size'))).toBe(true);
      expect(loaded.resources).toEqual([]);
    },
  );

  it('kind: 5 is a wrong type, not a missing kind', () => {
    const { dir } = tree();
    writeFileSync(join(dir, 'k.yaml'), 'kind: 5\nname: a\nspec: {}\n');
    expect(load(dir).lines).toEqual([
      'k.yaml:1:7: error[wrong-type] kind: "kind" must be a string like swarm.Service, got number 5',
    ]);
  });

  it('.YAML and .Yml files are read like .yaml ones', () => {
    const { dir } = tree();
    writeFileSync(join(dir, 'UPPER.YAML'), thing('upper', 'size: 1'));
    writeFileSync(join(dir, 'mixed.Yml'), thing('mixed', 'size: 1'));
    expect(
      load(dir)
        .resources.map((r) => r.name)
        .sort(),
    ).toEqual(['mixed', 'upper']);
  });

  it('a value quoted in a diagnostic is a short excerpt with control characters escaped', () => {
    // Why: diagnostics reach terminals, logs and the status page: no escape sequences, no 2 MB lines.
    const { dir } = tree();
    const nasty = `\u001b[31m${'A'.repeat(5000)}`;
    writeFileSync(
      join(dir, 'n.yaml'),
      `kind: mem.Thing\nname: a\nspec:\n  size: "${nasty.replace('\u001b', '\\e')}"\n`,
    );
    const line = load(dir).lines.join('\n');
    expect(line).not.toContain('\u001b');
    expect(line).toContain('\\u001b[31mAAAA');
    expect(line.length).toBeLessThan(300);
  });
});

describe('resources that would fight over one thing', () => {
  it('two cloudflare.WorkerCron for one script are refused at validate, naming the first', async () => {
    // Why: Cloudflare keeps one schedule list per script; two resources would overwrite each other forever.
    const { cloudflareModule } = await import('../../providers/cloudflare/index.ts');
    const { ProviderRegistry } = await import('../providers/registry.ts');
    const { dir } = tree();
    const cron = (name: string, schedule: string) =>
      `kind: cloudflare.WorkerCron\nname: ${name}\nspec:\n  script: guesty-webhook\n  schedules: ["${schedule}"]\n`;
    writeFileSync(join(dir, 'a.yaml'), cron('heartbeat', '*/30 * * * *'));
    writeFileSync(join(dir, 'b.yaml'), cron('nightly', '0 3 * * *'));
    const loaded = loadDesiredState(dir, new ProviderRegistry([cloudflareModule]));
    expect(loaded.diagnostics.map((d) => formatDiagnostic(d).split('\n')[0])).toEqual([
      'b.yaml:4:11: error[invalid-value] spec.script: cloudflare.WorkerCron/heartbeat (a.yaml:1) already has this script',
    ]);
    expect(loaded.diagnostics[0]?.hint).toMatch(/one list of cron triggers per script/);
  });
});

describe('a Worker source folder named in Git', () => {
  it.each([
    ['an absolute path (/etc)', '/etc', 'source "/etc" is an absolute path'],
    ['a path out of the checkout', '../../../etc', 'source "../../../etc" is outside the checkout'],
    ['a folder that is not there', 'workers/nope', 'source folder "workers/nope" does not exist in the repository'],
  ])(
    'is an error at validate with file:line when it is %s, and nothing there is read',
    async (_why, source, message) => {
      const { cloudflareModule } = await import('../../providers/cloudflare/index.ts');
      const { ProviderRegistry } = await import('../providers/registry.ts');
      const { dir } = tree();
      writeFileSync(
        join(dir, 'w.yaml'),
        `kind: cloudflare.WorkerScript\nname: w\nspec:\n  source: ${source}\n  compatibilityDate: "2025-01-01"\n`,
      );
      const loaded = loadDesiredState(dir, new ProviderRegistry([cloudflareModule]));
      const first = loaded.diagnostics.map((d) => formatDiagnostic(d).split('\n')[0] ?? '');
      expect(first).toHaveLength(1);
      expect(
        first[0]?.startsWith(`w.yaml:1: error[invalid-value] spec.source: cloudflare.WorkerScript/w: ${message}`),
      ).toBe(true);
      expect(loaded.resources).toEqual([]);
    },
  );
});
