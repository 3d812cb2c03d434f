import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { canonicalJson, ERRORS } from '../../providers/sdk/index.ts';
import { runPass } from '../engine/pass.ts';
import { envSecretSource } from '../engine/secrets.ts';
import { planDigest } from '../plan/plan-digest.ts';
import type { Plan } from '../plan/types.ts';
import { renderApply, renderPlan } from '../render/human.ts';
import { planToJson } from '../render/json.ts';
import { FileStateStore } from '../state/file-store.ts';
import { installationKey } from '../state/installation-key.ts';
import { cliLogger, loadTree, parse, printDiagnostics, UsageError } from './common.ts';

/** `keelson plan` and `keelson apply` (loaded only for them: `validate` starts without the engine). */
export async function planCommand(args: readonly string[], mode: 'plan' | 'apply'): Promise<number> {
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
    out: { type: 'string' },
  });
  // `keelson apply plan.json`: a plan saved by `keelson plan DIR --out plan.json`.
  const saved = mode === 'apply' ? readSavedPlan(positionals[0]) : undefined;
  const dir = saved?.dir ?? positionals[0];
  if (values.out !== undefined && mode !== 'plan') throw new UsageError('--out is for keelson plan');
  const log = await cliLogger();
  const statePath = resolve(
    saved?.state ?? (values.state as string | undefined) ?? process.env.KEELSON_STATE_PATH ?? '.keelson/state.json',
  );
  const store = new FileStateStore(statePath);
  // Providers the tree uses, and those the state remembers (what left Git is still pruned).
  const state = await store.load();
  const remembered = [...Object.keys(state.applied), ...Object.keys(state.inventory), ...Object.keys(state.journal)];
  const also = new Set(remembered.map((key) => key.slice(0, key.indexOf('.'))));
  const root = saved ? saved.root : (values.root as string | undefined);
  const { reg, loaded } = await loadTree(dir, root, { also, create: { log } });
  const color = useColor(values);
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
  const deletionBudget = saved ? saved.deletionBudget : budgetText === undefined ? undefined : Number(budgetText);
  if (deletionBudget !== undefined && !(Number.isInteger(deletionBudget) && deletionBudget >= 0)) {
    throw new UsageError(`--deletion-budget takes a whole number, got "${budgetText}"`);
  }

  const common = {
    resources: loaded.resources,
    revision: revisionOf(dir as string),
    registry: reg,
    store,
    owner: saved?.owner ?? (values.owner as string | undefined) ?? process.env.KEELSON_OWNER ?? 'keelson',
    deletionBudget,
    secrets: envSecretSource(
      process.env,
      (values['secrets-dir'] as string | undefined) ?? process.env.KEELSON_SECRETS_DIR,
    ),
    log,
  };
  const key = installationKey(statePath, process.env);
  const tree = treeDigest(loaded.resources);
  if (saved) return applySaved(saved, { tree, key, common, json: values.json === true, color: useColor(values) });
  const planned = await runPass({ ...common, mode: 'plan' });
  if (values.out !== undefined) {
    const file: SavedPlan = {
      format_version: '1.0',
      kind: 'keelson-saved-plan',
      dir: resolve(dir as string),
      ...(root ? { root: resolve(root) } : {}),
      revision: common.revision,
      tree,
      digest: planDigest(planned.plan, key),
      state: statePath,
      owner: common.owner,
      ...(deletionBudget === undefined ? {} : { deletionBudget }),
      plan: planToJson(planned.plan, { errors: planned.errors }),
    };
    writeFileSync(values.out as string, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    process.stderr.write(`Saved the plan to ${values.out}: apply exactly it with "keelson apply ${values.out}".\n`);
  }
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
  // Apply the plan that was shown: if observing again gives another plan, nothing is applied.
  const shown = planDigest(planned.plan, key);
  const applied = await runPass({
    ...common,
    mode: 'apply',
    expectedPlan: { matches: (plan: Plan) => planDigest(plan, key) === shown },
    onProgress: printProgress,
  });
  if (values.json)
    process.stdout.write(`${JSON.stringify(planToJson(applied.plan, { errors: applied.errors }), null, 2)}\n`);
  else process.stdout.write(renderApply(applied, { color }));
  if (applied.plan.refused?.code === 'PLAN_STALE') process.stderr.write(`keelson: ${applied.plan.refused.message}\n`);
  return applied.outcome === 'failed' || applied.outcome === 'refused' ? 1 : 0;
}

