import { createHmac } from 'node:crypto';
import { canonicalJson } from '../../providers/sdk/index.ts';
import type { Plan } from './types.ts';

/**
 * What makes two plans the same plan: every change with its action (a replacement's order too) and fields (live value before,
 * Git value after; secrets by digest) and the refusal. Keyed with the installation's key, so a
 * saved plan's digest tells nothing about a secret value in it (a short secret cannot be guessed
 * from it).
 */
export function planDigest(plan: Plan, key: Buffer): string {
  const shape = {
    changes: plan.changes.map((c) => ({
      key: c.key,
      action: c.action,
      reason: c.reason,
      replaceOrder: c.replaceOrder,
      fields: c.fields.map((f) => ({ path: f.path, before: f.before, after: f.after })),
    })),
    refused: plan.refused?.code,
  };
  return createHmac('sha256', key).update(canonicalJson(shape)).digest('hex');
}
