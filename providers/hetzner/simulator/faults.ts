/** One injected fault; it applies to the next `times` matching requests (default 1). */
export type FaultRule =
  | {
      readonly type: 'status';
      readonly status: 500 | 502 | 503 | 504;
      readonly match?: FaultMatch;
      readonly times?: number;
    }
  | { readonly type: 'delay'; readonly ms: number; readonly match?: FaultMatch; readonly times?: number }
  /** The connection is closed before the request is handled: nothing happened. */
  | { readonly type: 'drop'; readonly match?: FaultMatch; readonly times?: number }
  /** A lost answer: the request is handled (the work is done), then the connection is closed unanswered. */
  | { readonly type: 'drop-after'; readonly match?: FaultMatch; readonly times?: number }
  /** The next action with this command (e.g. `create_server`) ends in `error` with this message. */
  | { readonly type: 'fail-action'; readonly command: string; readonly message?: string; readonly times?: number };

export interface FaultMatch {
  readonly method?: string;
  /** Matches the path without query, e.g. `/v1/servers` or a RegExp. */
  readonly path?: string | RegExp;
}

interface ActiveFault {
  readonly rule: FaultRule;
  left: number;
}

/** Fault injection for the simulator: 5xx answers, slow answers, dropped connections, failing actions. */
export class FaultInjector {
  readonly #faults: ActiveFault[] = [];

  inject(rule: FaultRule): void {
    this.#faults.push({ rule, left: rule.times ?? 1 });
  }

  clear(): void {
    this.#faults.length = 0;
  }

  /** The request fault to apply to this request, consuming it. */
  takeRequestFault(method: string, path: string): Exclude<FaultRule, { type: 'fail-action' }> | undefined {
    for (const f of this.#faults) {
      const r = f.rule;
      if (r.type === 'fail-action' || f.left <= 0) continue;
      if (!matches(r.match, method, path)) continue;
      f.left--;
      return r;
    }
    return undefined;
  }

  /** The failure message for an action with this command, consuming the fault. */
  takeActionFailure(command: string): string | undefined {
    for (const f of this.#faults) {
      const r = f.rule;
      if (r.type !== 'fail-action' || f.left <= 0 || r.command !== command) continue;
      f.left--;
      return r.message ?? `${command} failed: injected fault`;
    }
    return undefined;
  }
}

function matches(match: FaultMatch | undefined, method: string, path: string): boolean {
  if (!match) return true;
  if (match.method && match.method.toUpperCase() !== method) return false;
  if (match.path === undefined) return true;
  return typeof match.path === 'string' ? match.path === path : match.path.test(path);
}
