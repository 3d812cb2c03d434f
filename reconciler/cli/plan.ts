import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { runPass } from '../engine/pass.ts';
import { envSecretSource } from '../engine/secrets.ts';
import { renderApply, renderPlan } from '../render/human.ts';
import { planToJson } from '../render/json.ts';
import { FileStateStore } from '../state/file-store.ts';
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
  });
  const dir = positionals[0];
  const log = await cliLogger();
  const store = new FileStateStore(
    resolve((values.state as string | undefined) ?? process.env.KEELSON_STATE_PATH ?? '.keelson/state.json'),
  );
  // Providers the tree uses, and those the state remembers (what left Git is still pruned).
  const state = await store.load();
  const remembered = [...Object.keys(state.applied), ...Object.keys(state.inventory), ...Object.keys(state.journal)];
  const also = new Set(remembered.map((key) => key.slice(0, key.indexOf('.'))));
  const { reg, loaded } = await loadTree(dir, values.root as string | undefined, { also, create: { log } });
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
    store,
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
