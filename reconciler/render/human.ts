import type { FieldChange } from '../../providers/sdk/index.ts';
import type { PassResult } from '../engine/pass.ts';
import type { Plan, ResourceChange } from '../plan/types.ts';
import { displayField } from './redact.ts';

export interface RenderOptions {
  /** ANSI colours (on when writing to a TTY). */
  readonly color: boolean;
  /** Show unchanged resources too. Default false. */
  readonly verbose?: boolean;
}

const SYMBOL: Record<ResourceChange['action'], string> = {
  create: '+',
  update: '~',
  replace: '-/+',
  delete: '-',
  'no-op': ' ',
  skip: '!',
};

const COLOR: Record<ResourceChange['action'], string> = {
  create: '32',
  update: '33',
  replace: '35',
  delete: '31',
  'no-op': '2',
  skip: '36',
};

const VERB: Record<ResourceChange['action'], string> = {
  create: 'will be created',
  update: 'will be updated in place',
  replace: 'must be replaced',
  delete: 'will be deleted',
  'no-op': 'is up to date',
  skip: 'is skipped',
};

/** A Terraform-like human diff. Sensitive values are `(sensitive)`. */
export function renderPlan(plan: Plan, options: RenderOptions): string {
  const c = (code: string, text: string): string => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const lines: string[] = [];
  if (plan.drift.length > 0) {
    lines.push(c('1', 'Drift: live state changed outside keelson'), '');
    for (const d of plan.drift) {
      lines.push(
        `  ${c('33', '~')} ${d.key} ${d.type === 'missing' ? 'was deleted outside keelson' : 'was changed outside keelson'} (policy ${d.policy})`,
      );
      lines.push(...fieldLines(d.fields, c));
      lines.push('');
    }
  }
  // Resources of a provider that cannot be reached are summed up per provider, not listed one by one.
  const unreachable = new Map<string, { count: number; detail: string }>();
  for (const ch of plan.changes) {
    if (ch.reason !== 'provider-unavailable' || options.verbose) continue;
    const seen = unreachable.get(ch.provider);
    unreachable.set(ch.provider, { count: (seen?.count ?? 0) + 1, detail: seen?.detail ?? ch.detail ?? '' });
  }
  const shown = plan.changes.filter(
    (ch) => (options.verbose || ch.action !== 'no-op') && (options.verbose || ch.reason !== 'provider-unavailable'),
  );
  if (shown.length === 0) {
    lines.push(
      unreachable.size === 0
        ? c('32', 'No changes. Live state matches the desired state.')
        : c('33', 'No changes for the providers that could be read.'),
      '',
    );
  } else {
    lines.push(c('1', `keelson will perform these actions (revision ${plan.revision}):`), '');
    for (const ch of shown) {
      const why = ch.action === 'skip' ? ` (${ch.reason})` : ch.cause === 'drift' ? ' (heals drift)' : '';
      lines.push(c('2', `  # ${ch.key} ${VERB[ch.action]}${why}`));
      if (ch.detail) lines.push(c('2', `  # ${ch.detail}`));
      if (ch.action === 'replace') lines.push(c('2', `  # ${replaceOrderLine(ch)}`));
      const symbol = ch.action === 'replace' && ch.replaceOrder === 'create-first' ? '+/-' : SYMBOL[ch.action];
      lines.push(`  ${c(COLOR[ch.action], symbol)} ${ch.key}`);
      if (ch.action !== 'delete' && ch.action !== 'no-op')
        lines.push(...fieldLines(ch.fields, c, ch.action === 'create'));
      lines.push('');
    }
  }
  for (const [provider, { count, detail }] of unreachable) {
    lines.push(c('36', `  ! ${count} ${provider} resource${count === 1 ? '' : 's'} skipped: ${detail}`), '');
  }
  const s = plan.summary;
  lines.push(
    `${c('1', 'Plan:')} ${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete, ${s.noop} unchanged, ${s.skip} skipped.`,
  );
  if (plan.refused) lines.push('', c('31', `Refused: ${plan.refused.message}`));
  return `${lines.join('\n')}\n`;
}

/** How a replacement goes, as Terraform says it: `-/+` deletes first, `+/-` creates first. */
export function replaceOrderLine(ch: Pick<ResourceChange, 'replaceOrder' | 'replaceWhy'>): string {
  const how =
    ch.replaceOrder === 'create-first'
      ? 'create the new one first, then delete the old one'
      : 'delete the old one first, then create the new one';
  return ch.replaceWhy ? `${how}: ${ch.replaceWhy}` : how;
}

function fieldLines(fields: readonly FieldChange[], c: (code: string, t: string) => string, create = false): string[] {
  return fields.map((f) => {
    const shown = displayField(f);
    const mark = f.forcesReplacement ? c('31', ' # forces replacement') : '';
    if (create || f.before === undefined) return `      ${c('32', '+')} ${f.path} = ${format(shown.after)}${mark}`;
    if (f.after === undefined) return `      ${c('31', '-')} ${f.path} = ${format(shown.before)}${mark}`;
    return `      ${c('33', '~')} ${f.path}: ${format(shown.before)} -> ${format(shown.after)}${mark}`;
  });
}

function format(value: unknown): string {
  if (typeof value === 'string') return value.startsWith('(') && value.endsWith(')') ? value : JSON.stringify(value);
  const json = JSON.stringify(value);
  return json === undefined ? 'null' : json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

/** The outcome of an apply, one line per change that did something, then the errors. */
export function renderApply(result: PassResult, options: RenderOptions): string {
  const c = (code: string, text: string): string => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const lines: string[] = [];
  const applied = result.results.filter((r) => r.status === 'applied').length;
  const failed = result.results.filter((r) => r.status === 'failed').length;
  for (const e of result.errors) {
    lines.push(`${e.severity === 'error' ? c('31', 'error') : c('33', 'warning')}[${e.code}] ${e.message}`);
  }
  lines.push(
    c(
      failed ? '31' : '32',
      `Apply ${failed ? 'finished with failures' : 'complete'}: ${applied} applied, ${failed} failed, ${result.results.length - applied - failed} skipped (revision ${result.revision}, ${result.durationMs} ms).`,
    ),
  );
  return `${lines.join('\n')}\n`;
}
