/**
 * Start-up of the command line: `keelson validate` of the company tree (desired-state/), of its
 * Swarm-only part, and of a generated 1,000-resource tree, as wall time and peak RSS, each also as
 * a ratio to a bare `node -e 0` (medians of several runs). The first run of each starts with empty
 * caches (Node's compile cache of the type-stripped sources, keelson's Worker build cache): it is
 * printed apart as "cold". Goal (ARCHITECTURE §10): at most 8 times a bare Node start.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const RUNS = 7;

interface Sample {
  readonly ms: number;
  readonly rssMb: number | undefined;
}

function once(args: readonly string[], env: Record<string, string>): Sample {
  const command = TIME ? [TIME, '-f', '%M', process.execPath, ...args] : [process.execPath, ...args];
  const t = performance.now();
  const r = spawnSync(command[0] as string, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-400)}`);
  const kb = TIME ? Number(r.stderr.trim().split('\n').at(-1)) : Number.NaN;
  return { ms, rssMb: Number.isFinite(kb) ? kb / 1024 : undefined };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

function measure(args: readonly string[]): { cold: Sample; ms: number; rssMb: number | undefined } {
  const caches = mkdtempSync(join(tmpdir(), 'keelson-startup-'));
  const env = { NODE_COMPILE_CACHE: join(caches, 'node'), KEELSON_BUILD_CACHE: join(caches, 'build') };
  try {
    const cold = once(args, env);
    const warm = Array.from({ length: RUNS }, () => once(args, env));
    const rss = warm.map((w) => w.rssMb).filter((x): x is number => x !== undefined);
    return { cold, ms: median(warm.map((w) => w.ms)), rssMb: rss.length ? median(rss) : undefined };
  } finally {
    rmSync(caches, { recursive: true, force: true });
  }
}

/** 1,000 resources over two providers, in 20 files: 500 DNS records, 500 placement groups. */
function generatedTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-startup-tree-'));
  mkdirSync(join(dir, '.git'));
  for (let f = 0; f < 20; f++) {
    const docs: string[] = [];
    for (let i = 0; i < 50; i++) {
      const n = f * 50 + i;
      docs.push(
        n % 2 === 0
          ? `kind: cloudflare.DnsRecord\nname: r${n}\nspec:\n  zone: example.com\n  name: r${n}\n  type: A\n  content: 192.0.2.${n % 250}\n  ttl: 300\n`
          : `kind: hetzner.PlacementGroup\nname: g${n}\nspec:\n  labels: { team: t${n % 7} }\n`,
      );
    }
    writeFileSync(join(dir, `part-${f}.yaml`), docs.join('---\n'));
  }
  return dir;
}

export async function run(): Promise<void> {
  const bare = measure(['-e', '0']);
  const tree = generatedTree();
  const cases: [string, string[]][] = [
    ['keelson validate desired-state', ['bin/keelson.js', 'validate', 'desired-state']],
    ['keelson validate desired-state/swarm (Swarm only)', ['bin/keelson.js', 'validate', 'desired-state/swarm']],
    ['keelson validate (generated, 1,000 resources)', ['bin/keelson.js', 'validate', tree]],
  ];
  const fmt = (x: number | undefined, unit: string): string => (x === undefined ? 'n/a' : `${x.toFixed(0)} ${unit}`);
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(1)}×`;
  console.log(`median of ${RUNS} warm runs (cold = first run, empty caches)`);
  console.log(
    `${'what'.padEnd(52)} ${'wall'.padStart(8)} ${'× bare'.padStart(7)} ${'RSS'.padStart(8)} ${'× bare'.padStart(7)} ${'cold'.padStart(8)}`,
  );
  const line = (name: string, m: ReturnType<typeof measure>): void =>
    console.log(
      `${name.padEnd(52)} ${fmt(m.ms, 'ms').padStart(8)} ${ratio(m.ms, bare.ms).padStart(7)} ${fmt(m.rssMb, 'MB').padStart(8)} ${ratio(m.rssMb, bare.rssMb).padStart(7)} ${fmt(m.cold.ms, 'ms').padStart(8)}`,
    );
  line('node -e 0', bare);
  try {
    for (const [name, args] of cases) line(name, measure(args));
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

if (import.meta.main) await run();