/** Each change as it starts and ends, on stderr. */
function printProgress(e: Parameters<NonNullable<Parameters<typeof runPass>[0]['onProgress']>>[0]): void {
  if (e.type === 'start') process.stderr.write(`  ${e.change.action} ${e.change.key} ...\n`);
  else
    process.stderr.write(
      `  ${e.result.status} ${e.change.action} ${e.change.key} (${e.result.durationMs} ms)${e.result.error ? `: ${e.result.error.message}` : ''}\n`,
    );
}

/** What `keelson plan DIR --out FILE` writes. */
interface SavedPlan {
  readonly format_version: '1.0';
  readonly kind: 'keelson-saved-plan';
  /** The desired-state directory and repository root the plan was made from. */
  readonly dir: string;
  readonly root?: string;
  readonly revision: string;
  /** Digest of the loaded desired state (every resource as loaded). */
  readonly tree: string;
  /** Keyed digest of the plan (planDigest). */
  readonly digest: string;
  readonly state: string;
  readonly owner: string;
  readonly deletionBudget?: number;
  /** The plan as `keelson plan --json` shows it, for people and tools. */
  readonly plan: unknown;
}

function readSavedPlan(path: string | undefined): SavedPlan | undefined {
  if (!path?.endsWith('.json')) return undefined;
  try {
    if (!statSync(path).isFile()) return undefined;
  } catch {
    return undefined;
  }
  let data: Partial<SavedPlan>;
  try {
    data = JSON.parse(readFileSync(path, 'utf8')) as Partial<SavedPlan>;
  } catch (error) {
    throw new UsageError(`${path} is not a saved plan: ${(error as Error).message}`);
  }
  if (data.kind !== 'keelson-saved-plan' || typeof data.dir !== 'string' || typeof data.digest !== 'string') {
    throw new UsageError(`${path} is not a saved plan (make one with "keelson plan DIR --out ${path}")`);
  }
  return data as SavedPlan;
}

/** Every resource as loaded, as one digest: any change to the desired state changes it. */
function treeDigest(resources: readonly unknown[]): string {
  return createHash('sha256').update(canonicalJson(resources)).digest('hex');
}

function useColor(values: Record<string, unknown>): boolean {
  return process.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR;
}

/**
 * `keelson apply plan.json`: refuses (exit 1, saying why) when the desired state or the observed
 * state of any resource in the plan changed since the plan was saved; otherwise applies it.
 */
async function applySaved(
  saved: SavedPlan,
  o: {
    tree: string;
    key: Buffer;
    common: Omit<Parameters<typeof runPass>[0], 'mode'>;
    json: boolean;
    color: boolean;
  },
): Promise<number> {
  if (o.tree !== saved.tree) {
    process.stderr.write(
      `keelson: ${ERRORS.PLAN_STALE.message(`the desired state in ${saved.dir} changed (revision ${saved.revision} when the plan was saved, ${o.common.revision} now)`)}\n`,
    );
    return 1;
  }
  const applied = await runPass({
    ...o.common,
    mode: 'apply',
    expectedPlan: { matches: (plan: Plan) => planDigest(plan, o.key) === saved.digest },
    onProgress: printProgress,
  });
  if (o.json)
    process.stdout.write(`${JSON.stringify(planToJson(applied.plan, { errors: applied.errors }), null, 2)}\n`);
  else process.stdout.write(renderApply(applied, { color: o.color }));
  if (applied.plan.refused) process.stderr.write(`keelson: ${applied.plan.refused.message}\n`);
  return applied.outcome === 'failed' || applied.outcome === 'refused' ? 1 : 0;
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
